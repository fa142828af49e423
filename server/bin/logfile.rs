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

use crate::logwriter::{LogWriter, WriterGuard};

pub struct PerServerFiles {
    writers: BTreeMap<String, LogWriter>,
}

impl PerServerFiles {
    /// Opens `DIR/NAME.log` for every name; keep the guards alive until exit so lines are flushed.
    pub fn open(dir: &Path, names: &[String]) -> std::io::Result<(Self, Vec<WriterGuard>)> {
        std::fs::create_dir_all(dir)?;
        let mut writers = BTreeMap::new();
        let mut guards = Vec::new();
        for name in names {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{name}.log")))?;
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
                scratch.ts.clear();
                server::log_time::write(&mut scratch.ts, since_epoch_now());
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
                    scratch.line.clear();
                    let _ = serde_json::to_writer(&mut scratch.line, &object);
                }
                scratch.line.push(b'\n');
                writer.append(&scratch.line);
            });
        });
    }
}

/// A thread's buffers for building log lines.
#[derive(Default)]
struct Scratch {
    ts: String,
    json: String,
    line: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
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
