//! What a scenario's steps did to the Places stub's answers (its `places` faults, and link
//! steps that touched the Places host), read from the trace: when an answer the stub decided
//! may have been delayed or replaced. Both Places checkers read it.

use std::time::Duration;

use super::RunRecord;
use crate::trace::{PLACES_HOST, SimEvent};

/// What the scenario's steps did to the stub's answers: `places` faults, and link steps that
/// touched the Places host.
pub(crate) struct StubFaults {
    /// Each `places` step: when, how long it delays answers (`Duration::MAX`: never), and
    /// whether it replaces the offline set's answer (an HTTP error, a malformed body, a
    /// status).
    faults: Vec<(Duration, Duration, bool)>,
    /// When a link step (partition, repair, hold, release, latency) named the Places host.
    link_steps: Vec<Duration>,
}

impl StubFaults {
    pub(crate) fn from_run(run: &RunRecord) -> StubFaults {
        let mut faults = StubFaults {
            faults: Vec::new(),
            link_steps: Vec::new(),
        };
        for (event, sim) in run.trace.sim_events() {
            match sim {
                SimEvent::PlacesFault { settings, .. } => {
                    let delay = if settings.contains_key("unreachable") {
                        Duration::MAX
                    } else {
                        match settings.get("latency") {
                            // An unreadable delay may be any: the most permissive reading.
                            Some(text) => {
                                server::config::parse_duration(text).unwrap_or(Duration::MAX)
                            }
                            None => Duration::ZERO,
                        }
                    };
                    let replaced = ["http_status", "malformed", "status"]
                        .iter()
                        .any(|key| settings.contains_key(*key));
                    faults.faults.push((event.at, delay, replaced));
                }
                SimEvent::Partition { from, to, .. }
                | SimEvent::Repair { from, to, .. }
                | SimEvent::Hold { from, to, .. }
                | SimEvent::Release { from, to, .. }
                | SimEvent::Latency { from, to, .. }
                    if from.iter().chain(to).any(|h| h == PLACES_HOST) =>
                {
                    faults.link_steps.push(event.at);
                }
                _ => {}
            }
        }
        faults
    }

    /// The faults that may have been in effect for an answer decided at `at`: the last step
    /// before it, and any at that very instant (which may have come before or after it).
    fn in_effect(&self, at: Duration) -> impl Iterator<Item = (Duration, bool)> + '_ {
        let before = self.faults.iter().rev().find(|(t, ..)| *t < at);
        let now = self.faults.iter().filter(move |(t, ..)| *t == at);
        let healthy = (Duration::ZERO, false);
        std::iter::once(before.map_or(healthy, |(_, d, r)| (*d, *r)))
            .chain(now.map(|(_, d, r)| (*d, *r)))
    }

    /// The longest delay a fault in effect at `at` may have given an answer decided then.
    pub(crate) fn delay_at(&self, at: Duration) -> Duration {
        self.in_effect(at).map(|(d, _)| d).max().unwrap_or_default()
    }

    /// Whether an answer decided at `at` surely came from the offline set: no fault that
    /// may have been in effect replaced it.
    pub(crate) fn offline_set_at(&self, at: Duration) -> bool {
        self.in_effect(at).all(|(_, replaced)| !replaced)
    }

    pub(crate) fn link_step_by(&self, at: Duration) -> bool {
        self.link_steps.iter().any(|t| *t <= at)
    }
}
