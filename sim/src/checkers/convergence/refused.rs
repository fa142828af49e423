//! Records a server had to refuse, so `convergence` does not owe them to it: a neighbour's
//! record whose timestamp is further ahead of the receiver's own clock than its
//! `timestamp_ahead_max` (a neighbour whose clock runs ahead, or a receiver whose clock runs
//! behind) is refused there and stored nowhere (docs/protocol.md §10), and no correct herd can
//! bring it to that server while its clock stays behind.
//!
//! The trace says which records a server refused as too far ahead (`line_refused`); the
//! oracle decides whether it had to: the server's clock at that event is its host's simulated
//! wall clock plus the skew of the scenario's last `skew` step for it, and the record must lie
//! more than `timestamp_ahead_max` ahead of it. A refusal the oracle does not confirm excuses
//! nothing: that server still owes the record, so a server that refuses wrongly fails
//! `convergence`. Where the clock is unknown (a real server's log), the refusal is taken.

use std::collections::{BTreeMap, BTreeSet};

use server::events::{Event, LineRefusal};

use super::RunRecord;
use crate::trace::replay;
use crate::trace::{SimEvent, What};

/// Per server, the records (as AT lines) it refused, each refusal confirmed by the oracle,
/// and never refused there wrongly.
pub fn must_refuse(run: &RunRecord) -> BTreeMap<String, BTreeSet<String>> {
    let ahead_max = run.limits.timestamp_ahead_max.as_nanos() as i128;
    let mut skews: BTreeMap<&str, i128> = BTreeMap::new();
    let mut confirmed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrongly: BTreeSet<(String, String)> = BTreeSet::new();
    for event in &run.trace.events {
        match &event.what {
            What::Sim(SimEvent::Skew { step, server, .. }) => {
                skews.insert(server, run.skew_nanos.get(step).copied().unwrap_or(0));
            }
            What::Server(Event::LineRefused {
                reason: LineRefusal::TooFarAhead,
                line,
                ..
            }) => {
                let Some(record) = replay::at_line(line) else {
                    continue;
                };
                let skew = skews.get(event.host.as_str()).copied().unwrap_or(0);
                let clock = event
                    .wall_clock
                    .and_then(|wall| i128::try_from(wall.as_nanos()).ok())
                    .map(|wall| wall + skew);
                let right = clock.is_none_or(|clock| record.timestamp.nanos() > clock + ahead_max);
                let key = (event.host.clone(), record.to_string());
                if right {
                    confirmed.entry(key.0).or_default().insert(key.1);
                } else {
                    wrongly.insert(key);
                }
            }
            _ => {}
        }
    }
    for (server, line) in &wrongly {
        if let Some(lines) = confirmed.get_mut(server) {
            lines.remove(line);
        }
    }
    confirmed
}
