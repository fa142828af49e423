//! What several checkers rebuild from the trace: records from `record_stored` fields, which
//! servers were down when, each client command paired with its reply, and what a command
//! should get back. Kept here so every checker reads the trace the same way.

use std::collections::BTreeMap;
use std::time::Duration;

use server::events;
use server::protocol::{Command, Record};

use crate::trace::{self, Trace, TraceEvent};

/// The record a `record_stored` or `flood_sent`-like event describes, rebuilt by parsing
/// `AT origin time_diff client location timestamp` with the server's own parser.
pub fn record_from_fields(event: &TraceEvent) -> Result<Record, String> {
    let get = |key: &str| {
        event
            .field(key)
            .ok_or_else(|| format!("{} event without `{key}`", event.name))
    };
    let line = format!(
        "AT {} {} {} {} {}",
        get("origin")?,
        get("time_diff")?,
        get("client")?,
        get("location")?,
        get("timestamp")?
    );
    match Command::parse_line(line.as_bytes()) {
        Ok(Command::At(record)) => Ok(record),
        _ => Err(format!(
            "{} event holds no valid record: `{line}`",
            event.name
        )),
    }
}

/// A `record_stored` with `outcome=new` on a server: the server now holds this record.
pub fn stored_new(event: &TraceEvent) -> bool {
    event.name == events::RECORD_STORED
        && event.host != trace::HARNESS_HOST
        && event.field("outcome") == Some("new")
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

/// The server named by a harness `crash` or `restart` event (memory is lost at both).
pub fn memory_lost(event: &TraceEvent) -> Option<&str> {
    if event.is_harness(trace::CRASH) || event.is_harness(trace::RESTART) {
        event.field("server")
    } else {
        None
    }
}

/// When each server was down: from its crash until it listens again after its restart (its
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
            if event.name == events::LISTENING
                && let Some(index) = restarting.remove(&event.host)
                && let Some(interval) = downtime
                    .intervals
                    .get_mut(&event.host)
                    .and_then(|v| v.get_mut(index))
            {
                interval.1 = Some(event.at);
                continue;
            }
            let Some(server) = event.field("server") else {
                continue;
            };
            if event.is_harness(trace::CRASH) {
                let intervals = downtime.intervals.entry(server.to_string()).or_default();
                intervals.push((event.at, None));
            } else if event.is_harness(trace::RESTART)
                && let Some(intervals) = downtime.intervals.get_mut(server)
                && let Some(last) = intervals.last_mut()
                && last.1.is_none()
            {
                last.1 = Some(event.at);
                restarting.insert(server.to_string(), intervals.len() - 1);
            }
        }
        downtime
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
    pub fn client(&self) -> &'a str {
        self.send.field("client").unwrap_or("?")
    }

    pub fn server(&self) -> &'a str {
        self.send.field("server").unwrap_or("?")
    }

    pub fn line(&self) -> &'a str {
        self.send.field("line").unwrap_or("")
    }

    pub fn reply_text(&self) -> Option<&'a str> {
        self.reply.and_then(|(_, event)| event.field("text"))
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
        if event.host != trace::HARNESS_HOST {
            continue;
        }
        let Some(id) = event.id() else { continue };
        match event.name.as_str() {
            trace::CLIENT_SEND => {
                open.insert(id, out.len());
                out.push(Exchange {
                    id,
                    send_index: index,
                    send: event,
                    reply: None,
                    error: None,
                });
            }
            trace::CLIENT_REPLY | trace::CLIENT_ERROR => {
                let Some(exchange) = open.get(&id).and_then(|&i| out.get_mut(i)) else {
                    continue;
                };
                let slot = if event.name == trace::CLIENT_REPLY {
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

/// The first 256 bytes of an over-long line are what the server echoes (SPEC section 1).
pub const LONG_LINE_ECHO_BYTES: usize = 256;

/// What a client command should get back, per SPEC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `AT <server> <diff> <client> <location> <timestamp>`, the last three verbatim.
    IamAt {
        client: String,
        location: String,
        timestamp: String,
    },
    /// An AT line and Places JSON, or `?` if the server knows nothing of `client`.
    WhatsAt { client: String, bound: usize },
    /// `? ` and the line; `cut`: `Some(true)` the line is over the limit so only its first
    /// 256 bytes come back, `None` unknown (no limit given and the line is long).
    Invalid { cut: Option<bool> },
    /// Peer-protocol lines (AT, PEER, PING, PONG) on a client connection: no reply owed.
    Unjudged,
}

/// Classifies a `client_send` by parsing its line as the server would.
pub fn expected(send: &TraceEvent, line_bytes_max: Option<usize>) -> Expected {
    let line = send.field("line").unwrap_or("");
    let utf8 = send.field("utf8") != Some("false");
    let body_len = if utf8 {
        line.len()
    } else {
        send.field("bytes")
            .and_then(|b| b.parse::<usize>().ok())
            .map_or(line.len(), |b| b.saturating_sub(1))
    };
    let cut = match line_bytes_max {
        Some(max) => Some(body_len > max),
        None if body_len > LONG_LINE_ECHO_BYTES => None,
        None => Some(false),
    };
    if cut == Some(true) || !utf8 {
        return Expected::Invalid { cut };
    }
    match Command::parse_line(line.as_bytes()) {
        Ok(Command::IAmAt {
            client,
            location,
            timestamp,
        }) => Expected::IamAt {
            client,
            location: location.as_str().to_string(),
            timestamp: timestamp.as_str().to_string(),
        },
        Ok(Command::WhatsAt { client, bound, .. }) => Expected::WhatsAt { client, bound },
        Ok(_) => Expected::Unjudged,
        Err(_) => Expected::Invalid { cut },
    }
}

/// Splits a reply into its first line (without `\n`) and the rest.
pub fn split_reply(text: &str) -> (&str, &str) {
    text.split_once('\n').unwrap_or((text, ""))
}

/// The record of an AT line (a reply's first line).
pub fn parse_at_line(line: &str) -> Option<Record> {
    match Command::parse_line(line.as_bytes()) {
        Ok(Command::At(record)) => Some(record),
        _ => None,
    }
}
