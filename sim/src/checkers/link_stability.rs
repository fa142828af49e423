//! `link_stability` (safety): a persistent link goes down, or reconciles records, only when a
//! fault touching one of its ends explains it.
//!
//! A link `A - B` is *touched* by a crash or restart of A or B, and by a `partition`, `repair`,
//! `hold`, `release` or `latency` step whose two groups put A on one side and B on the other.
//! Two windows follow from the limits and the network's latency (`lat`, the larger of the
//! network's maximum and the link's own `latency` step):
//! - `detect = heartbeat_timeout + 2 * heartbeat_interval + 2 * lat`: the longest a connection a
//!   fault killed goes unnoticed (no line, or no `PONG` by the next heartbeat tick);
//! - `settle = detect + peer_connect_timeout + backoff_max + 4 * lat`: that, then a redial that
//!   may wait out its backoff and a dial in flight, then a handshake.
//!
//! Judged per end of each persistent link (classic links have no sessions to judge):
//! - **Drops.** A session that came up (`peer_up`) and ends (`peer_down`, unless for a shutdown)
//!   ends within `detect` of a fault touching the link, or while a cut or hold between its ends
//!   is in effect, or while their latency is so high that heartbeats may miss
//!   (`heartbeat_interval + 2 * max >= heartbeat_timeout`).
//! - **Failed handshakes.** A dialled session that ends before its link came up needs the same
//!   explanation within `settle` (within `heartbeat_timeout + fill_wait + 2 * lat` if that is
//!   longer, for a `handshake timed out`: a cut that swallowed the `LINKED` leaves the dialler
//!   waiting that long), or the neighbour not running: crashed, stopped itself (`shutdown`),
//!   or not yet listening (real mode starts the servers one by one, and the fault proxy
//!   accepts a dial to a server that has not started, then closes it).
//! - **Reconciles.** A `reconcile` that carries records is the first link-up of `A -> B` in the
//!   current lives of both ends (records stored before the links first came up), or comes
//!   within `settle` of a fault touching the link.
//! - **Settled.** When the run lasts `settle` past its last fault, every persistent link
//!   between two running servers (they said `listening` and did not crash or stop since) that
//!   nothing still cuts is up at the end, both ways. A dial whose accepter took the link up
//!   (sent its `LINKED`) while a cut or hold was on the link, or just before one came, may have
//!   lost that `LINKED` while its dialler had not yet taken the link up: that direction is owed
//!   only `linked_wait + peer_connect_timeout + backoff_max + 4 * lat` after (the wait runs
//!   out, then a redial), and the redial's reconcile may carry records until then.
//!
//! A link a BUGGIFY point ended (its `peer_down` reason starts `buggify `) is a fault touching
//! it at that moment, like a crash of the connection.
//!
//! Nothing else explains a link going down. Overload makes a link lag, never drop (docs/protocol.md
//! §8.3); hostile clients cannot take a link's slot
//! (`peer_links_max` is apart from `connections_max`) and a PEER without a valid proof changes
//! nothing; clock skew moves the clock records are stamped with, while heartbeats run on the
//! runtime's timer; Places faults touch no link.

mod network;
mod sessions;

use std::time::Duration;

use server::config::Limits;
use server::events::{Direction, Event, LinkEnd};

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::{SimEvent, fmt_at};
use network::{Network, Pair, pair};
use sessions::Sessions;

pub struct LinkStability;

/// `detect`: the longest a connection a fault killed goes unnoticed, on a link whose latency
/// maximum is `lat`.
fn detect(limits: &Limits, lat: Duration) -> Duration {
    limits.heartbeat_timeout + 2 * limits.heartbeat_interval + 2 * lat
}

/// `settle`: `detect`, then a redial that may wait out its backoff and a dial in flight, then
/// a handshake.
fn settle(limits: &Limits, lat: Duration) -> Duration {
    detect(limits, lat) + limits.peer_connect_timeout + limits.backoff_max + 4 * lat
}

/// `linked_wait`: the longest a dialler waits for a handshake line a fault swallowed after
/// its neighbour sent it: `LINKED`, which the neighbour may hold back for `fill_wait`, is
/// awaited `heartbeat_timeout + fill_wait`, plus a round trip. A one-way cut may drop the
/// `LINKED` while the connection stays open, so the dial fails only then (`handshake timed
/// out`), after the neighbour took the link up.
fn linked_wait(limits: &Limits, lat: Duration) -> Duration {
    limits.heartbeat_timeout + limits.fill_wait() + 2 * lat
}

/// One end's event on a persistent link: who said it, about whom, when.
struct OnLink<'a> {
    at: Duration,
    host: &'a str,
    peer: &'a str,
    link: Pair,
    /// `(host, peer)`.
    key: (String, String),
    /// The link's latency maximum when it was said.
    lat: Duration,
}

/// The replayed network and sessions, and what the rules found so far.
struct Judge<'a> {
    limits: &'a Limits,
    network: Network,
    sessions: Sessions,
    violations: Vec<Violation>,
    drops: usize,
    carrying: usize,
}

impl Judge<'_> {
    /// Whether nothing explains something on `link` at `at`: no fault touched it within
    /// `window` before, and nothing disturbs it now.
    fn unexplained(&self, link: &Pair, at: Duration, window: Duration) -> bool {
        let touched_lately = self
            .network
            .last_touched(link)
            .is_some_and(|touched| at <= touched + window);
        !(touched_lately || self.network.disturbed(link, self.limits))
    }

    /// A partition or hold at `at`: the persistent links it touched and now cuts or holds
    /// may have lost a `LINKED` in flight.
    fn cut_during_handshakes(&mut self, run: &RunRecord, at: Duration) {
        for link in &run.persistent_links {
            if self.network.last_touched(link) == Some(at)
                && self.network.disturbed(link, self.limits)
            {
                self.sessions.cut_during_handshake(&link.0, &link.1, at);
            }
        }
    }

    /// The drops and failed handshakes rules, for a `peer_down`.
    fn peer_down(&mut self, on: OnLink, direction: Direction, reason: &LinkEnd) {
        let OnLink {
            at,
            host,
            peer,
            link,
            key,
            lat,
        } = on;
        let was_up = match direction {
            Direction::Outbound => self.sessions.outbound_up.remove(&key),
            Direction::Inbound => match self.sessions.inbound_up.get_mut(&key) {
                Some(count) if *count > 0 => {
                    *count -= 1;
                    true
                }
                _ => false,
            },
        };
        if matches!(reason, LinkEnd::Shutdown | LinkEnd::ServerStopping) {
            return;
        }
        // A fault point the run turned on ended the link: a fault touching it, now.
        if matches!(reason, LinkEnd::Io(text) if text.starts_with(server::buggify::REASON_PREFIX)) {
            self.network.touch(link, at);
            return;
        }
        let side = match direction {
            Direction::Outbound => "dialled",
            Direction::Inbound => "accepted",
        };
        let (detect, settle) = (detect(self.limits, lat), settle(self.limits, lat));
        if was_up {
            self.drops += 1;
            if self.unexplained(&link, at, detect) {
                self.violations.push(Violation::new(
                    at,
                    format!(
                        "{host}'s {side} link with {peer} went down ({reason}) with no fault touching {}-{} in the {} before",
                        link.0,
                        link.1,
                        fmt_at(detect)
                    ),
                ));
            }
        } else {
            // A dial whose handshake line a fault swallowed fails only when its wait runs out.
            let window = if matches!(reason, LinkEnd::HandshakeTimedOut) {
                settle.max(linked_wait(self.limits, lat))
            } else {
                settle
            };
            if direction == Direction::Outbound
                && self.network.running.contains(peer)
                && self.unexplained(&link, at, window)
            {
                self.violations.push(Violation::new(
                    at,
                    format!(
                        "{host}'s dialled link to {peer} failed before it came up ({reason}) with no fault touching {}-{} in the {} before",
                        link.0,
                        link.1,
                        fmt_at(window)
                    ),
                ));
            }
        }
    }

    /// Whether `dialler`'s link to `accepter` may still be late at `at` for a `LINKED` a cut
    /// or hold may have lost: its wait runs out, then a redial links.
    fn linked_late(&self, dialler: &str, accepter: &str, at: Duration) -> bool {
        let key = (dialler.to_string(), accepter.to_string());
        self.sessions
            .linked_maybe_lost
            .get(&key)
            .is_some_and(|cut| {
                let lat = self.network.latency(&pair(dialler, accepter));
                let redial = self.limits.peer_connect_timeout + self.limits.backoff_max + 4 * lat;
                at < *cut + linked_wait(self.limits, lat) + redial
            })
    }

    /// The reconciles rule.
    fn reconcile(&mut self, on: OnLink, records: u64) {
        let settle = settle(self.limits, on.lat);
        let first_in_life = self.sessions.linked_in_life.insert(on.key.clone());
        if records > 0 {
            self.carrying += 1;
            if !first_in_life
                && self.unexplained(&on.link, on.at, settle)
                && !self.linked_late(on.host, on.peer, on.at)
            {
                self.violations.push(Violation::new(
                    on.at,
                    format!(
                        "{} reconciled {records} records with {} with no fault touching {}-{} in the {} before",
                        on.host,
                        on.peer,
                        on.link.0,
                        on.link.1,
                        fmt_at(settle)
                    ),
                ));
            }
        }
    }

    /// The settled rule, when the run lasts `settle` past its last fault: whether it was
    /// judged.
    fn settled(&mut self, run: &RunRecord) -> bool {
        let settled_by = run.quiet_since + settle(self.limits, self.network.base_latency_max);
        if run.end < settled_by {
            return false;
        }
        let excused = |dialler: &str, accepter: &str| self.linked_late(dialler, accepter, run.end);
        let mut violations = Vec::new();
        for link in &run.persistent_links {
            let (a, b) = link;
            if !self.network.running.contains(a)
                || !self.network.running.contains(b)
                || self.network.disturbed(link, self.limits)
            {
                continue;
            }
            for missing in self.sessions.up_both_ways(a, b, excused) {
                violations.push(Violation::new(
                    run.end,
                    format!(
                        "at the end, {} after the last fault, {missing}",
                        fmt_at(run.end.saturating_sub(run.quiet_since))
                    ),
                ));
            }
        }
        self.violations.extend(violations);
        true
    }
}

impl Checker for LinkStability {
    fn name(&self) -> CheckerName {
        CheckerName::LinkStability
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut judge = Judge {
            limits: &run.limits,
            network: Network::new(
                run.servers.iter().cloned().collect(),
                run.network_latency_max,
            ),
            sessions: Sessions::default(),
            violations: Vec::new(),
            drops: 0,
            carrying: 0,
        };
        for event in &run.trace.events {
            if event.at > run.end {
                // The graceful stop after the run ends every link; it is not judged.
                break;
            }
            if let Some(sim_event) = event.sim_event() {
                if judge.network.apply(sim_event, event.at)
                    && let Some(server) = sim_event.memory_lost()
                {
                    judge.sessions.forget(server);
                }
                if matches!(
                    sim_event,
                    SimEvent::Partition { .. } | SimEvent::Hold { .. }
                ) {
                    judge.cut_during_handshakes(run, event.at);
                }
                continue;
            }
            let Some(server_event) = event.server_event() else {
                continue;
            };
            let host = event.host.as_str();
            let peer = match server_event {
                Event::Listening { .. } => {
                    judge.network.running.insert(host.to_string());
                    continue;
                }
                Event::Shutdown { .. } => {
                    judge.network.stopped(host, event.at);
                    continue;
                }
                Event::PeerUp { peer, .. }
                | Event::PeerDown { peer, .. }
                | Event::Reconcile { peer, .. } => peer.as_str(),
                _ => continue,
            };
            let link = pair(host, peer);
            if !run.persistent_links.contains(&link) {
                continue;
            }
            let on = OnLink {
                at: event.at,
                host,
                peer,
                lat: judge.network.latency(&link),
                link,
                key: (host.to_string(), peer.to_string()),
            };
            match server_event {
                Event::PeerUp {
                    direction: Direction::Outbound,
                    ..
                } => {
                    judge.sessions.outbound_up.insert(on.key);
                }
                Event::PeerUp {
                    direction: Direction::Inbound,
                    ..
                } => {
                    *judge.sessions.inbound_up.entry(on.key).or_default() += 1;
                    // Its `LINKED` goes into a cut or hold: the dialler may never get it.
                    if judge.network.disturbed(&on.link, judge.limits) {
                        judge.sessions.cut_during_handshake(peer, host, event.at);
                    }
                }
                Event::PeerDown {
                    direction, reason, ..
                } => judge.peer_down(on, *direction, reason),
                Event::Reconcile { records, .. } => judge.reconcile(on, *records),
                _ => {}
            }
        }
        let judged_at_end = judge.settled(run);
        let metric = format!(
            "{} links went down, {} reconciles carried records; links at the end {}",
            judge.drops,
            judge.carrying,
            if judged_at_end {
                "judged"
            } else {
                "not judged (the run ends within the settle window)"
            }
        );
        Verdict::judge(CheckerName::LinkStability, judge.violations, Some(metric))
    }
}

#[cfg(test)]
mod tests;
