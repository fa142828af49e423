//! Which server an event belongs to: every task of a server runs inside a `server{name}` span
//! (see [`crate::run`]); `tracing` layers that sort events by server use these two helpers.
//! The binary's per-server log files and the simulation's trace recorder both do.

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The name of the span that marks a server's tasks.
pub const SERVER_SPAN: &str = "server";

/// The server name, kept in the span's extensions when the span is created.
struct ServerName(String);

/// Call from `Layer::on_new_span`: remembers the name of a `server` span.
pub fn on_new_span<S>(
    attrs: &tracing::span::Attributes<'_>,
    id: &tracing::span::Id,
    ctx: &Context<'_, S>,
) where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if attrs.metadata().name() != SERVER_SPAN {
        return;
    }
    let mut name = NameField(None);
    attrs.record(&mut name);
    if let (Some(span), Some(name)) = (ctx.span(id), name.0) {
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
    for span in ctx.event_scope(event)?.from_root() {
        if let Some(name) = span.extensions().get::<ServerName>() {
            return Some(f(&name.0));
        }
    }
    None
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
