//! The propagation trace: every event of a run, typed, stamped with simulated time and host,
//! and its renderings (timeline, snapshot YAML).
//!
//! Three sources write it, told apart by `host` ([`crate::hosts`]):
//!
//! - each herd server (host = server name): a `server::events::Event`, written as the binary's
//!   log line and read back by [`read::through_log_line`], the same reader that reads a real
//!   server's log line ([`read::log_line`]);
//! - the harness (host = [`HARNESS_HOST`]): a [`SimEvent`] per fault step and per client
//!   command, reply or error;
//! - the Places stub (host = [`PLACES_HOST`]): [`SimEvent::PlacesStubRequest`] and
//!   [`SimEvent::PlacesStubAnswer`].
//!
//! Everything that reads the trace (checkers, metrics, diagrams, shrinking) matches on these
//! types; nothing parses a field's text again.

pub mod event;
pub mod read;
pub mod render;
pub mod replay;
pub mod startup;

use std::time::Duration;

use serde::Serialize;
use server::events::Event;

pub use crate::hosts::{HARNESS_HOST, PLACES_HOST};
use crate::scenario::Action;
pub use event::SimEvent;
pub use render::{RENDER_CHARS_MAX, digest_reply, fmt_at, shorten};

/// What happened: a server's event or the simulation's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum What {
    Server(Event),
    Sim(SimEvent),
}

/// One event: when (simulated time since the start), where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    pub at: Duration,
    pub host: String,
    pub what: What,
    /// The simulated wall clock (time since the Unix epoch, before any skew) of the host the
    /// event happened on, at that very instant. `at` is not enough to know it: the recorder
    /// keeps the trace in time order by moving an event that trails another host's by up to a
    /// tick forward, and a time difference is judged to the nanosecond. `None` when no
    /// simulated host recorded it (the driver, a real server's log, a test).
    pub wall_clock: Option<Duration>,
    /// How a server's log line stamped the event: a real server's file, or the line the
    /// simulation wrote for it exactly as the binary does and read back. `None` for the
    /// harness's own events and hand-made ones.
    pub logged: Option<Logged>,
}

/// The log line's stamp on an event, as written: its `ts` and `level`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// RFC 3339 UTC with microseconds (`2026-11-26T05:39:38.123456Z`), from the host's clock.
    pub ts: String,
    /// `INFO` or `WARN`.
    pub level: String,
}

/// The events of one run, in recording order (which is time order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
}

impl TraceEvent {
    /// A server's event.
    pub fn server(at: Duration, host: impl Into<String>, event: Event) -> TraceEvent {
        TraceEvent {
            at,
            host: host.into(),
            what: What::Server(event),
            wall_clock: None,
            logged: None,
        }
    }

    /// The harness's event.
    pub fn harness(at: Duration, event: SimEvent) -> TraceEvent {
        TraceEvent {
            at,
            host: HARNESS_HOST.to_string(),
            what: What::Sim(event),
            wall_clock: None,
            logged: None,
        }
    }

    /// The event as recorded on a host whose simulated wall clock read `wall_clock`.
    pub fn with_wall_clock(mut self, wall_clock: Duration) -> TraceEvent {
        self.wall_clock = Some(wall_clock);
        self
    }

    /// The event's name, as in the `event` key of its JSON.
    pub fn name(&self) -> &'static str {
        match &self.what {
            What::Server(event) => event.name(),
            What::Sim(event) => event.name(),
        }
    }

    /// The server event, if a herd server wrote this one.
    pub fn server_event(&self) -> Option<&Event> {
        match &self.what {
            What::Server(event) => Some(event),
            What::Sim(_) => None,
        }
    }

    /// The harness's or the stub's event.
    pub fn sim_event(&self) -> Option<&SimEvent> {
        match &self.what {
            What::Sim(event) => Some(event),
            What::Server(_) => None,
        }
    }

    /// The harness event for fault step `step`, or `None` for workload actions.
    pub fn fault(at: Duration, step: u64, action: &Action) -> Option<TraceEvent> {
        let hosts = |names: &[String]| names.to_vec();
        let event = match action {
            Action::IamAt(_)
            | Action::WhatsAt(_)
            | Action::Raw(_)
            | Action::Load(_)
            | Action::Hostile(_) => return None,
            Action::Partition(l) => SimEvent::Partition {
                step,
                from: hosts(&l.between),
                to: hosts(&l.and),
                oneway: l.oneway,
            },
            Action::Repair(l) => SimEvent::Repair {
                step,
                from: hosts(&l.between),
                to: hosts(&l.and),
                oneway: l.oneway,
            },
            Action::Hold(l) => SimEvent::Hold {
                step,
                from: hosts(&l.between),
                to: hosts(&l.and),
            },
            Action::Release(l) => SimEvent::Release {
                step,
                from: hosts(&l.between),
                to: hosts(&l.and),
            },
            Action::Latency(l) => SimEvent::Latency {
                step,
                from: hosts(&l.between),
                to: hosts(&l.and),
                latency: l.latency.to_string(),
            },
            Action::Crash(server) => SimEvent::Crash {
                step,
                server: server.clone(),
            },
            Action::Restart(server) => SimEvent::Restart {
                step,
                server: server.clone(),
            },
            Action::Impostor(impostor) => SimEvent::Impostor {
                step,
                server: impostor.server.clone(),
            },
            Action::Tamper(t) => SimEvent::Tamper {
                step,
                from: t.from.clone(),
                to: t.to.clone(),
                mode: t.mode.describe(),
            },
            Action::Disk(d) => SimEvent::DiskFault {
                step,
                server: d.server.clone(),
                fault: d.fault.as_str().to_string(),
            },
            Action::Skew(s) => SimEvent::Skew {
                step,
                server: s.server.clone(),
                by: s.by.to_string(),
            },
            Action::Places(p) => SimEvent::PlacesFault {
                step,
                settings: p
                    .settings()
                    .into_iter()
                    .map(|(key, value)| (key.to_string(), value))
                    .collect(),
            },
        };
        Some(TraceEvent::harness(at, event))
    }

    /// A client wrote `bytes` (one command line) to `server`.
    pub fn client_send(
        at: Duration,
        id: u64,
        client: &str,
        server: &str,
        bytes: &[u8],
    ) -> TraceEvent {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        TraceEvent::harness(
            at,
            SimEvent::ClientSend {
                id,
                client: client.to_string(),
                server: server.to_string(),
                line: String::from_utf8_lossy(body).into_owned(),
                bytes: bytes.len() as u64,
                utf8: std::str::from_utf8(bytes).is_ok(),
            },
        )
    }

    /// A client read the whole reply `text`.
    pub fn client_reply(
        at: Duration,
        id: u64,
        client: &str,
        server: &str,
        text: &str,
    ) -> TraceEvent {
        TraceEvent::harness(
            at,
            SimEvent::ClientReply {
                id,
                client: client.to_string(),
                server: server.to_string(),
                text: text.to_string(),
            },
        )
    }

    /// A client's command failed at the transport.
    pub fn client_error(
        at: Duration,
        id: u64,
        client: &str,
        server: &str,
        error: &str,
    ) -> TraceEvent {
        TraceEvent::harness(
            at,
            SimEvent::ClientError {
                id,
                client: client.to_string(),
                server: server.to_string(),
                error: error.to_string(),
            },
        )
    }

    /// A load step started.
    pub fn load_sent(at: Duration, id: u64, load: &crate::scenario::Load) -> TraceEvent {
        TraceEvent::harness(
            at,
            SimEvent::LoadSent {
                id,
                server: load.server.clone(),
                prefix: load.prefix.clone(),
                clients: load.clients as u64,
                connections: load.connections as u64,
            },
        )
    }

    /// The Places stub got a request.
    pub fn places_stub_request(
        at: Duration,
        path: &str,
        location: &str,
        radius: &str,
        key_present: bool,
        from: Option<String>,
    ) -> TraceEvent {
        TraceEvent {
            at,
            host: PLACES_HOST.to_string(),
            what: What::Sim(SimEvent::PlacesStubRequest {
                path: path.to_string(),
                location: location.to_string(),
                radius: radius.to_string(),
                key_present,
                from,
                max_result_count: None,
            }),
            wall_clock: None,
            logged: None,
        }
    }

    /// The Places stub got a Places (New) `searchNearby` at `path`, with the body's
    /// `maxResultCount` when it had one (the other fields as for [`Self::places_stub_request`]).
    pub fn places_stub_search_nearby(
        at: Duration,
        path: &str,
        location: &str,
        radius: &str,
        max_result_count: Option<u64>,
        key_present: bool,
        from: Option<String>,
    ) -> TraceEvent {
        let mut event =
            TraceEvent::places_stub_request(at, path, location, radius, key_present, from);
        if let What::Sim(SimEvent::PlacesStubRequest {
            max_result_count: count,
            ..
        }) = &mut event.what
        {
            *count = max_result_count;
        }
        event
    }

    /// The Places stub's answer to `request` (a [`SimEvent::PlacesStubRequest`] event): HTTP
    /// `http_status` with `body`. `None` if `request` is not a stub request.
    pub fn places_stub_answer(
        at: Duration,
        request: &TraceEvent,
        http_status: u16,
        body: &[u8],
    ) -> Option<TraceEvent> {
        let Some(SimEvent::PlacesStubRequest {
            path,
            location,
            radius,
            from,
            max_result_count,
            ..
        }) = request.sim_event()
        else {
            return None;
        };
        Some(TraceEvent {
            at,
            host: PLACES_HOST.to_string(),
            what: What::Sim(SimEvent::PlacesStubAnswer {
                path: path.clone(),
                location: location.clone(),
                radius: radius.clone(),
                from: from.clone(),
                max_result_count: *max_result_count,
                http_status,
                body: String::from_utf8_lossy(body).into_owned(),
            }),
            wall_clock: None,
            logged: None,
        })
    }
}

impl Trace {
    pub fn new() -> Trace {
        Trace::default()
    }

    pub fn push(&mut self, event: TraceEvent) {
        debug_assert!(
            self.events.last().is_none_or(|last| last.at <= event.at),
            "trace events are recorded in time order"
        );
        self.events.push(event);
    }

    /// The server events with their host and time, in order.
    pub fn server_events(&self) -> impl Iterator<Item = (&TraceEvent, &Event)> {
        self.events
            .iter()
            .filter_map(|e| e.server_event().map(|event| (e, event)))
    }

    /// The harness's and the stub's events with their time, in order.
    pub fn sim_events(&self) -> impl Iterator<Item = (&TraceEvent, &SimEvent)> {
        self.events
            .iter()
            .filter_map(|e| e.sim_event().map(|event| (e, event)))
    }
}
