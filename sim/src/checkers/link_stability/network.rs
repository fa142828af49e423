//! The network as `link_stability` replays it from the fault steps: what is cut, held or
//! slowed, which servers run, and when a fault last touched each link.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::scenario::LatencyRange;
use crate::trace::SimEvent;

/// An undirected link, its ends in name order.
pub(super) type Pair = (String, String);

pub(super) fn pair(a: &str, b: &str) -> Pair {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// The network as the fault steps left it, and when each link was last touched.
pub(super) struct Network {
    servers: BTreeSet<String>,
    /// Directed cuts `(from, to)` of partitions not yet repaired.
    cuts: BTreeSet<(String, String)>,
    /// Links whose messages are held.
    held: BTreeSet<Pair>,
    /// Links whose latency a `latency` step changed: the range's maximum.
    latency_max: BTreeMap<Pair, Duration>,
    /// The scenario's network latency maximum, for every other link.
    pub(super) base_latency_max: Duration,
    /// When a network step last touched each link.
    link_touched: BTreeMap<Pair, Duration>,
    /// When each server last crashed or restarted.
    server_touched: BTreeMap<String, Duration>,
    /// Servers the trace shows running: they said `listening` and have not crashed or stopped
    /// themselves (`shutdown`) since.
    pub(super) running: BTreeSet<String>,
}

impl Network {
    /// The network at the start: `servers`, nothing cut, held or slowed past
    /// `base_latency_max`, nothing touched, nothing running yet.
    pub(super) fn new(servers: BTreeSet<String>, base_latency_max: Duration) -> Network {
        Network {
            servers,
            cuts: BTreeSet::new(),
            held: BTreeSet::new(),
            latency_max: BTreeMap::new(),
            base_latency_max,
            link_touched: BTreeMap::new(),
            server_touched: BTreeMap::new(),
            running: BTreeSet::new(),
        }
    }

    /// Every server pair one of `from` and one of `to` make (hosts that are not servers, like
    /// `places`, carry no link).
    fn pairs(&self, from: &[String], to: &[String]) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for a in from.iter().filter(|a| self.servers.contains(*a)) {
            for b in to.iter().filter(|b| self.servers.contains(*b)) {
                pairs.push((a.clone(), b.clone()));
            }
        }
        pairs
    }

    /// Applies a fault step at `at`; `false` when the event is not a fault.
    pub(super) fn apply(&mut self, event: &SimEvent, at: Duration) -> bool {
        match event {
            SimEvent::Partition {
                from, to, oneway, ..
            }
            | SimEvent::Repair {
                from, to, oneway, ..
            } => {
                let cutting = matches!(event, SimEvent::Partition { .. });
                for (a, b) in self.pairs(from, to) {
                    let mut directed = vec![(a.clone(), b.clone())];
                    if !oneway {
                        directed.push((b.clone(), a.clone()));
                    }
                    for cut in directed {
                        if cutting {
                            self.cuts.insert(cut);
                        } else {
                            self.cuts.remove(&cut);
                        }
                    }
                    self.link_touched.insert(pair(&a, &b), at);
                }
            }
            SimEvent::Hold { from, to, .. } | SimEvent::Release { from, to, .. } => {
                let holding = matches!(event, SimEvent::Hold { .. });
                for (a, b) in self.pairs(from, to) {
                    let link = pair(&a, &b);
                    if holding {
                        self.held.insert(link.clone());
                    } else {
                        self.held.remove(&link);
                    }
                    self.link_touched.insert(link, at);
                }
            }
            SimEvent::Latency {
                from, to, latency, ..
            } => {
                let max = latency
                    .parse::<LatencyRange>()
                    .map_or(self.base_latency_max, |range| range.max);
                for (a, b) in self.pairs(from, to) {
                    let link = pair(&a, &b);
                    self.latency_max.insert(link.clone(), max);
                    self.link_touched.insert(link, at);
                }
            }
            SimEvent::Crash { server, .. } => {
                self.running.remove(server);
                self.server_touched.insert(server.clone(), at);
            }
            SimEvent::Restart { server, .. } => {
                self.server_touched.insert(server.clone(), at);
            }
            // A disk fault may stop the server (a failed sync or a full disk): it touches
            // every link of that server, as a crash does.
            SimEvent::DiskFault { server, .. } => {
                self.server_touched.insert(server.clone(), at);
            }
            // An attacker on the link, armed and then acting at the next chunk: a link that
            // protects what it carries ends there, and links again.
            SimEvent::Tamper { from, to, .. } | SimEvent::Tampered { from, to, .. } => {
                self.link_touched.insert(pair(from, to), at);
            }
            _ => return false,
        }
        true
    }

    /// `server` stopped itself (`shutdown`: its store failed): not running until it is
    /// restarted and listens again, and every link of it is touched, as by a crash.
    pub(super) fn stopped(&mut self, server: &str, at: Duration) {
        self.running.remove(server);
        self.server_touched.insert(server.to_string(), at);
    }

    pub(super) fn latency(&self, link: &Pair) -> Duration {
        self.latency_max
            .get(link)
            .copied()
            .unwrap_or(self.base_latency_max)
    }

    /// A fault touched `link` at `at` (a fault point ended it).
    pub(super) fn touch(&mut self, link: Pair, at: Duration) {
        self.link_touched.insert(link, at);
    }

    /// The last time a fault touched `link` (a step on it, or a crash or restart of an end).
    pub(super) fn last_touched(&self, link: &Pair) -> Option<Duration> {
        [
            self.link_touched.get(link),
            self.server_touched.get(&link.0),
            self.server_touched.get(&link.1),
        ]
        .into_iter()
        .flatten()
        .max()
        .copied()
    }

    /// A cut (either way) or a hold is in effect on `link`, or its latency lets heartbeats miss.
    pub(super) fn disturbed(&self, link: &Pair, limits: &server::config::Limits) -> bool {
        let (a, b) = link;
        self.cuts.contains(&(a.clone(), b.clone()))
            || self.cuts.contains(&(b.clone(), a.clone()))
            || self.held.contains(link)
            || limits.heartbeat_interval + 2 * self.latency(link) >= limits.heartbeat_timeout
    }
}
