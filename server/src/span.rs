//! Which server an event belongs to: every task of a server runs inside a `server{name}` span
//! (see [`crate::run`]); `tracing` layers that sort events by server use these two helpers.
//! The binary's per-server log files and the simulation's trace recorder both do.

use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The name of the span that marks a server's tasks.
pub const SERVER_SPAN: &str = "server";

/// The server a span belongs to, kept in its extensions when it is created: in a `server`
/// span from its `name` field, in any span inside one copied from its parent. So an event
/// finds its server in its own span, with one lookup however deep the spans nest (it runs
/// for every line of every log).
struct ServerName(Arc<str>);

/// Call from `Layer::on_new_span`: remembers which server a span belongs to.
pub fn on_new_span<S>(
    attrs: &tracing::span::Attributes<'_>,
    id: &tracing::span::Id,
    ctx: &Context<'_, S>,
) where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else {
        return;
    };
    let name = if attrs.metadata().name() == SERVER_SPAN {
        let mut name = NameField(None);
        attrs.record(&mut name);
        name.0.map(Arc::from)
    } else {
        span.parent()
            .and_then(|parent| parent.extensions().get::<ServerName>().map(|n| n.0.clone()))
    };
    if let Some(name) = name {
        span.extensions_mut().insert(ServerName(name));
    }
}

/// The server whose span `event` happened in, if any.
pub fn server_of<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    with_server_of(event, ctx, str::to_string)
}

/// Calls `f` with the name of the server whose span `event` happened in, if any, without
/// copying the name: the binary's log writer does this for every line.
pub fn with_server_of<S, R>(
    event: &Event<'_>,
    ctx: &Context<'_, S>,
    f: impl FnOnce(&str) -> R,
) -> Option<R>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.event_span(event)?;
    let extensions = span.extensions();
    let name = extensions.get::<ServerName>()?;
    Some(f(&name.0))
}

/// Reads the `name` field of a span.
struct NameField(Option<String>);

impl Visit for NameField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "name" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "name" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}
