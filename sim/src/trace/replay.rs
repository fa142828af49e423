//! What several readers rebuild from the trace: which records each server held, which
//! servers were down when, each client command paired with its reply, and what a command
//! should get back. Kept at trace level so every checker, metric and diagram reads the trace
//! the same way.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Duration;

use server::events::{Event, Source};
use server::protocol::Record;
use server::store::Outcome;

pub use super::read::at_line;
use super::{SimEvent, Trace, TraceEvent};
use crate::oracle::spec::ClientLine;

/// The record a server now holds: a `record_stored` with outcome `new`.
pub fn stored_new(event: &TraceEvent) -> Option<&Record> {
    match event.server_event()? {
        Event::RecordStored {
            record,
            outcome: Outcome::New,
            ..
        } => Some(record),
        _ => None,
    }
}

/// A record a server stored as new straight from a client's IAMAT: one client update.
pub fn client_update(event: &TraceEvent) -> Option<&Record> {
    match event.server_event()? {
        Event::RecordStored {
            record,
            outcome: Outcome::New,
            source: Source::Client,
        } => Some(record),
        _ => None,
    }
}

/// The identity of an update: origin, client, timestamp, location and time difference (a
/// client may send two updates with one timestamp).
pub type UpdateKey = (String, String, String, String, String);

pub fn update_key(record: &Record) -> UpdateKey {
    (
        record.origin.clone(),
        record.client.clone(),
        record.timestamp.to_string(),
        record.location.to_string(),
        record.time_diff.to_string(),
    )
}

/// Each server's table as the trace says it is: the last `new` record per client, emptied
/// when the server crashes or restarts.
#[derive(Debug, Default, Clone)]
pub struct Tables {
    pub servers: BTreeMap<String, BTreeMap<String, Record>>,
}

impl Tables {
    pub fn held(&self, server: &str, client: &str) -> Option<&Record> {
        self.servers.get(server).and_then(|table| table.get(client))
    }

    pub fn store(&mut self, server: &str, record: Record) {
        self.servers
            .entry(server.to_string())
            .or_default()
            .insert(record.client.clone(), record);
    }

    pub fn clear(&mut self, server: &str) {
        self.servers.remove(server);
    }

    /// A server's table as sorted AT lines.
    pub fn lines(&self, server: &str) -> Vec<String> {
        self.servers
            .get(server)
            .map(|table| table.values().map(ToString::to_string).collect())
            .unwrap_or_default()
    }
}

/// Replays every server's store decisions, in trace order: `decide` gets each
/// `record_stored` event with its record and outcome, and the record the server held for that
/// client just before (a crash or restart empties the server); then a `new` record is held.
/// The one pass the checkers and properties that judge a store decision share. Stops at the
/// first `Break`, and returns its value.
pub fn store_decisions<B>(
    trace: &Trace,
    mut decide: impl FnMut(&TraceEvent, &Record, Outcome, Option<&Record>) -> ControlFlow<B>,
) -> Option<B> {
    let mut tables = Tables::default();
    for event in &trace.events {
        if let Some(server) = memory_lost(event) {
            tables.clear(server);
            continue;
        }
        let Some(Event::RecordStored {
            record, outcome, ..
        }) = event.server_event()
        else {
            continue;
        };
        let held = tables.held(&event.host, &record.client);
        if let ControlFlow::Break(found) = decide(event, record, *outcome, held) {
            return Some(found);
        }
        if *outcome == Outcome::New {
            tables.store(&event.host, record.clone());
        }
    }
    None
}

/// The server named by a harness `crash` or `restart` event (memory is lost at both).
pub fn memory_lost(event: &TraceEvent) -> Option<&str> {
    event.sim_event()?.memory_lost()
}

/// When each server was down: from its crash (or its `store_failed`: a server whose disk
/// failed stops itself) until it listens again after its restart (its
/// first `listening` event after the `restart`; the restart itself if it logs none), or to the
/// end of the run. Commands that hit the gap between a restart and the listener are the
/// restart's, not the server's, fault.
#[derive(Debug, Default)]
pub struct Downtime {
    intervals: BTreeMap<String, Vec<(Duration, Option<Duration>)>>,
}

impl Downtime {
    pub fn from_trace(trace: &Trace) -> Downtime {
        let mut downtime = Downtime::default();
        let mut restarting: BTreeMap<String, usize> = BTreeMap::new();
        for event in &trace.events {
            if let Some(Event::Listening { .. }) = event.server_event()
                && let Some(index) = restarting.remove(&event.host)
                && let Some(interval) = downtime
                    .intervals
                    .get_mut(&event.host)
                    .and_then(|v| v.get_mut(index))
            {
                interval.1 = Some(event.at);
                continue;
            }
            if let Some(Event::StoreFailed { .. }) = event.server_event() {
                // Its disk failed: the server stops itself, down until it is restarted.
                downtime.went_down(&event.host, event.at);
                continue;
            }
            match event.sim_event() {
                Some(SimEvent::Crash { server, .. }) => downtime.went_down(server, event.at),
                Some(SimEvent::Restart { server, .. }) => {
                    if let Some(intervals) = downtime.intervals.get_mut(server)
                        && let Some(last) = intervals.last_mut()
                        && last.1.is_none()
                    {
                        last.1 = Some(event.at);
                        restarting.insert(server.to_string(), intervals.len() - 1);
                    }
                }
                _ => {}
            }
        }
        downtime
    }

    /// `server` went down at `at`, unless it was down already (it stopped itself first).
    fn went_down(&mut self, server: &str, at: Duration) {
        let intervals = self.intervals.entry(server.to_string()).or_default();
        if intervals.last().is_none_or(|(_, up)| up.is_some()) {
            intervals.push((at, None));
        }
    }

    /// Whether `server` was down at any moment of `[from, to]`.
    pub fn down_during(&self, server: &str, from: Duration, to: Duration) -> bool {
        self.intervals.get(server).is_some_and(|intervals| {
            intervals
                .iter()
                .any(|(down, up)| *down <= to && up.is_none_or(|up| up >= from))
        })
    }

    /// Whether `server` is down at the end of the run.
    pub fn down_at_end(&self, server: &str) -> bool {
        self.intervals
            .get(server)
            .and_then(|v| v.last())
            .is_some_and(|(_, up)| up.is_none())
    }
}

/// One client command and what came back, found by the step `id`.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    pub id: u64,
    pub send_index: usize,
    pub send: &'a TraceEvent,
    pub reply: Option<(usize, &'a TraceEvent)>,
    pub error: Option<(usize, &'a TraceEvent)>,
}

impl<'a> Exchange<'a> {
    /// The `client_send` fields: client, server, line, bytes, utf8.
    fn sent(&self) -> (&'a str, &'a str, &'a str, u64, bool) {
        match self.send.sim_event() {
            Some(SimEvent::ClientSend {
                client,
                server,
                line,
                bytes,
                utf8,
                ..
            }) => (client, server, line, *bytes, *utf8),
            _ => ("?", "?", "", 0, true),
        }
    }

    pub fn client(&self) -> &'a str {
        self.sent().0
    }

    pub fn server(&self) -> &'a str {
        self.sent().1
    }

    pub fn line(&self) -> &'a str {
        self.sent().2
    }

    pub fn reply_text(&self) -> Option<&'a str> {
        match self.reply?.1.sim_event()? {
            SimEvent::ClientReply { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn error_text(&self) -> Option<&'a str> {
        match self.error?.1.sim_event()? {
            SimEvent::ClientError { error, .. } => Some(error),
            _ => None,
        }
    }

    /// `step 3 (kiwi -> Clark)`: how violation messages name the command.
    pub fn label(&self) -> String {
        format!("step {} ({} -> {})", self.id, self.client(), self.server())
    }
}

/// Every `client_send` with its first `client_reply` and `client_error` of the same id.
pub fn exchanges(trace: &Trace) -> Vec<Exchange<'_>> {
    let mut out: Vec<Exchange<'_>> = Vec::new();
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        let Some(sim) = event.sim_event() else {
            continue;
        };
        match sim {
            SimEvent::ClientSend { id, .. } => {
                open.insert(*id, out.len());
                out.push(Exchange {
                    id: *id,
                    send_index: index,
                    send: event,
                    reply: None,
                    error: None,
                });
            }
            SimEvent::ClientReply { id, .. } | SimEvent::ClientError { id, .. } => {
                let Some(exchange) = open.get(id).and_then(|&i| out.get_mut(i)) else {
                    continue;
                };
                let slot = if matches!(sim, SimEvent::ClientReply { .. }) {
                    &mut exchange.reply
                } else {
                    &mut exchange.error
                };
                if slot.is_none() {
                    *slot = Some((index, event));
                }
            }
            _ => {}
        }
    }
    out
}

/// The first 256 bytes of an over-long line are what the server echoes (docs/protocol.md §1).
pub const LONG_LINE_ECHO_BYTES: usize = 256;

/// What a client command should get back, per docs/protocol.md (decided by the reference grammar,
/// [`crate::oracle::spec`], never by the server's parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `AT <server> <diff> <client> <location> <timestamp>`, the last three verbatim; or `?`
    /// where a bound of the receiving server refuses it (its clock, its table, its line limit).
    IamAt {
        client: String,
        location: String,
        timestamp: String,
        /// The timestamp in nanoseconds; `None` beyond `i128` (ahead of any clock).
        timestamp_nanos: Option<i128>,
    },
    /// An AT line and Places JSON, or `?` if the server knows nothing of `client`.
    WhatsAt { client: String, bound: usize },
    /// `? ` and the line; `cut`: `Some(true)` the line is over the limit so only its first
    /// 256 bytes come back, `None` unknown (no limit given and the line is long).
    Invalid { cut: Option<bool> },
    /// Lines of the link protocol (AT, PEER, PING, ...) on a client connection: left
    /// unjudged (docs/protocol.md §10: an `AT` line from a classic peer gets no reply).
    Unjudged,
}

/// What the receiving server's configuration adds to docs/protocol.md's grammar: its line limit
/// (when known) and docs/protocol.md §2's bound on client ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineBounds {
    pub line_bytes_max: Option<usize>,
    pub client_id_bytes_max: usize,
    /// docs/protocol.md §2's bounds on the location and timestamp texts.
    pub location_bytes_max: usize,
    pub timestamp_bytes_max: usize,
}

/// Classifies a `client_send` by the reference grammar (anything that is not a client
/// command is [`Expected::Unjudged`]).
pub fn expected(send: &TraceEvent, bounds: LineBounds) -> Expected {
    let Some(SimEvent::ClientSend {
        line, bytes, utf8, ..
    }) = send.sim_event()
    else {
        return Expected::Unjudged;
    };
    let utf8 = *utf8;
    let body_len = if utf8 {
        line.len()
    } else {
        usize::try_from(*bytes).map_or(line.len(), |b| b.saturating_sub(1))
    };
    let cut = match bounds.line_bytes_max {
        Some(max) => Some(body_len > max),
        None if body_len > LONG_LINE_ECHO_BYTES => None,
        None => Some(false),
    };
    if cut == Some(true) || !utf8 {
        return Expected::Invalid { cut };
    }
    match ClientLine::parse(line) {
        ClientLine::IamAt {
            client,
            location_text,
            timestamp_text,
            ..
        } if client.len() > bounds.client_id_bytes_max
            || location_text.len() > bounds.location_bytes_max
            || timestamp_text.len() > bounds.timestamp_bytes_max =>
        {
            Expected::Invalid { cut }
        }
        ClientLine::IamAt {
            client,
            location_text,
            timestamp_text,
            timestamp_nanos,
            ..
        } => Expected::IamAt {
            client,
            location: location_text,
            timestamp: timestamp_text,
            timestamp_nanos,
        },
        ClientLine::WhatsAt { client, bound, .. } => Expected::WhatsAt {
            client,
            bound: bound as usize,
        },
        ClientLine::Link => Expected::Unjudged,
        ClientLine::Invalid(_) => Expected::Invalid { cut },
    }
}

/// Splits a reply into its first line (without `\n`) and the rest.
pub fn split_reply(text: &str) -> (&str, &str) {
    text.split_once('\n').unwrap_or((text, ""))
}
