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
//!   explanation within `settle`, or the neighbour not running: crashed, or not yet listening
//!   (real mode starts the servers one by one, and the fault proxy accepts a dial to a server
//!   that has not started, then closes it).
//! - **Reconciles.** A `reconcile` that carries records is the first link-up of `A -> B` in the
//!   current lives of both ends (records stored before the links first came up), or comes
//!   within `settle` of a fault touching the link.
//! - **Settled.** When the run lasts `settle` past its last fault, every persistent link
//!   between two running servers (they said `listening` and did not crash since) that
//!   nothing still cuts is up at the end, both ways.
//!
//! Nothing else explains a link going down. Overload makes a link lag, never drop (README,
//! "How the herd stays consistent"); hostile clients cannot take a link's slot
//! (`peer_links_max` is apart from `connections_max`) and a PEER without a valid proof changes
//! nothing; clock skew moves the clock records are stamped with, while heartbeats run on the
//! runtime's timer; Places faults touch no link.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::events::{Direction, Event, LinkEnd};

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::scenario::LatencyRange;
use crate::trace::{SimEvent, fmt_at};

pub struct LinkStability;

/// An undirected link, its ends in name order.
type Pair = (String, String);

fn pair(a: &str, b: &str) -> Pair {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// The network as the fault steps left it, and when each link was last touched.
struct Network {
    servers: BTreeSet<String>,
    /// Directed cuts `(from, to)` of partitions not yet repaired.
    cuts: BTreeSet<(String, String)>,
    /// Links whose messages are held.
    held: BTreeSet<Pair>,
    /// Links whose latency a `latency` step changed: the range's maximum.
    latency_max: BTreeMap<Pair, Duration>,
    /// The scenario's network latency maximum, for every other link.
    base_latency_max: Duration,
    /// When a network step last touched each link.
    link_touched: BTreeMap<Pair, Duration>,
    /// When each server last crashed or restarted.
    server_touched: BTreeMap<String, Duration>,
    /// Servers the trace shows running: they said `listening` and have not crashed since.
    running: BTreeSet<String>,
}

impl Network {
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
    fn apply(&mut self, event: &SimEvent, at: Duration) -> bool {
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
            _ => return false,
        }
        true
    }

    fn latency(&self, link: &Pair) -> Duration {
        self.latency_max
            .get(link)
            .copied()
            .unwrap_or(self.base_latency_max)
    }

    /// The last time a fault touched `link` (a step on it, or a crash or restart of an end).
    fn last_touched(&self, link: &Pair) -> Option<Duration> {
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
    fn disturbed(&self, link: &Pair, limits: &server::config::Limits) -> bool {
        let (a, b) = link;
        self.cuts.contains(&(a.clone(), b.clone()))
            || self.cuts.contains(&(b.clone(), a.clone()))
            || self.held.contains(link)
            || limits.heartbeat_interval + 2 * self.latency(link) >= limits.heartbeat_timeout
    }
}

/// Each end's sessions, as its own events tell them.
#[derive(Default)]
struct Sessions {
    /// `(host, peer)`: the host's dialled session to the peer is up.
    outbound_up: BTreeSet<(String, String)>,
    /// `(host, peer)`: how many accepted sessions from the peer are up (a new one may come up
    /// before a half-dead old one times out).
    inbound_up: BTreeMap<(String, String), usize>,
    /// `(host, peer)`: the host's link to the peer came up in the current lives of both.
    linked_in_life: BTreeSet<(String, String)>,
}

impl Sessions {
    /// `server` lost its memory: its own sessions are gone, and no link of its new life has
    /// come up yet (its neighbours' sessions to it end by their own events).
    fn forget(&mut self, server: &str) {
        self.outbound_up.retain(|(host, _)| host != server);
        self.inbound_up.retain(|(host, _), _| host != server);
        self.linked_in_life
            .retain(|(host, peer)| host != server && peer != server);
    }

    fn up_both_ways(&self, a: &str, b: &str) -> Vec<String> {
        let mut missing = Vec::new();
        for (dialler, accepter) in [(a, b), (b, a)] {
            let key = (dialler.to_string(), accepter.to_string());
            if !self.outbound_up.contains(&key) {
                missing.push(format!("{dialler}'s link to {accepter} is not up"));
            }
            let key = (accepter.to_string(), dialler.to_string());
            if self.inbound_up.get(&key).copied().unwrap_or(0) == 0 {
                missing.push(format!("{accepter} holds no link from {dialler}"));
            }
        }
        missing
    }
}

impl Checker for LinkStability {
    fn name(&self) -> CheckerName {
        CheckerName::LinkStability
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let limits = &run.limits;
        let mut network = Network {
            servers: run.servers.iter().cloned().collect(),
            cuts: BTreeSet::new(),
            held: BTreeSet::new(),
            latency_max: BTreeMap::new(),
            base_latency_max: run.network_latency_max,
            link_touched: BTreeMap::new(),
            server_touched: BTreeMap::new(),
            running: BTreeSet::new(),
        };
        let detect =
            |lat: Duration| limits.heartbeat_timeout + 2 * limits.heartbeat_interval + 2 * lat;
        let settle = |lat: Duration| {
            detect(lat) + limits.peer_connect_timeout + limits.backoff_max + 4 * lat
        };
        let mut sessions = Sessions::default();
        let mut violations = Vec::new();
        let (mut drops, mut carrying) = (0usize, 0usize);
        // `None` when nothing explains it; otherwise the caller is satisfied.
        let unexplained = |network: &Network, link: &Pair, at: Duration, window: Duration| {
            let touched_lately = network
                .last_touched(link)
                .is_some_and(|touched| at <= touched + window);
            !(touched_lately || network.disturbed(link, limits))
        };
        for event in &run.trace.events {
            if event.at > run.end {
                // The graceful stop after the run ends every link; it is not judged.
                break;
            }
            if let Some(sim_event) = event.sim_event() {
                if network.apply(sim_event, event.at)
                    && let Some(server) = sim_event.memory_lost()
                {
                    sessions.forget(server);
                }
                continue;
            }
            let Some(server_event) = event.server_event() else {
                continue;
            };
            let host = event.host.as_str();
            if let Event::Listening { .. } = server_event {
                network.running.insert(host.to_string());
                continue;
            }
            let (peer, direction) = match server_event {
                Event::PeerUp { peer, direction }
                | Event::PeerDown {
                    peer, direction, ..
                } => (peer.as_str(), Some(*direction)),
                Event::Reconcile { peer, .. } => (peer.as_str(), None),
                _ => continue,
            };
            let link = pair(host, peer);
            if !run.persistent_links.contains(&link) {
                continue;
            }
            let key = (host.to_string(), peer.to_string());
            let lat = network.latency(&link);
            match (server_event, direction) {
                (Event::PeerUp { .. }, Some(Direction::Outbound)) => {
                    sessions.outbound_up.insert(key);
                }
                (Event::PeerUp { .. }, Some(Direction::Inbound)) => {
                    *sessions.inbound_up.entry(key).or_default() += 1;
                }
                (Event::PeerDown { reason, .. }, Some(direction)) => {
                    let was_up = match direction {
                        Direction::Outbound => sessions.outbound_up.remove(&key),
                        Direction::Inbound => match sessions.inbound_up.get_mut(&key) {
                            Some(count) if *count > 0 => {
                                *count -= 1;
                                true
                            }
                            _ => false,
                        },
                    };
                    if matches!(reason, LinkEnd::Shutdown | LinkEnd::ServerStopping) {
                        continue;
                    }
                    let side = match direction {
                        Direction::Outbound => "dialled",
                        Direction::Inbound => "accepted",
                    };
                    if was_up {
                        drops += 1;
                        if unexplained(&network, &link, event.at, detect(lat)) {
                            violations.push(Violation::new(
                                event.at,
                                format!(
                                    "{host}'s {side} link with {peer} went down ({reason}) with no fault touching {}-{} in the {} before",
                                    link.0,
                                    link.1,
                                    fmt_at(detect(lat))
                                ),
                            ));
                        }
                    } else if direction == Direction::Outbound
                        && network.running.contains(peer)
                        && unexplained(&network, &link, event.at, settle(lat))
                    {
                        violations.push(Violation::new(
                            event.at,
                            format!(
                                "{host}'s dialled link to {peer} failed before it came up ({reason}) with no fault touching {}-{} in the {} before",
                                link.0,
                                link.1,
                                fmt_at(settle(lat))
                            ),
                        ));
                    }
                }
                (Event::Reconcile { records, .. }, _) => {
                    let first_in_life = sessions.linked_in_life.insert(key);
                    if *records > 0 {
                        carrying += 1;
                        if !first_in_life && unexplained(&network, &link, event.at, settle(lat)) {
                            violations.push(Violation::new(
                                event.at,
                                format!(
                                    "{host} reconciled {records} records with {peer} with no fault touching {}-{} in the {} before",
                                    link.0,
                                    link.1,
                                    fmt_at(settle(lat))
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        let settled_by = run.quiet_since + settle(network.base_latency_max);
        let judged_at_end = run.end >= settled_by;
        if judged_at_end {
            for link in &run.persistent_links {
                let (a, b) = link;
                if !network.running.contains(a)
                    || !network.running.contains(b)
                    || network.disturbed(link, limits)
                {
                    continue;
                }
                for missing in sessions.up_both_ways(a, b) {
                    violations.push(Violation::new(
                        run.end,
                        format!(
                            "at the end, {} after the last fault, {missing}",
                            fmt_at(run.end.saturating_sub(run.quiet_since))
                        ),
                    ));
                }
            }
        }
        let metric = format!(
            "{drops} links went down, {carrying} reconciles carried records; links at the end {}",
            if judged_at_end {
                "judged"
            } else {
                "not judged (the run ends within the settle window)"
            }
        );
        Verdict::judge(CheckerName::LinkStability, violations, Some(metric))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::{Action, Checks, LinkCut};
    use crate::trace::TraceEvent;

    fn verdict(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        LinkStability.check(&run_record(&trace, &checks))
    }

    fn up(at: u64, host: &str, peer: &str, direction: Direction) -> TraceEvent {
        let peer = peer.into();
        TraceEvent::server(ms(at), host, Event::PeerUp { peer, direction })
    }

    fn down(at: u64, host: &str, peer: &str, direction: Direction, reason: LinkEnd) -> TraceEvent {
        let peer = peer.into();
        let event = Event::PeerDown {
            peer,
            direction,
            reason,
        };
        TraceEvent::server(ms(at), host, event)
    }

    fn reconcile(at: u64, host: &str, peer: &str, records: u64) -> TraceEvent {
        let peer = peer.into();
        let event = Event::Reconcile {
            peer,
            records,
            full: false,
        };
        TraceEvent::server(ms(at), host, event)
    }

    /// `dialler`'s link to `accepter` comes up at both ends, with its reconcile.
    fn link_up(at: u64, dialler: &str, accepter: &str, records: u64) -> Vec<TraceEvent> {
        vec![
            up(at, accepter, dialler, Direction::Inbound),
            up(at, dialler, accepter, Direction::Outbound),
            reconcile(at, dialler, accepter, records),
        ]
    }

    /// Every server of the default herd listening, and every link up both ways at `at`, each
    /// reconcile carrying `records`.
    fn herd_up_with(at: u64, records: u64) -> Vec<TraceEvent> {
        let listening = HERD.iter().map(|server| {
            let addr = format!("{server}:10000");
            TraceEvent::server(ms(at), *server, Event::Listening { addr })
        });
        let links = default_links()
            .into_iter()
            .flat_map(|(a, b)| [link_up(at, &a, &b, records), link_up(at, &b, &a, records)])
            .flatten();
        listening.chain(links).collect()
    }

    fn herd_up(at: u64) -> Vec<TraceEvent> {
        herd_up_with(at, 0)
    }

    fn partition(at: u64, between: &[&str], and: &[&str]) -> TraceEvent {
        let cut = LinkCut {
            between: between.iter().map(|s| s.to_string()).collect(),
            and: and.iter().map(|s| s.to_string()).collect(),
            oneway: false,
        };
        TraceEvent::fault(ms(at), 7, &Action::Partition(cut)).expect("a partition is a fault")
    }

    fn repair(at: u64, between: &[&str], and: &[&str]) -> TraceEvent {
        let cut = LinkCut {
            between: between.iter().map(|s| s.to_string()).collect(),
            and: and.iter().map(|s| s.to_string()).collect(),
            oneway: false,
        };
        TraceEvent::fault(ms(at), 8, &Action::Repair(cut)).expect("a repair is a fault")
    }

    fn with(mut events: Vec<TraceEvent>, more: Vec<TraceEvent>) -> Vec<TraceEvent> {
        events.extend(more);
        events
    }

    #[test]
    fn a_steady_herd_passes() {
        let v = verdict(herd_up(10));
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_link_dropped_on_heartbeat_with_no_fault_is_caught() {
        // PING never answered: a link no fault touched dies on its heartbeat, and redials.
        let v = verdict(with(
            herd_up(10),
            with(
                vec![down(
                    4_010,
                    "Bailey",
                    "Bona",
                    Direction::Outbound,
                    LinkEnd::HeartbeatTimeout,
                )],
                link_up(4_200, "Bailey", "Bona", 0),
            ),
        ));
        assert!(!v.ok);
        assert_eq!(
            v.details[0],
            "at 4.010s: Bailey's dialled link with Bona went down (heartbeat timeout) with no fault touching Bailey-Bona in the 5.010s before"
        );
    }

    #[test]
    fn a_drop_after_a_partition_of_its_ends_is_explained_and_others_are_not() {
        let mut events = herd_up(10);
        events.push(partition(1_000, &["Clark"], &["Bona", "Jaquez"]));
        events.push(down(
            4_500,
            "Clark",
            "Bona",
            Direction::Outbound,
            LinkEnd::HeartbeatTimeout,
        ));
        events.push(down(
            4_500,
            "Bona",
            "Clark",
            Direction::Inbound,
            LinkEnd::HeartbeatTimeout,
        ));
        events.push(down(
            4_600,
            "Bailey",
            "Campbell",
            Direction::Inbound,
            LinkEnd::ClosedByPeer,
        ));
        events.push(repair(5_000, &["Clark"], &["Bona", "Jaquez"]));
        events.extend(link_up(5_200, "Clark", "Bona", 1));
        // Jaquez's side noticed only after the repair, within the window.
        events.push(down(
            7_000,
            "Jaquez",
            "Clark",
            Direction::Outbound,
            LinkEnd::HeartbeatTimeout,
        ));
        events.extend(link_up(7_300, "Jaquez", "Clark", 1));
        let (untouched, events): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| {
            e.host == "Bailey" && matches!(e.server_event(), Some(Event::PeerDown { .. }))
        });
        let v = verdict(events.clone());
        assert!(v.ok, "{v}");

        // The same, with a link the partition did not touch going down meanwhile.
        let mut events = events;
        let at = events
            .iter()
            .position(|e| e.at > ms(4_600))
            .unwrap_or(events.len());
        events.splice(at..at, untouched);
        let v = verdict(events);
        assert!(!v.ok);
        assert_eq!(v.details.len(), 2, "{v}");
        assert!(
            v.details[0].contains("Bailey's accepted link with Campbell went down"),
            "{v}"
        );
        assert!(
            v.details[1].contains("Bailey holds no link from Campbell"),
            "{v}"
        );
    }

    #[test]
    fn a_reconcile_with_records_long_after_the_last_fault_is_caught() {
        let mut events = herd_up(10);
        events.push(crash(1_000, "Clark"));
        events.push(restart(2_000, "Clark"));
        events.extend(link_up(2_100, "Clark", "Bona", 0));
        events.extend(link_up(2_100, "Bona", "Clark", 3));
        events.extend(link_up(2_100, "Clark", "Jaquez", 0));
        events.extend(link_up(2_100, "Jaquez", "Clark", 3));
        let v = verdict(events.clone());
        assert!(v.ok, "{v}");

        // A second link-up with records, 20 s later, with no drop in the trace.
        events.extend(link_up(22_000, "Bona", "Clark", 2));
        let v = verdict(events);
        assert!(!v.ok);
        assert_eq!(
            v.details[0],
            "at 22.000s: Bona reconciled 2 records with Clark with no fault touching Bona-Clark in the 9.030s before"
        );
    }

    #[test]
    fn records_in_the_first_reconcile_of_a_life_are_explained() {
        let v = verdict(herd_up_with(10, 4));
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_neighbour_refused_at_the_handshake_is_caught() {
        // A server that never takes its neighbours' PEER: every dial fails, no link comes up.
        let mut events: Vec<TraceEvent> = herd_up(10)
            .into_iter()
            .filter(|e| !matches!(e.server_event(), Some(Event::PeerUp { peer, .. } | Event::Reconcile { peer, .. }) if peer == "Clark"))
            .filter(|e| {
                e.host != "Clark" || matches!(e.server_event(), Some(Event::Listening { .. }))
            })
            .collect();
        events.push(down(
            20,
            "Bona",
            "Clark",
            Direction::Outbound,
            LinkEnd::SpeaksClassic,
        ));
        let v = verdict(events);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("Bona's dialled link to Clark failed before it came up"),
            "{v}"
        );
        assert!(
            v.details
                .iter()
                .any(|d| d.contains("Clark's link to Bona is not up")),
            "{v}"
        );
    }

    #[test]
    fn a_crashed_neighbour_explains_the_drop_and_the_failed_redials() {
        let mut events = herd_up(10);
        events.push(crash(1_000, "Clark"));
        for (host, direction) in [("Bona", Direction::Outbound), ("Bona", Direction::Inbound)] {
            events.push(down(
                4_000,
                host,
                "Clark",
                direction,
                LinkEnd::HeartbeatTimeout,
            ));
        }
        events.push(down(
            4_100,
            "Jaquez",
            "Clark",
            Direction::Inbound,
            LinkEnd::HeartbeatTimeout,
        ));
        events.push(down(
            4_100,
            "Jaquez",
            "Clark",
            Direction::Outbound,
            LinkEnd::HeartbeatTimeout,
        ));
        // Long after the crash, a redial to the crashed server still fails.
        events.push(down(
            30_000,
            "Bona",
            "Clark",
            Direction::Outbound,
            LinkEnd::ClosedDuringHandshake,
        ));
        let v = verdict(events);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_dial_to_a_neighbour_not_yet_listening_is_explained() {
        // Real mode starts servers one by one: Bailey dials Bona's proxy before Bona listens.
        let early = down(
            0,
            "Bailey",
            "Bona",
            Direction::Outbound,
            LinkEnd::ClosedDuringHandshake,
        );
        let v = verdict(with(vec![early.clone()], herd_up(10)));
        assert!(v.ok, "{v}");
        let v = verdict(with(herd_up(0), vec![early]));
        assert!(!v.ok, "once Bona listens, a failed handshake needs a fault");
    }

    #[test]
    fn a_graceful_stop_is_not_a_drop() {
        let mut events = herd_up(10);
        events.push(down(
            3_000,
            "Bona",
            "Clark",
            Direction::Outbound,
            LinkEnd::Shutdown,
        ));
        events.extend(link_up(3_100, "Bona", "Clark", 0));
        let v = verdict(events);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_latency_that_outlasts_the_heartbeat_explains_drops_while_it_lasts() {
        let slow = |at: u64, latency: &str| {
            let step = Action::Latency(crate::scenario::LinkLatency {
                between: vec!["Bailey".into()],
                and: vec!["Bona".into()],
                latency: latency.parse().expect("a latency range"),
            });
            TraceEvent::fault(ms(at), 9, &step).expect("a latency step is a fault")
        };
        let drop_at = |at: u64| {
            down(
                at,
                "Bailey",
                "Bona",
                Direction::Outbound,
                LinkEnd::HeartbeatTimeout,
            )
        };
        let mut events = herd_up(10);
        events.push(slow(1_000, "1s..1500ms"));
        events.push(drop_at(20_000));
        events.extend(link_up(20_500, "Bailey", "Bona", 0));
        let v = verdict(events);
        assert!(v.ok, "{v}");

        let mut events = herd_up(10);
        events.push(slow(1_000, "20ms..200ms"));
        events.push(drop_at(20_000));
        events.extend(link_up(20_500, "Bailey", "Bona", 0));
        let v = verdict(events);
        assert!(!v.ok, "200 ms each way leaves heartbeats time to spare");
    }
}
