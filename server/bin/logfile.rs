//! One structured log file per server: a `tracing` layer that routes each event to the file
//! of the `server{name}` span it happened in, as one JSON object per line: a trace event as
//! `server::events::log_line` lays it out (read back by `server::events::read_log`), any other
//! event as its message and fields.
//!
//! Binary-only (it reads the wall clock for timestamps); the simulation records the same
//! events with its own layer and simulated time.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::logrotate::{RotatingFile, Rotation};
use crate::logwriter::{LogWriter, WriterGuard};

pub struct PerServerFiles {
    writers: BTreeMap<String, LogWriter>,
}

impl PerServerFiles {
    /// Opens `DIR/NAME.log` for every name, rotated as `rotation` says; keep the guards alive
    /// until exit so lines are flushed.
    pub fn open(
        dir: &Path,
        names: &[String],
        rotation: Rotation,
    ) -> std::io::Result<(Self, Vec<WriterGuard>)> {
        std::fs::create_dir_all(dir)?;
        let mut writers = BTreeMap::new();
        let mut guards = Vec::new();
        for name in names {
            let file = RotatingFile::open(dir, name, rotation)?;
            // Lossless and bounded (see `logwriter`): the log is the trace.
            let (writer, guard) = LogWriter::start(name, file)?;
            writers.insert(name.clone(), writer);
            guards.push(guard);
        }
        Ok((PerServerFiles { writers }, guards))
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for PerServerFiles {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        server::span::on_new_span(attrs, id, &ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        server::span::with_server_of(event, &ctx, |server| {
            let Some(writer) = self.writers.get(server) else {
                return;
            };
            let level = event.metadata().level().as_str();
            // Every line is built in this thread's buffers, reused from line to line.
            SCRATCH.with(|scratch| {
                let fresh = &mut Scratch::default();
                let mut borrowed = scratch.try_borrow_mut();
                let scratch = borrowed.as_deref_mut().unwrap_or(fresh);
                scratch.clock.write(&mut scratch.ts, since_epoch_now());
                scratch.json.clear();
                event.record(&mut TypedJson(&mut scratch.json));
                scratch.line.clear();
                // A typed event carries its JSON in one field: splice it into the line, no map.
                let typed = !scratch.json.is_empty()
                    && server::events::write_log_line(
                        &mut scratch.line,
                        &scratch.ts,
                        level,
                        server,
                        &scratch.json,
                    )
                    .is_some();
                if !typed {
                    let mut fields = JsonFields::default();
                    event.record(&mut fields);
                    let mut object = serde_json::Map::new();
                    object.insert("ts".into(), scratch.ts.as_str().into());
                    object.insert("level".into(), level.into());
                    object.insert("server".into(), server.into());
                    object.extend(fields.0);
                    scratch.line = serde_json::Value::Object(object).to_string();
                }
                scratch.line.push('\n');
                writer.append(scratch.line.as_bytes());
            });
        });
    }
}

/// A thread's buffers for building log lines.
#[derive(Default)]
struct Scratch {
    clock: LogClock,
    ts: String,
    json: String,
    line: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The wall clock as the log's `ts`. The date and time of day change once a second, so they
/// are formatted once a second and only the microseconds for every line (the calendar
/// arithmetic cost more than the rest of a line's head).
#[derive(Default)]
struct LogClock {
    /// The second `ts` holds the text of, and the length of that text up to its `.`.
    second: Option<(u64, usize)>,
}

impl LogClock {
    /// Sets `ts` to the text of `now` (time since the Unix epoch).
    fn write(&mut self, ts: &mut String, now: std::time::Duration) {
        match self.second {
            Some((second, prefix)) if second == now.as_secs() => {
                ts.truncate(prefix);
                server::log_time::write_fraction(ts, now);
            }
            _ => {
                ts.clear();
                server::log_time::write(ts, now);
                self.second = ts.find('.').map(|dot| (now.as_secs(), dot));
            }
        }
    }
}

/// Takes the typed event's JSON field, formatted once into the buffer, and nothing else.
struct TypedJson<'a>(&'a mut String);

impl Visit for TypedJson<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == server::events::JSON_FIELD {
            use std::fmt::Write as _;
            self.0.clear();
            let _ = write!(self.0, "{value:?}");
        }
    }
}

/// A free-form diagnostic's fields (events that are not part of the trace).
#[derive(Default)]
struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// Wall-clock time since the Unix epoch, for the log's `ts` (`2026-11-26T05:39:38.123456Z`).
fn since_epoch_now() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_log_clock_writes_what_log_time_formats_across_seconds() {
        let mut clock = LogClock::default();
        let mut ts = String::new();
        let start = Duration::from_micros(1_795_671_578_999_998);
        for step in [
            0,
            1,
            2,
            3,
            1_000_000,
            1_000_001,
            86_400_000_000,
            86_400_000_000,
        ] {
            let now = start + Duration::from_micros(step);
            clock.write(&mut ts, now);
            assert_eq!(ts, server::log_time::format(now));
        }
        // Back in time (the wall clock was set back): still the right text.
        clock.write(&mut ts, start);
        assert_eq!(ts, server::log_time::format(start));
    }
}
