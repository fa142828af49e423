//! Features: what a run reached, read from its typed trace, as named strings with AFL-style
//! hit-count buckets. Richer than the "sometimes" properties (which are kept, as
//! `sometimes:NAME`): which event follows which at a server, link state transitions, store
//! outcomes by source, limits reached, a restarted server's refill judged, and how close each
//! timed checker came to its bound.
//!
//! Each feature carries the simulated time it was first reached, so a child can branch there.

use std::collections::BTreeMap;
use std::time::Duration;

use server::events::Event;
use server::store::Outcome;

use crate::checkers::RunRecord;
use crate::metrics;
use crate::sometimes;
use crate::trace::{SimEvent, What};

use super::values::source_kind;

/// Feature name -> simulated time it was first reached (`Duration::MAX`: judged on the whole
/// run, no one moment).
pub type Features = BTreeMap<String, Duration>;

/// Steps of the "how close to the bound" buckets: a ratio is cut into this many equal parts
/// below the bound, and one more at or over it.
const NEAR_STEPS: u32 = 8;

/// AFL's hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128 and more.
pub fn bucket(count: u64) -> u64 {
    match count {
        0..=3 => count,
        4..=7 => 4,
        8..=15 => 8,
        16..=31 => 16,
        32..=127 => 32,
        _ => 128,
    }
}

/// The variant name of a `Debug` value (`NoClientSlot`, not its fields).
fn variant(value: &impl std::fmt::Debug) -> String {
    let text = format!("{value:?}");
    let end = text.find([' ', '(', '{']).unwrap_or(text.len());
    text[..end].to_string()
}

/// A server event's kind: its name, refined by what tells its paths apart (an outcome, a
/// reason, a source).
pub fn kind(event: &Event) -> String {
    match event {
        Event::RecordStored {
            outcome, source, ..
        } => format!("stored.{}.{}", variant(outcome), source_kind(source)),
        Event::PeerDown { reason, .. } => format!("peer_down.{}", variant(reason)),
        Event::PeerUp { direction, .. } => format!("peer_up.{}", variant(direction)),
        Event::LineRefused { reason, .. } => format!("line_refused.{}", variant(reason)),
        Event::LinkRefused { reason, .. } => format!("link_refused.{}", variant(reason)),
        Event::ConnectionClosed { reason, .. } => format!("closed.{}", variant(reason)),
        Event::PlacesError { kind, .. } => format!("places_error.{kind}"),
        Event::PlacesSpared { how } => format!("places_spared.{how}"),
        Event::WhatsatWait { found, .. } => format!("whatsat_wait.{found}"),
        Event::Reconcile { records, full, .. } => {
            let what = if *records > 0 { "records" } else { "empty" };
            format!("reconcile.{}.{what}", if *full { "full" } else { "resume" })
        }
        Event::StoreCut { kind, .. } => format!("store_cut.{}", variant(kind)),
        other => other.name().to_string(),
    }
}

/// Whether a server event is a named limit reached (the `limit_reached` property's list, and
/// the Places call rate bound).
fn limit(event: &Event) -> Option<String> {
    use server::events::{ConnectionEnd, LineRefusal};
    match event {
        Event::PlacesSpared { how } if how == "over_rate" => Some("places_rate".into()),
        Event::RecordStored { outcome, .. } if *outcome == Outcome::TableFull => {
            Some("table_full".into())
        }
        Event::ConnectionRefused { .. } => Some("connections_max".into()),
        Event::LineRefused { reason, .. }
            if matches!(
                reason,
                LineRefusal::TooLong | LineRefusal::IdTooLong | LineRefusal::TooFarAhead
            ) =>
        {
            Some(variant(reason))
        }
        Event::ConnectionClosed { reason, .. }
            if matches!(
                reason,
                ConnectionEnd::NoClientSlot
                    | ConnectionEnd::WriteTimedOut
                    | ConnectionEnd::IdleTimeout
            ) =>
        {
            Some(variant(reason))
        }
        _ => None,
    }
}

/// Counts hits of a name and records, per hit-count bucket reached, the time it was reached.
#[derive(Default)]
struct Counter {
    counts: BTreeMap<String, u64>,
    features: Features,
}

impl Counter {
    fn hit(&mut self, name: String, at: Duration) {
        let count = self.counts.entry(name.clone()).or_insert(0);
        *count += 1;
        let b = bucket(*count);
        if b == *count {
            self.features.entry(format!("{name}#{b}")).or_insert(at);
        }
    }

    fn once(&mut self, name: String, at: Duration) {
        self.features.entry(name).or_insert(at);
    }
}

/// A ratio of `value` to `bound`, as a bucket name: `0/8` .. `7/8` below it, `over` at or over.
pub fn nearness(value: Duration, bound: Duration) -> String {
    if bound.is_zero() || value >= bound {
        return "over".into();
    }
    let step = (value.as_nanos() * u128::from(NEAR_STEPS) / bound.as_nanos()) as u32;
    format!("{step}/{NEAR_STEPS}")
}

/// Every feature the run reached.
pub fn features(run: &RunRecord) -> Features {
    let mut c = Counter::default();
    // Last event kind per server, and last link state per (server, peer).
    let mut last: BTreeMap<&str, String> = BTreeMap::new();
    let mut link: BTreeMap<(&str, String), String> = BTreeMap::new();
    // Client command id -> when it was sent, for how close an answer came to its bound.
    let mut sent: BTreeMap<u64, Duration> = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    // Servers that restarted, whose refill is judged where the run sets `refills_max`.
    let mut restarted: Vec<&str> = Vec::new();
    let judged = run.checks.refills_max.is_some();
    for event in &run.trace.events {
        if let Some(server) = crate::trace::replay::memory_lost(event) {
            restarted.push(server);
        }
        match &event.what {
            What::Server(server_event) => {
                let kind = kind(server_event);
                let host = event.host.as_str();
                let before = last.insert(host, kind.clone()).unwrap_or("start".into());
                c.hit(format!("edge:{before}>{kind}"), event.at);
                if let Event::RecordStored {
                    outcome, source, ..
                } = server_event
                {
                    let name = format!("store:{}.{}", source_kind(source), variant(outcome));
                    c.hit(name, event.at);
                }
                if let Some(limit) = limit(server_event) {
                    c.hit(format!("limit:{limit}"), event.at);
                }
                if let Event::Reconcile {
                    peer,
                    records,
                    full: true,
                } = server_event
                    && judged
                    && *records > 0
                    && restarted.contains(&peer.as_str())
                {
                    c.hit("refill:judged".into(), event.at);
                }
                let state = match server_event {
                    Event::PeerUp { peer, .. }
                    | Event::PeerDown { peer, .. }
                    | Event::PeerConnectFailed { peer, .. } => Some((peer.clone(), kind.clone())),
                    _ => None,
                };
                if let Some((peer, state)) = state {
                    let state = state.replace("peer_", "");
                    let previous = link.insert((host, peer), state.clone());
                    let previous = previous.unwrap_or("start".into());
                    if previous != state || state != "connect_failed" {
                        c.hit(format!("link:{previous}>{state}"), event.at);
                    }
                }
            }
            What::Sim(SimEvent::ClientSend { id, .. }) => {
                sent.insert(*id, event.at);
            }
            What::Sim(SimEvent::ClientReply { id, .. }) => {
                if let Some(at) = sent.remove(id) {
                    slowest = slowest.max(event.at.saturating_sub(at));
                }
            }
            What::Sim(SimEvent::ClientError { id, error, .. }) => {
                sent.remove(id);
                c.hit(format!("client_error:{}", error_kind(error)), event.at);
            }
            What::Sim(_) => {}
        }
    }
    for (value, at) in super::values::value_features(run) {
        c.once(value, at);
    }
    for bound in super::herd_bounds::features(&run.limits) {
        c.once(format!("herd:{bound}"), Duration::MAX);
    }
    for property in sometimes::observed(run) {
        c.once(format!("sometimes:{property}"), Duration::MAX);
    }
    let near = nearness(slowest, run.checks.answered_within);
    c.once(format!("near:answered:{near}"), Duration::MAX);
    if let Some(converged) = metrics::metrics(run).convergence {
        let near = nearness(converged, run.checks.converged_within);
        c.once(format!("near:convergence:{near}"), Duration::MAX);
    }
    c.features
}

/// A transport error's kind: its first words, without the details that vary run to run.
fn error_kind(error: &str) -> String {
    let kind: String = error
        .split(|c: char| !c.is_ascii_alphabetic() && c != ' ')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join("_");
    if kind.is_empty() {
        "other".into()
    } else {
        kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_counts_fall_in_afl_buckets() {
        let buckets: Vec<u64> = [1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 127, 128, 9999]
            .into_iter()
            .map(bucket)
            .collect();
        assert_eq!(buckets, [1, 2, 3, 4, 4, 8, 8, 16, 16, 32, 32, 128, 128]);
    }

    #[test]
    fn nearness_cuts_the_bound_in_eighths_and_says_over() {
        let bound = Duration::from_secs(8);
        assert_eq!(nearness(Duration::ZERO, bound), "0/8");
        assert_eq!(nearness(Duration::from_millis(7999), bound), "7/8");
        assert_eq!(nearness(bound, bound), "over");
    }

    #[test]
    fn a_counter_keeps_the_time_each_bucket_was_first_reached() {
        let mut c = Counter::default();
        for ms in 1..=5 {
            c.hit("edge:a>b".into(), Duration::from_millis(ms));
        }
        let got: Vec<(&str, u64)> = c
            .features
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_millis() as u64))
            .collect();
        assert_eq!(
            got,
            [
                ("edge:a>b#1", 1),
                ("edge:a>b#2", 2),
                ("edge:a>b#3", 3),
                ("edge:a>b#4", 4)
            ]
        );
    }
}
