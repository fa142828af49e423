//! Value-profile features: how close a run came to a bound or a rare value, not only whether
//! a limit was reached. Read from the trace's store decisions and refusals, as a checker
//! would: a stored record's timestamp within 100 ms / 1 s / 10 s of the ahead bound at the
//! receiver, a client id at or one under its byte bound, a time difference of exactly zero, a
//! location on a pole or the antimeridian, a tie with the held record, a table's bytes in
//! eighths of `table_bytes_max`, a neighbour's record refused as too far ahead. A record that
//! carries two such values at once is a feature of its own (`value:record:A+B`), and so is
//! every pair of values reached in one run (`value:pair:A+B`): a child that adds a second rare
//! value to an entry that has one is kept, so two rare events cost the sum of their odds.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::events::{Event, LineRefusal, Source};
use server::protocol::Command;
use server::protocol::Record;
use server::store::{Outcome, record_bytes};

use crate::checkers::RunRecord;
use crate::trace::replay::{self, Tables};
use crate::trace::{SimEvent, TraceEvent, What};

/// How far below the ahead bound a stored record's timestamp lies, as the bucket it falls in
/// (`100ms`, `1s`, `10s`), or `None` further off (or past it).
pub fn ahead_bucket(margin_nanos: i128) -> Option<&'static str> {
    const MS: i128 = 1_000_000;
    match margin_nanos {
        m if m < 0 => None,
        m if m <= 100 * MS => Some("100ms"),
        m if m <= 1_000 * MS => Some("1s"),
        m if m <= 10_000 * MS => Some("10s"),
        _ => None,
    }
}

/// Where a record came from, as a feature names it.
pub fn source_kind(source: &Source) -> &'static str {
    match source {
        Source::Client => "client",
        Source::Peer(_) => "peer",
        Source::Classic => "classic",
        Source::Disk => "disk",
    }
}

/// Whether a feature is a rare value (a table's fill level aside): an entry that reached one
/// gets children that add another.
pub fn is_rare(feature: &str) -> bool {
    feature.starts_with("value:") && !feature.starts_with("value:table.")
}

/// The rare values one offered record carries at the server that decides on it.
fn record_values(
    run: &RunRecord,
    event: &TraceEvent,
    record: &Record,
    held: Option<&Record>,
    skew: i128,
    table_bytes: usize,
) -> Vec<String> {
    let limits = &run.limits;
    let mut values = Vec::new();
    // The receiver's table when it decides: past its byte bound (grown by updates), or over
    // three quarters of it.
    if table_bytes > limits.table_bytes_max {
        values.push("table_over".to_string());
    } else if table_bytes * 4 > limits.table_bytes_max * 3 {
        values.push("table_3_4".to_string());
    }
    let id = record.client.len();
    if id == limits.client_id_bytes_max {
        values.push("id_at_bound".to_string());
    } else if id + 1 == limits.client_id_bytes_max {
        values.push("id_under_bound".into());
    }
    if record.time_diff.nanos() == 0 {
        values.push("zero_diff".into());
    }
    if record.location.latitude().abs() == 90.0 || record.location.longitude().abs() == 180.0 {
        values.push("pole".into());
    }
    if held.is_some_and(|h| {
        h.timestamp.nanos() == record.timestamp.nanos() && h.origin != record.origin
    }) {
        values.push("tie".into());
    }
    let wall = event
        .wall_clock
        .and_then(|w| i128::try_from(w.as_nanos()).ok());
    if let Some(clock) = wall.map(|w| w + skew) {
        let bound = clock + limits.timestamp_ahead_max.as_nanos() as i128;
        if let Some(near) = ahead_bucket(bound - record.timestamp.nanos()) {
            values.push(format!("ahead_{near}"));
        }
    }
    values
}

/// A client line at `host` that only an attacker sends: a link's `AUTH` line replayed, or an
/// `AT` line in the name of a server of the herd that is neither `host` nor its neighbour.
fn client_line_value(run: &RunRecord, host: &str, line: &str) -> Option<&'static str> {
    match Command::parse_line(line.as_bytes()) {
        Ok(Command::Auth { .. }) => Some("replayed_auth"),
        Ok(Command::At(record)) => {
            let origin = record.origin;
            (origin != host && run.servers.contains(&origin) && !run.linked(host, &origin))
                .then_some("forged_herd_origin")
        }
        _ => None,
    }
}

/// Every value feature of the run, with the time each was first reached.
pub fn value_features(run: &RunRecord) -> BTreeMap<String, Duration> {
    let mut found: BTreeMap<String, Duration> = BTreeMap::new();
    let mut reach = |name: String, at: Duration| {
        found.entry(name).or_insert(at);
    };
    let mut tables = Tables::default();
    let mut bytes: BTreeMap<String, usize> = BTreeMap::new();
    let mut skews: BTreeMap<&str, i128> = BTreeMap::new();
    let table_max = run.limits.table_bytes_max.max(1);
    for event in &run.trace.events {
        if let Some(server) = replay::memory_lost(event) {
            tables.clear(server);
            bytes.remove(server);
            continue;
        }
        match &event.what {
            What::Sim(SimEvent::Skew { step, server, .. }) => {
                skews.insert(server, run.skew_nanos.get(step).copied().unwrap_or(0));
            }
            What::Server(Event::LineRefused {
                peer: Some(_),
                reason: LineRefusal::TooFarAhead,
                ..
            }) => reach("value:refused_ahead".into(), event.at),
            What::Server(Event::ClientLine { line, .. }) => {
                if let Some(value) = client_line_value(run, &event.host, line) {
                    reach(format!("value:{value}"), event.at);
                }
            }
            What::Server(Event::RecordStored {
                record,
                outcome,
                source,
            }) => {
                let host = event.host.as_str();
                let held = tables.held(host, &record.client);
                let skew = skews.get(host).copied().unwrap_or(0);
                let table_bytes = bytes.get(host).copied().unwrap_or(0);
                let values = record_values(run, event, record, held, skew, table_bytes);
                let from = source_kind(source);
                for value in &values {
                    reach(format!("value:{from}.{value}"), event.at);
                }
                for (i, a) in values.iter().enumerate() {
                    for b in &values[i + 1..] {
                        reach(format!("value:record:{a}+{b}"), event.at);
                    }
                }
                if *outcome == Outcome::New {
                    let was = held.map_or(0, record_bytes);
                    let table = bytes.entry(host.to_string()).or_default();
                    *table = (*table + record_bytes(record)).saturating_sub(was);
                    let eighths = (*table * 8 / table_max).min(8);
                    reach(format!("value:table.{eighths}/8"), event.at);
                    tables.store(host, record.clone());
                }
            }
            _ => {}
        }
    }
    let names: Vec<(String, Duration)> = found
        .iter()
        .filter(|(name, _)| !name.starts_with("value:record:"))
        .map(|(name, at)| (name.clone(), *at))
        .collect();
    let mut pairs = BTreeSet::new();
    for (i, (a, at_a)) in names.iter().enumerate() {
        for (b, at_b) in &names[i + 1..] {
            let (a, b) = (&a["value:".len()..], &b["value:".len()..]);
            // Only a table at least three quarters full pairs, and not with another level.
            let low = |v: &str| v.starts_with("table.") && v < "table.6/8";
            if low(a) || low(b) || (a.starts_with("table.") && b.starts_with("table.")) {
                continue;
            }
            pairs.insert((format!("value:pair:{a}+{b}"), *at_a.max(at_b)));
        }
    }
    found.extend(pairs);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    /// The features of a canary's hand-made scenario, run without its canary.
    fn reached(file: &str) -> Vec<String> {
        let path = format!(
            "{}/../scenarios/canaries/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut scenario = Scenario::load(std::path::Path::new(&path)).unwrap();
        scenario.canary = None;
        let features = crate::explore::search::run(&scenario).features;
        features
            .into_keys()
            .filter(|f| f.starts_with("value:"))
            .collect()
    }

    #[test]
    fn a_record_at_zero_difference_on_a_pole_is_one_feature_at_every_server() {
        let values = reached("zero-diff-pole.yaml");
        for want in [
            "value:client.zero_diff",
            "value:peer.zero_diff",
            "value:record:zero_diff+pole",
            "value:pair:client.pole+peer.zero_diff",
        ] {
            assert!(values.iter().any(|v| v == want), "{want}: {values:?}");
        }
    }

    #[test]
    fn a_skewed_neighbour_a_full_table_and_the_ahead_edge_are_read_from_the_trace() {
        let values = reached("edge-ahead-after-skew.yaml");
        for want in [
            "value:refused_ahead",
            "value:peer.ahead_100ms",
            "value:table.6/8",
            "value:pair:peer.ahead_100ms+refused_ahead",
            "value:pair:peer.ahead_100ms+table.6/8",
        ] {
            assert!(values.iter().any(|v| v == want), "{want}: {values:?}");
        }
    }

    #[test]
    fn ahead_margins_fall_in_three_buckets() {
        let ms = |v: i128| v * 1_000_000;
        assert_eq!(ahead_bucket(ms(0)), Some("100ms"));
        assert_eq!(ahead_bucket(ms(100)), Some("100ms"));
        assert_eq!(ahead_bucket(ms(101)), Some("1s"));
        assert_eq!(ahead_bucket(ms(10_000)), Some("10s"));
        assert_eq!(ahead_bucket(ms(10_001)), None);
        assert_eq!(
            ahead_bucket(-1),
            None,
            "past the bound is refused, not near it"
        );
    }
}
