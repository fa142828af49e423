//! `flood_bound` (safety): what crosses a link is bounded by what changed (SPEC section 5).
//!
//! Three rules, all judged per directed link `A -> B` from the trace alone:
//! - **Floods.** Each update crosses each undirected link at most twice (one per direction),
//!   counted from `flood_sent` per update (origin, client, timestamp, location, time
//!   difference); a classic delivery that failed (`peer_connect_failed` naming the client)
//!   never crossed. A restart resets the counts of the links touching that server. A flood never
//!   goes back to the neighbour the record came from.
//! - **Classic resends.** A record from a classic peer that is stale shows that some classic
//!   neighbour holds an old record for that client, and the server cannot tell which: each of
//!   its classic neighbours is sent its record for the client once more. That resend answers
//!   one stale crossing and is not counted against the flood bound; one is owed per server,
//!   classic neighbour and client however many stale records arrived before it went.
//! - **Reconciliation.** When `A -> B` comes (back) up, `reconcile` may carry at most the
//!   records B may lack: those in A's table that A has not yet sent to B and did not get from
//!   B, plus what A sent to B shortly before the link went down (heartbeats take up to
//!   `heartbeat_timeout + 2 * heartbeat_interval` to find a cut, so that much was in flight and
//!   may be lost). A restart of B (or of A) empties what B is known to hold, so then the whole
//!   table is allowed, and only then.
//!   A record B sent to A counts as held by B only if B has not lost its memory since.
//!   A reconcile that compares whole tables (`full`: B knew no resume point for A) is held to
//!   the digest too: it may carry only A's records in the buckets ([`digest_buckets`]) where
//!   A's table differs from the one B had when it took A's link (B's inbound `peer_up`), or
//!   where A stored or replaced a record since. So after B restarts, the first neighbour to
//!   link refills it, and the others send only what that one did not bring.
//!   Overload is judged by the same rule: a slow neighbour makes its link lag, and a sender
//!   that dropped the link and resent everything would carry more than was due.
//! - **Receipts.** A record arrives over a link only if the neighbour sent it: over the run,
//!   the records B stores (whatever the outcome) from A's link are at most what A logged
//!   sending to B, its `flood_sent` to B plus its reconciles' `records` (judged where A's log
//!   is in the trace and A never crashed: a killed real server loses the end of its log). So
//!   a server that sends records without saying so in its trace (where every other rule would
//!   miss them) is caught.
//! - **Refills** (only where the scenario sets `checks.refills_max`): in each life of a
//!   server, the records that whole-table reconciles carry into it, summed over its
//!   neighbours, are at most `refills_max` times the records it stores in that life. The
//!   digest rule above allows each neighbour what the server lacked when it took that
//!   neighbour's link, so three neighbours linking at once may each send the whole table; this
//!   rule holds the herd to one refill, which the accepter's fill wait provides when nothing
//!   slows the first refill beyond `fill_wait`. In the same scenarios, a restarted server
//!   floods as news no update first stored (anywhere in the herd) before it restarted: its
//!   refill is old news to its neighbours, and it waits for the refill before it compares
//!   tables with them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::events::{Direction, Event, Source};
use server::store::Outcome;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::oracle::digest_buckets;
use crate::trace::TraceEvent;
use crate::trace::replay::{self, UpdateKey, update_key};

/// SPEC section 5: each update crosses each link at most twice.
pub const CROSSINGS_PER_LINK_MAX: usize = 2;

pub struct FloodBound;

/// An undirected link, its two ends in name order.
type Link = (String, String);

/// What the checker replays per server: its table (client -> update and where it came from).
#[derive(Default)]
struct Held {
    /// client -> (update, the neighbour it came from if a neighbour, when it was stored).
    records: BTreeMap<String, (UpdateKey, Option<String>, Duration)>,
    /// Records replaced by newer ones, and when: a digest taken before counted them.
    replaced: Vec<(UpdateKey, Duration)>,
}

/// One life of a server, for the refill rule: from when it lost its memory (or the start),
/// the records whole-table reconciles carried into it, and the clients it stored.
#[derive(Default)]
struct Life {
    since: Duration,
    /// It began with a crash or restart (not at the start of the run).
    restarted: bool,
    refilled: u64,
    clients: BTreeSet<String>,
}

impl Life {
    /// The refill rule's violation for this life of `server`, if it broke it.
    fn judge(&self, server: &str, refills_max: u64, ended: Duration) -> Option<Violation> {
        let table = self.clients.len() as u64;
        (self.refilled > refills_max * table).then(|| {
            Violation::new(
                ended,
                format!(
                    "{server} was refilled with {} records by whole-table reconciles in its life from {}, more than {refills_max} x the {table} records it holds: each neighbour sent it the table, where one refill was due",
                    self.refilled,
                    crate::trace::fmt_at(self.since)
                ),
            )
        })
    }
}

/// B's table (client -> update) when it took A's link, per (A, B): what A's digest
/// comparison was against.
type Offered = BTreeMap<(String, String), (Duration, BTreeMap<String, UpdateKey>)>;

/// Per directed link `A -> B`: what B is known to hold of A's, and what went out lately.
#[derive(Default)]
struct LinkLog {
    /// Updates A sent to B (flooded or reconciled) since B last lost its memory.
    known: BTreeSet<UpdateKey>,
    /// Times of A's sends to B (flood messages, and reconciles with their record counts).
    sent: Vec<(Duration, u64)>,
    /// When A last said the link went down after it had been up. A dial whose handshake then
    /// fails (across a cut that accepts connections, as real sockets behind a proxy do) is
    /// another `peer_down` of a link that never came up: what was in flight was lost at the
    /// first one, so later ones do not move this.
    down_at: Option<Duration>,
    /// The link is up (A said `peer_up`): only then does a `peer_down` cut anything in
    /// flight; a session that failed its handshake never carried records.
    up: bool,
}

impl Checker for FloodBound {
    fn name(&self) -> CheckerName {
        CheckerName::FloodBound
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let in_flight_window = run.limits.heartbeat_timeout + 2 * run.limits.heartbeat_interval;
        let mut crossings: BTreeMap<(Link, UpdateKey), usize> = BTreeMap::new();
        // A classic link's last flood per (sender, peer, client): a failed delivery of it
        // (`peer_connect_failed` naming the client) never crossed the link.
        let mut last_classic_flood: BTreeMap<(String, String, String), (Link, UpdateKey)> =
            BTreeMap::new();
        let mut held: BTreeMap<String, Held> = BTreeMap::new();
        let mut offered = Offered::new();
        let buckets = digest_buckets::bucket_count(run.limits.line_bytes_max);
        let mut links: BTreeMap<(String, String), LinkLog> = BTreeMap::new();
        // When each server last lost its memory: what it sent before, it no longer has.
        let mut lost_at: BTreeMap<String, Duration> = BTreeMap::new();
        // (server, classic neighbour, client): a classic resend the server owes.
        let mut resend_owed: BTreeSet<(String, String, String)> = BTreeSet::new();
        let mut violations = Vec::new();
        let (mut sent, mut reconciles, mut reconciled) = (0usize, 0usize, 0u64);
        let mut lives: BTreeMap<String, Life> = BTreeMap::new();
        // When each update was first stored anywhere in the herd.
        let mut first_stored: BTreeMap<UpdateKey, Duration> = BTreeMap::new();
        // Per directed link (sender, receiver): records stored from it, records it logged.
        let mut receipts: BTreeMap<(String, String), Receipts> = BTreeMap::new();
        for event in &run.trace.events {
            count_receipts(&mut receipts, event);
            if let Some(server) = replay::memory_lost(event) {
                let life = Life {
                    since: event.at,
                    restarted: true,
                    ..Life::default()
                };
                if let (Some(ended), Some(max)) = (
                    lives.insert(server.to_string(), life),
                    run.checks.refills_max,
                ) {
                    violations.extend(ended.judge(server, max, event.at));
                }
                resend_owed.retain(|(owing, _, _)| owing != server);
                crossings.retain(|((a, b), _), _| a != server && b != server);
                held.remove(server);
                offered.retain(|(a, b), _| a != server && b != server);
                lost_at.insert(server.to_string(), event.at);
                for ((a, b), log) in links.iter_mut() {
                    if a == server || b == server {
                        log.known.clear();
                    }
                }
                continue;
            }
            let host = event.host.clone();
            let Some(server_event) = event.server_event() else {
                continue;
            };
            if let Event::RecordStored {
                record,
                outcome: Outcome::Stale,
                source: Source::Classic,
            } = server_event
            {
                for neighbour in run.classic_neighbours(&host) {
                    resend_owed.insert((
                        host.clone(),
                        neighbour.to_string(),
                        record.client.clone(),
                    ));
                }
                continue;
            }
            if let Some(record) = replay::stored_new(event) {
                first_stored.entry(update_key(record)).or_insert(event.at);
                lives
                    .entry(host.clone())
                    .or_default()
                    .clients
                    .insert(record.client.clone());
                let source = match server_event {
                    Event::RecordStored {
                        source: Source::Peer(peer),
                        ..
                    } => Some(peer.clone()),
                    _ => None,
                };
                let table = held.entry(host.clone()).or_default();
                if let Some((old, _, _)) = table.records.insert(
                    record.client.clone(),
                    (update_key(record), source, event.at),
                ) {
                    table.replaced.push((old, event.at));
                }
                continue;
            }
            if let Event::PeerUp {
                peer,
                direction: Direction::Inbound,
            } = server_event
            {
                let table = held.get(&host).map_or_else(BTreeMap::new, |h| {
                    h.records
                        .iter()
                        .map(|(client, (key, _, _))| (client.clone(), key.clone()))
                        .collect()
                });
                offered.insert((peer.clone(), host), (event.at, table));
                continue;
            }
            if let Event::PeerUp {
                peer,
                direction: Direction::Outbound,
            } = server_event
            {
                links.entry((host, peer.clone())).or_default().up = true;
                continue;
            }
            if let Event::PeerConnectFailed {
                peer,
                client: Some(client),
                ..
            } = server_event
            {
                let attempt = (host.clone(), peer.clone(), client.clone());
                if let Some(crossing) = last_classic_flood.remove(&attempt)
                    && let Some(count) = crossings.get_mut(&crossing)
                {
                    *count = count.saturating_sub(1);
                }
                continue;
            }
            let (peer, record) = match server_event {
                Event::PeerDown { peer, .. } | Event::Reconcile { peer, .. } => {
                    (peer.clone(), None)
                }
                Event::FloodSent { peer, record } => (peer.clone(), Some(record)),
                _ => continue,
            };
            if let Event::PeerDown { direction, .. } = server_event {
                if *direction == Direction::Outbound {
                    let log = links.entry((host, peer)).or_default();
                    if log.up {
                        log.down_at = Some(event.at);
                    }
                    log.up = false;
                }
                continue;
            }
            if let Event::Reconcile { records, full, .. } = server_event {
                let records = *records;
                if *full {
                    lives.entry(peer.clone()).or_default().refilled += records;
                }
                let compared = offered.remove(&(host.clone(), peer.clone()));
                if *full && let Some((since, theirs)) = compared {
                    let ours = held.get(&host);
                    let (due, differing) = digest_due(ours, &theirs, since, buckets);
                    if records > due {
                        violations.push(Violation::new(
                            event.at,
                            format!(
                                "reconcile {host} -> {peer} compared whole tables and carried {records} records; at most {due} were due (the records in the {differing} of {buckets} digest buckets where the tables differ)"
                            ),
                        ));
                    }
                }
                reconciles += 1;
                reconciled += records;
                let log = links.entry((host.clone(), peer.clone())).or_default();
                let table = held.get(&host).map(|h| &h.records);
                let peer_lost_at = lost_at.get(&peer).copied();
                let unknown = table.map_or(0, |t| {
                    t.values()
                        .filter(|(key, source, stored_at)| {
                            let sent_by_peer = source.as_deref() == Some(peer.as_str())
                                && peer_lost_at.is_none_or(|lost| *stored_at > lost);
                            !sent_by_peer && !log.known.contains(key)
                        })
                        .count() as u64
                });
                let in_flight: u64 = log.down_at.map_or(0, |down| {
                    log.sent
                        .iter()
                        .filter(|(at, _)| *at + in_flight_window >= down && *at <= down)
                        .map(|(_, n)| n)
                        .sum()
                });
                if records > unknown + in_flight {
                    violations.push(Violation::new(
                        event.at,
                        format!(
                            "reconcile {host} -> {peer} carried {records} records; at most {} were due ({unknown} {peer} may lack, {in_flight} in flight when the link went down)",
                            unknown + in_flight
                        ),
                    ));
                }
                if let Some(table) = table {
                    log.known
                        .extend(table.values().map(|(key, _, _)| key.clone()));
                }
                log.sent.push((event.at, records));
                continue;
            }
            let Some(record) = record else {
                continue;
            };
            sent += 1;
            let key = update_key(record);
            if run.checks.refills_max.is_some()
                && let Some(life) = lives.get(&host).filter(|life| life.restarted)
                && let Some(first) = first_stored.get(&key).filter(|first| **first < life.since)
            {
                violations.push(Violation::new(
                    event.at,
                    format!(
                        "{host} restarted at {} and flooded {} {} {} to {peer} as news; it was first stored at {}, before the restart, so its refill had brought it",
                        crate::trace::fmt_at(life.since),
                        key.0,
                        key.1,
                        key.2,
                        crate::trace::fmt_at(*first)
                    ),
                ));
            }
            let came_from = held
                .get(&host)
                .and_then(|h| h.records.get(&key.1))
                .filter(|(held_key, _, _)| *held_key == key)
                .and_then(|(_, source, _)| source.clone());
            if came_from.as_deref() == Some(peer.as_str()) {
                violations.push(Violation::new(
                    event.at,
                    format!(
                        "{host} flooded {} {} {} back to {peer}, the neighbour it came from",
                        key.0, key.1, key.2
                    ),
                ));
            }
            let log = links.entry((host.clone(), peer.clone())).or_default();
            log.known.insert(key.clone());
            log.sent.push((event.at, 1));
            let link = if host <= peer {
                (host.clone(), peer.clone())
            } else {
                (peer.clone(), host.clone())
            };
            let attempt = (host.clone(), peer.clone(), key.1.clone());
            if resend_owed.remove(&attempt) {
                // The resend: not a crossing, so a failed delivery of it takes none back.
                last_classic_flood.remove(&attempt);
                continue;
            }
            last_classic_flood.insert(
                (host.clone(), peer.clone(), key.1.clone()),
                (link.clone(), key.clone()),
            );
            let count = crossings.entry((link.clone(), key.clone())).or_default();
            *count += 1;
            if *count == CROSSINGS_PER_LINK_MAX + 1 {
                violations.push(Violation::new(
                    event.at,
                    format!(
                        "update {} {} {} crossed link {}-{} {} times (bound {CROSSINGS_PER_LINK_MAX}), last {} -> {}",
                        key.0, key.1, key.2, link.0, link.1, *count, host, peer
                    ),
                ));
            }
        }
        if let Some(max) = run.checks.refills_max {
            for (server, life) in &lives {
                violations.extend(life.judge(server, max, run.end));
            }
        }
        // Judged where the sender's own log is in the trace (every server of a run logs its
        // `listening` at start; a hand-made trace may leave a sender out), and the sender
        // never crashed: a real server killed with SIGKILL loses the last few milliseconds of
        // its log, which may hold the sends its neighbour still received.
        let logged: BTreeSet<&str> = run
            .trace
            .events
            .iter()
            .filter(|e| e.server_event().is_some())
            .map(|e| e.host.as_str())
            .collect();
        for ((sender, receiver), counted) in &receipts {
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
        let metric = format!(
            "{sent} flood messages; {reconciled} records reconciled over {reconciles} reconnects"
        );
        Verdict::judge(CheckerName::FloodBound, violations, Some(metric))
    }
}

/// One directed link's receipts rule: what the receiver stored from it, and what the sender
/// logged sending.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Receipts {
    stored: u64,
    sent: u64,
}

/// Counts `event` into the receipts of its link, if it stores or sends records over one.
fn count_receipts(receipts: &mut BTreeMap<(String, String), Receipts>, event: &TraceEvent) {
    let Some(server_event) = event.server_event() else {
        return;
    };
    let host = &event.host;
    match server_event {
        Event::RecordStored {
            source: Source::Peer(peer),
            ..
        } => {
            receipts
                .entry((peer.clone(), host.clone()))
                .or_default()
                .stored += 1;
        }
        Event::FloodSent { peer, .. } => {
            receipts
                .entry((host.clone(), peer.clone()))
                .or_default()
                .sent += 1;
        }
        Event::Reconcile { peer, records, .. } => {
            receipts
                .entry((host.clone(), peer.clone()))
                .or_default()
                .sent += records;
        }
        _ => {}
    }
}

/// What a whole-table catch-up from A (`ours`) may carry against B's table when B took the
/// link (`theirs`, at `since`): A's records in every bucket where the two differ, or where A
/// stored or replaced a record since (A compared its table at some moment after `since`).
/// Returns that count and how many buckets differ.
fn digest_due(
    ours: Option<&Held>,
    theirs: &BTreeMap<String, UpdateKey>,
    since: Duration,
    buckets: u64,
) -> (u64, usize) {
    let bucket = |key: &UpdateKey| {
        let (origin, client, timestamp, location, time_diff) = key;
        digest_buckets::bucket(origin, time_diff, client, location, timestamp, buckets)
    };
    let empty = Held::default();
    let ours = ours.unwrap_or(&empty);
    let mut differing = BTreeSet::new();
    for (client, (key, _, stored_at)) in &ours.records {
        if theirs.get(client) != Some(key) || *stored_at >= since {
            differing.insert(bucket(key));
        }
    }
    for (client, key) in theirs {
        if ours.records.get(client).map(|(ours, _, _)| ours) != Some(key) {
            differing.insert(bucket(key));
        }
    }
    for (key, at) in &ours.replaced {
        if *at >= since {
            differing.insert(bucket(key));
        }
    }
    let due = ours
        .records
        .values()
        .filter(|(key, _, _)| differing.contains(&bucket(key)))
        .count();
    (due as u64, differing.len())
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

    fn reconcile(at: u64, server: &str, peer: &str, records: u64) -> TraceEvent {
        TraceEvent::server(
            ms(at),
            server,
            Event::Reconcile {
                peer: peer.into(),
                records,
                full: false,
            },
        )
    }

    fn up(at: u64, server: &str, peer: &str) -> TraceEvent {
        TraceEvent::server(
            ms(at),
            server,
            Event::PeerUp {
                peer: peer.into(),
                direction: Direction::Outbound,
            },
        )
    }

    fn down(at: u64, server: &str, peer: &str) -> TraceEvent {
        TraceEvent::server(
            ms(at),
            server,
            Event::PeerDown {
                peer: peer.into(),
                direction: Direction::Outbound,
                reason: server::events::LinkEnd::HeartbeatTimeout,
            },
        )
    }

    /// Clark sends kiwi to Bona and says so; Bona stores lime and Clark stores it from
    /// Bona's link, with `bona_says` (if anything) in Bona's log about it.
    fn lime_from_bona(bona_says: Vec<TraceEvent>) -> Verdict {
        let lime = "AT Bona +0.000001000 lime +1+1 1700000000.5";
        let mut events = vec![
            stored(1, "Clark", KIWI, "new"),
            flood(1, "Clark", "Bona", KIWI),
            stored(2, "Bona", KIWI, "new"),
            stored(3, "Bona", lime, "new"),
        ];
        events.extend(bona_says);
        events.push(stored(4, "Clark", lime, "new"));
        verdict(events)
    }

    #[test]
    fn a_record_stored_from_a_link_that_logged_no_send_fails() {
        let lime = "AT Bona +0.000001000 lime +1+1 1700000000.5";
        let v = lime_from_bona(vec![]);
        assert!(!v.ok, "{v}");
        assert_eq!(v.details.len(), 1, "{v}");
        assert!(
            v.details[0]
                .contains("Clark stored 1 records from Bona's link, but Bona logged sending it 0"),
            "{v}"
        );
        // A sender that crashed may have lost the end of its log: not judged.
        let v = lime_from_bona(vec![crash(3, "Bona")]);
        assert!(v.ok, "{v}");
        // Said as a flood, or within a reconcile's count, it passes.
        for send in [
            flood(3, "Bona", "Clark", lime),
            reconcile(3, "Bona", "Clark", 1),
        ] {
            let v = lime_from_bona(vec![send]);
            assert!(v.ok, "{v}");
        }
    }

    #[test]
    fn one_crossing_each_way_passes() {
        let v = verdict(vec![
            stored(1, "Clark", KIWI, "new"),
            flood(1, "Clark", "Bona", KIWI),
            stored(2, "Bona", KIWI, "new"),
            flood(2, "Bona", "Bailey", KIWI),
            reconcile(3, "Bona", "Jaquez", 1),
        ]);
        assert!(v.ok, "{v}");
        assert_eq!(
            v.metric.as_deref(),
            Some("2 flood messages; 1 records reconciled over 1 reconnects")
        );
    }

    fn full_reconcile(at: u64, server: &str, peer: &str, records: u64) -> TraceEvent {
        TraceEvent::server(
            ms(at),
            server,
            Event::Reconcile {
                peer: peer.into(),
                records,
                full: true,
            },
        )
    }

    fn linked_from(at: u64, server: &str, peer: &str) -> TraceEvent {
        TraceEvent::server(
            ms(at),
            server,
            Event::PeerUp {
                peer: peer.into(),
                direction: Direction::Inbound,
            },
        )
    }

    /// Bona and Jaquez both hold kiwi (Bona since 1 ms, Jaquez since 10 ms, refilled); then
    /// Jaquez takes Bona's link, and Bona compares whole tables with it.
    fn refill(bona_carries: u64) -> Verdict {
        verdict(vec![
            stored(1, "Bona", KIWI, "new"),
            stored(10, "Jaquez", KIWI, "new"),
            linked_from(30, "Jaquez", "Bona"),
            full_reconcile(31, "Bona", "Jaquez", bona_carries),
        ])
    }

    #[test]
    fn a_whole_table_catch_up_may_carry_only_the_buckets_that_differ() {
        let v = refill(1);
        assert!(!v.ok, "Jaquez held kiwi when it took Bona's link: {v}");
        assert!(
            v.details[0].contains(
                "reconcile Bona -> Jaquez compared whole tables and carried 1 records; at most 0 were due (the records in the 0 of 256"
            ),
            "{v}"
        );
        assert!(refill(0).ok);
        // Without Jaquez's table at its link-up the rule cannot judge, and the restart rule
        // (the whole table) applies.
        let v = verdict(vec![
            stored(1, "Bona", KIWI, "new"),
            full_reconcile(31, "Bona", "Jaquez", 1),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_record_stored_after_the_link_up_may_be_carried() {
        let lime = "AT Bona +0.000001000 lime +1+1 1700000000.5";
        let v = verdict(vec![
            stored(1, "Bona", KIWI, "new"),
            stored(10, "Jaquez", KIWI, "new"),
            linked_from(30, "Jaquez", "Bona"),
            stored(30, "Bona", lime, "new"),
            full_reconcile(31, "Bona", "Jaquez", 1),
        ]);
        assert!(v.ok, "lime's bucket differs now: {v}");
        let v = verdict(vec![
            stored(1, "Bona", KIWI, "new"),
            linked_from(30, "Jaquez", "Bona"),
            full_reconcile(31, "Bona", "Jaquez", 1),
        ]);
        assert!(v.ok, "Jaquez lacked kiwi: {v}");
    }

    #[test]
    fn a_flood_back_to_where_the_record_came_from_is_caught() {
        let v = verdict(vec![
            stored(1, "Bona", KIWI, "new"),
            flood(2, "Bona", "Clark", KIWI),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].contains("back to Clark"), "{v}");
    }

    #[test]
    fn reconciliation_resending_what_the_neighbour_has_is_caught() {
        // The old rule: every reconnect (and every link cut for overload) resends the table.
        let other = "AT Bona +0.000001000 lime +1+1 1700000000.5";
        let v = verdict(vec![
            stored(1, "Bona", other, "new"),
            flood(1, "Bona", "Jaquez", other),
            down(10_000, "Bona", "Jaquez"),
            reconcile(20_000, "Bona", "Jaquez", 1),
        ]);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("reconcile Bona -> Jaquez carried 1 records; at most 0 were due"),
            "{v}"
        );
    }

    #[test]
    fn records_sent_just_before_a_cut_may_be_resent() {
        let other = "AT Bona +0.000001000 lime +1+1 1700000000.5";
        let v = verdict(vec![
            up(1, "Bona", "Jaquez"),
            stored(9_000, "Bona", other, "new"),
            flood(9_000, "Bona", "Jaquez", other),
            down(10_000, "Bona", "Jaquez"),
            reconcile(20_000, "Bona", "Jaquez", 1),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_failed_classic_delivery_does_not_count_as_a_crossing() {
        let failed = TraceEvent::server(
            ms(2),
            "Clark",
            Event::PeerConnectFailed {
                peer: "Bona".into(),
                error: "connection refused".into(),
                retry_ms: 0,
                client: Some("kiwi".into()),
            },
        );
        let v = verdict(vec![
            flood(1, "Clark", "Bona", KIWI),
            failed,
            flood(3, "Clark", "Bona", KIWI),
            flood(4, "Bona", "Clark", KIWI),
        ]);
        assert!(v.ok, "{v}");
        let v = verdict(vec![
            flood(1, "Clark", "Bona", KIWI),
            flood(3, "Clark", "Bona", KIWI),
            flood(4, "Bona", "Clark", KIWI),
        ]);
        assert!(!v.ok, "without the failure, three crossings are too many");
    }

    /// Bona holds Clark's newer kiwi record; Bailey, a classic neighbour, sent a stale one
    /// (an older kiwi record that crossed Bona's flood), so Bona sends its record again.
    fn classic_resend(stale_first: bool) -> Verdict {
        let older = "AT Bailey +0.000001000 kiwi +1+1 1700000000.1";
        let stale = TraceEvent::server(
            ms(3),
            "Bona",
            Event::RecordStored {
                record: record(older),
                outcome: Outcome::Stale,
                source: Source::Classic,
            },
        );
        let mut events = vec![
            stored(1, "Bona", KIWI, "new"),
            flood(1, "Bona", "Bailey", KIWI),
            flood(2, "Bailey", "Bona", KIWI),
        ];
        if stale_first {
            events.push(stale);
        }
        events.push(flood(4, "Bona", "Bailey", KIWI));
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.classic_links = [("Bailey".to_string(), "Bona".to_string())].into();
        FloodBound.check(&run)
    }

    #[test]
    fn a_resend_to_a_classic_neighbour_that_sent_a_stale_record_is_no_third_crossing() {
        let v = classic_resend(true);
        assert!(v.ok, "{v}");
        let v = classic_resend(false);
        assert!(
            !v.ok,
            "without the stale record, a third crossing is one too many"
        );
    }

    #[test]
    fn a_stale_record_owes_no_resend_on_a_persistent_link() {
        let older = "AT Bailey +0.000001000 kiwi +1+1 1700000000.1";
        let trace = trace(vec![
            stored(1, "Bona", KIWI, "new"),
            flood(1, "Bona", "Bailey", KIWI),
            flood(2, "Bailey", "Bona", KIWI),
            TraceEvent::server(
                ms(3),
                "Bona",
                Event::RecordStored {
                    record: record(older),
                    outcome: Outcome::Stale,
                    source: Source::Classic,
                },
            ),
            flood(4, "Bona", "Bailey", KIWI),
        ]);
        let checks = Checks::default();
        let v = FloodBound.check(&run_record(&trace, &checks));
        assert!(!v.ok, "Bona-Bailey is not classic here: {v}");
    }

    #[test]
    fn a_session_that_never_came_up_does_not_move_the_cut() {
        // Sent just before the real cut; then a redial fails its handshake much later.
        let other = "AT Bona +0.000001000 lime +1+1 1700000000.5";
        let v = verdict(vec![
            up(1, "Bona", "Jaquez"),
            stored(9_000, "Bona", other, "new"),
            flood(9_000, "Bona", "Jaquez", other),
            down(10_000, "Bona", "Jaquez"),
            down(19_000, "Bona", "Jaquez"),
            reconcile(20_000, "Bona", "Jaquez", 1),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_restarted_neighbour_may_get_the_whole_table() {
        let other = "AT Bona +0.000001000 lime +1+1 1700000000.5";
        let v = verdict(vec![
            stored(1, "Bona", KIWI, "new"),
            stored(1, "Bona", other, "new"),
            flood(1, "Bona", "Jaquez", other),
            reconcile(2, "Bona", "Jaquez", 1),
            crash(5_000, "Jaquez"),
            restart(6_000, "Jaquez"),
            reconcile(7_000, "Bona", "Jaquez", 2),
            reconcile(9_000, "Bona", "Jaquez", 1),
        ]);
        assert!(
            !v.ok,
            "only the first reconcile after the restart may carry everything"
        );
        assert_eq!(v.details.len(), 1, "{v}");
        assert!(v.details[0].starts_with("at 9.000s"), "{v}");
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

    fn verdict_with_refills(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks {
            refills_max: Some(1),
            ..Checks::default()
        };
        FloodBound.check(&run_record(&trace, &checks))
    }

    /// Clark held kiwi and crashed; two neighbours refill it. `second` is what the second
    /// neighbour's whole-table reconcile carries.
    fn refilled_twice(second: u64) -> Vec<TraceEvent> {
        vec![
            stored(1, "Clark", KIWI, "new"),
            flood(1, "Clark", "Bona", KIWI),
            flood(1, "Clark", "Jaquez", KIWI),
            stored(2, "Bona", KIWI, "new"),
            stored(2, "Jaquez", KIWI, "new"),
            crash(3, "Clark"),
            restart(4, "Clark"),
            full_reconcile(5, "Bona", "Clark", 1),
            stored(6, "Clark", KIWI, "new"),
            full_reconcile(7, "Jaquez", "Clark", second),
        ]
    }

    #[test]
    fn a_restarted_server_refilled_once_passes() {
        let v = verdict_with_refills(refilled_twice(0));
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_restarted_server_refilled_by_each_neighbour_fails() {
        let v = verdict_with_refills(refilled_twice(1));
        assert!(!v.ok);
        assert!(
            v.details[0].contains(
                "Clark was refilled with 2 records by whole-table reconciles in its life from"
            ),
            "{v}"
        );
        // Without the scenario's opt-in the digest rule alone judges it, and lets it pass.
        let trace = trace(refilled_twice(1));
        let checks = Checks::default();
        assert!(FloodBound.check(&run_record(&trace, &checks)).ok);
    }

    #[test]
    fn a_restarted_server_flooding_its_refill_as_news_fails() {
        let mut events = refilled_twice(0);
        events.push(flood(8, "Clark", "Jaquez", KIWI));
        let v = verdict_with_refills(events);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("Clark restarted at") && v.details[0].contains("as news"),
            "{v}"
        );
    }

    #[test]
    fn a_restarted_server_may_flood_what_is_new_since() {
        let newer = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000009.5";
        let mut events = refilled_twice(0);
        events.push(stored(8, "Clark", newer, "new"));
        events.push(flood(8, "Clark", "Jaquez", newer));
        let v = verdict_with_refills(events);
        assert!(v.ok, "{v}");
    }
}
