//! Records the trace: the server's own `tracing` events, each written as the binary's log line
//! and read back to a typed event ([`read::through_log_line`]), stamped with simulated time and
//! the server they happened in, plus the harness's events, in one list in the order they
//! happened.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::events::{Event, JSON_FIELD};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::trace::{Trace, TraceEvent, read};

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
    /// Real mode: time is real, since this instant.
    started: Option<std::time::Instant>,
    /// Set once the run is over and the servers are being stopped: from then on events are
    /// not part of the trace; only each server's `table_record`s are kept, and its `metrics`
    /// scrape goes at the end of the trace.
    closing: bool,
    /// Server -> the AT lines it reported holding as it stopped.
    tables: BTreeMap<String, Vec<String>>,
    /// The first server event that did not read, with where it was: the trace is then
    /// incomplete, which the run reports as a failure of the system, never skips.
    unreadable: Option<(Duration, String)>,
}

impl Recorder {
    /// Appends an event. Hosts' clocks can trail the driver's by a tick, so times are clamped
    /// to never run backwards: the trace stays in recording order and time order at once. The
    /// host's own wall clock, unclamped, is kept with the event ([`TraceEvent::wall_clock`]).
    pub fn push(&self, mut event: TraceEvent) {
        if event.wall_clock.is_none() {
            event.wall_clock = turmoil::since_epoch();
        }
        if let Ok(mut inner) = self.inner.lock() {
            if inner.closing {
                match event.server_event() {
                    Some(Event::TableRecord { record }) => {
                        let line = record.to_string();
                        inner.tables.entry(event.host).or_default().push(line);
                    }
                    // The scrape a stopping server logs ends its story in the trace.
                    Some(Event::Metrics { .. }) => {
                        if let Some(last) = inner.trace.events.last() {
                            event.at = event.at.max(last.at);
                        }
                        inner.trace.push(event);
                    }
                    _ => {}
                }
                return;
            }
            if let Some(last) = inner.trace.events.last() {
                event.at = event.at.max(last.at);
            }
            inner.trace.push(event);
        }
    }

    /// A server event that did not read: kept (the first one) with its position.
    fn unreadable(&self, host: &str, error: String) {
        let at = self.now();
        if let Ok(mut inner) = self.inner.lock()
            && inner.unreadable.is_none()
        {
            let index = inner.trace.events.len();
            let message = format!("trace event {index} from {host} does not read: {error}");
            inner.unreadable = Some((at, message));
        }
    }

    /// The first server event that did not read, if any: when, and what went wrong where.
    pub fn first_unreadable(&self) -> Option<(Duration, String)> {
        self.inner.lock().ok().and_then(|i| i.unreadable.clone())
    }

    /// Real mode: from now on `now` is the real time since `start`.
    pub fn start_real_time(&self, start: std::time::Instant) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.started = Some(start);
        }
    }

    /// Simulated time now: the host's clock inside the simulation, else the driver's; real
    /// time since the start on a [`Recorder::real_time`].
    pub fn now(&self) -> Duration {
        turmoil::sim_elapsed().unwrap_or_else(|| {
            self.inner
                .lock()
                .map(|i| i.started.map_or(i.driver_now, |s| s.elapsed()))
                .unwrap_or_default()
        })
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

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let Some(host) = server::span::server_of(event, &ctx) else {
            return;
        };
        let mut json = JsonField(None);
        event.record(&mut json);
        // Only trace events carry the field; other server diagnostics are not the trace.
        let Some(json) = json.0 else {
            return;
        };
        let wall_clock = turmoil::since_epoch().unwrap_or_default();
        let level = event.metadata().level().as_str();
        match read::through_log_line(wall_clock, level, &host, &json) {
            Ok(mut read) => {
                read.at = self.recorder.now();
                read.wall_clock = Some(wall_clock);
                self.recorder.push(read)
            }
            Err(error) => self.recorder.unreadable(&host, error),
        }
    }
}

/// Takes the event's JSON field.
struct JsonField(Option<String>);

impl Visit for JsonField {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == JSON_FIELD {
            self.0 = Some(format!("{value:?}"));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == JSON_FIELD {
            self.0 = Some(value.to_string());
        }
    }
}
