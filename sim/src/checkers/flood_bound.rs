//! `flood_bound` (safety): each update crosses each link at most twice (SPEC section 5).
//!
//! Counts `flood_sent` per update (origin, client, timestamp, location, time difference) per
//! undirected link {server, peer}. A server floods a record only when it stores it as
//! new, which happens once per update while it keeps its memory; so the bound is 2, one per
//! direction. A restart resets the counts of the links touching that server (it learns again).
//! Reconciliation (`reconcile`) is how a healed link catches up; it is bounded elsewhere and
//! only reported here.

use std::collections::BTreeMap;

use server::events::Event;

use super::{Checker, FailureClass, RunRecord, Verdict, Violation};
use crate::trace::TraceEvent;
use crate::trace::replay::{self, UpdateKey, update_key};

pub const NAME: &str = "flood_bound";

/// SPEC section 5: each update crosses each link at most twice.
pub const CROSSINGS_PER_LINK_MAX: usize = 2;

pub struct FloodBound;

/// An undirected link, its two ends in name order.
type Link = (String, String);

impl Checker for FloodBound {
    fn name(&self) -> &'static str {
        NAME
    }

    fn class(&self) -> FailureClass {
        FailureClass::Safety
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut crossings: BTreeMap<(Link, UpdateKey), usize> = BTreeMap::new();
        let mut violations = Vec::new();
        let (mut sent, mut reconciles, mut reconciled) = (0usize, 0usize, 0u64);
        for event in &run.trace.events {
            if let Some(server) = replay::memory_lost(event) {
                crossings.retain(|((a, b), _), _| a != server && b != server);
                continue;
            }
            let (peer, record) = match event.server_event() {
                Some(Event::Reconcile { records, .. }) => {
                    reconciles += 1;
                    reconciled += records;
                    continue;
                }
                Some(Event::FloodSent { peer, record }) => (peer.clone(), record),
                _ => continue,
            };
            sent += 1;
            let host = event.host.clone();
            let link = if host <= peer {
                (host, peer)
            } else {
                (peer, host)
            };
            let key = update_key(record);
            let count = crossings.entry((link.clone(), key.clone())).or_default();
            *count += 1;
            if *count == CROSSINGS_PER_LINK_MAX + 1 {
                violations.push(Violation::new(
                    event.at,
                    format!(
                        "update {} {} {} crossed link {}-{} {} times (bound {CROSSINGS_PER_LINK_MAX}), last {} -> {}",
                        key.0, key.1, key.2, link.0, link.1, *count, event.host, peer_of(event)
                    ),
                ));
            }
        }
        let metric = format!(
            "{sent} flood messages; {reconciled} records reconciled over {reconciles} reconnects"
        );
        Verdict::judge(NAME, self.class(), violations, Some(metric))
    }
}

/// The neighbour a `flood_sent` went to.
fn peer_of(event: &TraceEvent) -> &str {
    match event.server_event() {
        Some(Event::FloodSent { peer, .. }) => peer,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;
    use crate::trace::TraceEvent;

    const KIWI: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";

    fn verdict(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        FloodBound.check(&run_record(&trace, &checks))
    }

    #[test]
    fn one_crossing_each_way_passes() {
        let v = verdict(vec![
            flood(1, "Clark", "Bona", KIWI),
            flood(2, "Bona", "Clark", KIWI),
            flood(2, "Bona", "Bailey", KIWI),
            TraceEvent::server(
                ms(3),
                "Bona",
                Event::Reconcile {
                    peer: "Jaquez".into(),
                    records: 4,
                },
            ),
        ]);
        assert!(v.ok, "{v}");
        assert_eq!(
            v.metric.as_deref(),
            Some("3 flood messages; 4 records reconciled over 1 reconnects")
        );
    }

    #[test]
    fn a_third_crossing_of_one_link_is_caught() {
        let v = verdict(vec![
            flood(1, "Clark", "Bona", KIWI),
            flood(2, "Bona", "Clark", KIWI),
            flood(3, "Clark", "Bona", KIWI),
        ]);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("crossed link Bona-Clark 3 times (bound 2), last Clark -> Bona"),
            "{v}"
        );
    }

    #[test]
    fn a_restarted_server_may_flood_again() {
        let v = verdict(vec![
            flood(1, "Clark", "Bona", KIWI),
            flood(2, "Bona", "Clark", KIWI),
            crash(3, "Clark"),
            restart(4, "Clark"),
            flood(5, "Clark", "Bona", KIWI),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn two_updates_with_one_timestamp_are_counted_apart() {
        let other = "AT Clark +0.000002000 kiwi +2+2 1700000000.5";
        let v = verdict(vec![
            flood(1, "Clark", "Bona", KIWI),
            flood(1, "Clark", "Bona", other),
            flood(2, "Bona", "Clark", KIWI),
            flood(2, "Bona", "Clark", other),
        ]);
        assert!(v.ok, "{v}");
    }
}
