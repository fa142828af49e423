//! The receipts rule: a record arrives over a link only if the neighbour sent it. Over the
//! run, the records B stores (whatever the outcome) from A's link are at most what A logged
//! sending to B, its `flood_sent` to B plus its reconciles' `records` (judged where A's log is
//! in the trace and A never crashed: a killed real server loses the end of its log), plus the
//! records an attacker on that link injected or replayed (`tampered` events), which reach B
//! as A's. So a server that sends records without saying so in its trace (where every other
//! rule would miss them) is caught.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::events::{Event, Source};

use crate::checkers::{RunRecord, Violation};
use crate::trace::{SimEvent, TraceEvent};

/// One directed link's receipts: what the receiver stored from it, and what the sender
/// logged sending.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counted {
    stored: u64,
    sent: u64,
}

/// Per directed link (sender, receiver): records stored from it, records it logged.
#[derive(Default)]
pub(super) struct Receipts {
    links: BTreeMap<(String, String), Counted>,
}

impl Receipts {
    /// Counts `event` into the receipts of its link, if it stores or sends records over one.
    pub(super) fn count(&mut self, event: &TraceEvent) {
        if let Some(SimEvent::Tampered {
            from, to, records, ..
        }) = event.sim_event()
        {
            let key = (from.clone(), to.clone());
            self.links.entry(key).or_default().sent += records;
            return;
        }
        let Some(server_event) = event.server_event() else {
            return;
        };
        let host = &event.host;
        match server_event {
            Event::RecordStored {
                source: Source::Peer(peer),
                ..
            } => {
                self.links
                    .entry((peer.clone(), host.clone()))
                    .or_default()
                    .stored += 1;
            }
            Event::FloodSent { peer, .. } => {
                self.links
                    .entry((host.clone(), peer.clone()))
                    .or_default()
                    .sent += 1;
            }
            Event::Reconcile { peer, records, .. } => {
                self.links
                    .entry((host.clone(), peer.clone()))
                    .or_default()
                    .sent += records;
            }
            _ => {}
        }
    }

    /// The rule over the whole run. Judged where the sender's own log is in the trace (every
    /// server of a run logs its `listening` at start; a hand-made trace may leave a sender
    /// out), and the sender never crashed (`lost_at`): a real server killed with SIGKILL
    /// loses the last few milliseconds of its log, which may hold the sends its neighbour
    /// still received.
    pub(super) fn judge(
        &self,
        run: &RunRecord,
        lost_at: &BTreeMap<String, Duration>,
        violations: &mut Vec<Violation>,
    ) {
        let logged: BTreeSet<&str> = run
            .trace
            .events
            .iter()
            .filter(|e| e.server_event().is_some())
            .map(|e| e.host.as_str())
            .collect();
        for ((sender, receiver), counted) in &self.links {
            if counted.stored > counted.sent
                && logged.contains(sender.as_str())
                && !lost_at.contains_key(sender)
            {
                violations.push(Violation::new(
                    run.end,
                    format!(
                        "{receiver} stored {} records from {sender}'s link, but {sender} logged \
                         sending it {} (flood_sent and reconcile records)",
                        counted.stored, counted.sent
                    ),
                ));
            }
        }
    }
}
