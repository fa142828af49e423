//! Builders for hand-made traces in checker tests: each test writes the few events that show
//! exactly one violation (or none).

use std::collections::BTreeMap;
use std::time::Duration;

use server::events::{Event, Source};
use server::store::Outcome;

use super::RunRecord;
use crate::scenario::{Action, Checks};
use crate::trace::{Trace, TraceEvent};

pub const HERD: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];

/// The default herd's persistent links (SPEC section 7), each as its ends in name order, as
/// the herd itself lists them.
pub fn default_links() -> Vec<(String, String)> {
    server::config::Herd::default_herd()
        .links
        .into_iter()
        .map(|link| {
            let [a, b] = link.between;
            if a <= b { (a, b) } else { (b, a) }
        })
        .collect()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A run of the default herd over `trace`, ending 10 s after its last event, quiet from 0.
pub fn run_record<'a>(trace: &'a Trace, checks: &'a Checks) -> RunRecord<'a> {
    let end = trace.events.last().map_or(Duration::ZERO, |e| e.at) + Duration::from_secs(10);
    RunRecord {
        trace,
        servers: HERD.iter().map(|s| s.to_string()).collect(),
        checks,
        quiet_since: Duration::ZERO,
        faulted: false,
        end,
        final_tables: BTreeMap::new(),
        expectations: BTreeMap::new(),
        line_bytes_max: None,
        limits: server::config::Limits::default(),
        hostile_steps: Default::default(),
        skew_nanos: BTreeMap::new(),
        classic_links: Default::default(),
        persistent_links: default_links().into_iter().collect(),
        network_latency_max: ms(5),
        unauthenticated: false,
    }
}

/// Builds a trace from events.
pub fn trace(events: Vec<TraceEvent>) -> Trace {
    let mut trace = Trace::new();
    for event in events {
        trace.push(event);
    }
    trace
}

/// The record of a test's AT line `AT origin diff client location timestamp`.
pub fn record(at_line: &str) -> server::protocol::Record {
    crate::trace::read::at_line(at_line).expect("a test's AT line is valid")
}

/// `record_stored` on `server` of the record `at_line`, with `outcome`; the source is the
/// client when `server` is the record's origin, else the origin as a peer.
pub fn stored(at: u64, server: &str, at_line: &str, outcome: &str) -> TraceEvent {
    let origin = at_line.split(' ').nth(1).unwrap_or("");
    let source = if origin == server {
        Source::Client
    } else {
        Source::Peer(origin.to_string())
    };
    let outcome = match outcome {
        "new" => Outcome::New,
        "stale" => Outcome::Stale,
        "duplicate" => Outcome::Duplicate,
        "table_full" => Outcome::TableFull,
        other => panic!("a test's outcome is one of the four, not {other}"),
    };
    TraceEvent::server(
        ms(at),
        server,
        Event::RecordStored {
            record: record(at_line),
            outcome,
            source,
        },
    )
}

/// `flood_sent` from `server` to `peer` of the record `at_line`.
pub fn flood(at: u64, server: &str, peer: &str, at_line: &str) -> TraceEvent {
    TraceEvent::server(
        ms(at),
        server,
        Event::FloodSent {
            peer: peer.to_string(),
            record: record(at_line),
        },
    )
}

pub fn send(at: u64, id: u64, client: &str, server: &str, line: &str) -> TraceEvent {
    TraceEvent::client_send(ms(at), id, client, server, format!("{line}\n").as_bytes())
}

pub fn reply(at: u64, id: u64, client: &str, server: &str, text: &str) -> TraceEvent {
    TraceEvent::client_reply(ms(at), id, client, server, text)
}

pub fn error(at: u64, id: u64, client: &str, server: &str, error: &str) -> TraceEvent {
    TraceEvent::client_error(ms(at), id, client, server, error)
}

pub fn crash(at: u64, server: &str) -> TraceEvent {
    TraceEvent::fault(ms(at), 90, &Action::Crash(server.to_string())).expect("a crash is a fault")
}

pub fn restart(at: u64, server: &str) -> TraceEvent {
    TraceEvent::fault(ms(at), 91, &Action::Restart(server.to_string()))
        .expect("a restart is a fault")
}

/// A WHATSAT reply body in Google's layout with `results` results.
pub fn places_json(results: usize, status: &str) -> String {
    let mut json = String::from("{\n   \"html_attributions\" : [],\n   \"results\" : [");
    if results == 0 {
        json.push_str("],\n");
    } else {
        json.push('\n');
        for i in 0..results {
            json.push_str(&format!(
                "      {{\n         \"name\" : \"Place {i}\",\n         \"types\" : [ \"cafe\", \"food\" ]\n      }}{}\n",
                if i + 1 < results { "," } else { "" }
            ));
        }
        json.push_str("   ],\n");
    }
    json.push_str(&format!("   \"status\" : \"{status}\"\n}}"));
    json
}

/// A full WHATSAT reply: the AT line, the JSON, two newlines.
pub fn whatsat_reply(at_line: &str, results: usize) -> String {
    format!(
        "{at_line}\n{}\n\n",
        places_json(results, if results == 0 { "ZERO_RESULTS" } else { "OK" })
    )
}
