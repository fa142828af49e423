//! Records the trace: the server's own `tracing` events, stamped with simulated time and the
//! server they happened in, plus the harness's events, in one list in the order they happened.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::trace::{Trace, TraceEvent};

/// A shared handle to the trace being recorded. Cloned into the layer, the driver and the
/// Places stub; everything runs on the simulation's one thread, the mutex only satisfies `Sync`.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    trace: Trace,
    /// The driver's view of simulated time, for events recorded outside any host.
    driver_now: Duration,
    /// Set once the run is over and the servers are being stopped: from then on events are
    /// not part of the trace; only each server's `table_record`s are kept.
    closing: bool,
    /// Server -> the AT lines it reported holding as it stopped.
    tables: BTreeMap<String, Vec<String>>,
}

impl Recorder {
    /// Appends an event. Hosts' clocks can trail the driver's by a tick, so times are clamped
    /// to never run backwards: the trace stays in recording order and time order at once.
    pub fn push(&self, mut event: TraceEvent) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.closing {
                if event.name == server::events::TABLE_RECORD
                    && let Some(line) = event.field("line")
                {
                    let line = line.to_string();
                    inner.tables.entry(event.host).or_default().push(line);
                }
                return;
            }
            if let Some(last) = inner.trace.events.last() {
                event.at = event.at.max(last.at);
            }
            inner.trace.push(event);
        }
    }

    /// Simulated time now: the host's clock inside the simulation, else the driver's.
    pub fn now(&self) -> Duration {
        turmoil::sim_elapsed()
            .unwrap_or_else(|| self.inner.lock().map(|i| i.driver_now).unwrap_or_default())
    }

    pub fn set_driver_now(&self, now: Duration) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.driver_now = now;
        }
    }

    /// The run is over: later events only report the servers' tables.
    pub fn close(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.closing = true;
        }
    }

    /// What each server reported holding as it stopped.
    pub fn tables(&self) -> BTreeMap<String, Vec<String>> {
        self.inner
            .lock()
            .map(|i| i.tables.clone())
            .unwrap_or_default()
    }

    pub fn take(&self) -> Trace {
        self.inner
            .lock()
            .map(|mut i| std::mem::take(&mut i.trace))
            .unwrap_or_default()
    }
}

/// The `tracing` layer: keeps the events from inside a `server` span. The harness installs it
/// behind a filter that lets only the server crate's INFO-and-above events and spans through.
pub struct TraceLayer {
    pub recorder: Recorder,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for TraceLayer {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        server::span::on_new_span(attrs, id, &ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(host) = server::span::server_of(event, &ctx) else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let name = fields.0.remove("message").unwrap_or_default();
        let mut recorded = TraceEvent::new(self.recorder.now(), host, name);
        recorded.fields = fields.0;
        self.recorder.push(recorded);
    }
}

#[derive(Default)]
struct Fields(std::collections::BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}
