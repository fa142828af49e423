//! The reconciliation rule: when `A -> B` comes (back) up, `reconcile` may carry at most the
//! records B may lack: those in A's table that A has not yet sent to B and did not get from
//! B, plus what A sent to B shortly before the link went down (heartbeats take up to
//! `heartbeat_timeout + 2 * heartbeat_interval` to find a cut, so that much was in flight and
//! may be lost). A restart of B (or of A) empties what B is known to hold, so then the whole
//! table is allowed, and only then.
//! A record B sent to A counts as held by B only if B has not lost its memory since.
//! A reconcile that compares whole tables (`full`: B knew no resume point for A) is held to
//! the digest too: it may carry only A's records in the buckets ([`digest_buckets`]) where
//! A's table differs from the one B had when it took A's link (B's inbound `peer_up`), or
//! where A stored or replaced a record since. So after B restarts, the first neighbour to
//! link refills it, and the others send only what that one did not bring.
//! Overload is judged by the same rule: a slow neighbour makes its link lag, and a sender
//! that dropped the link and resent everything would carry more than was due.
//! A flood that B never logged receiving (no `record_stored` or `line_refused` of it from A)
//! was lost in flight whenever it was sent: a write blocked on a dead connection finds the
//! cut only when it times out, up to `heartbeat_timeout` after the heartbeat would have, so
//! the window alone can miss what a cut took first.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::config::Limits;
use server::events::{Direction, Event, Source};

use super::{Seen, ServerTable, Tables};
use crate::checkers::Violation;
use crate::oracle::digest_buckets;
use crate::trace::replay::{UpdateKey, update_key};

/// B's table (client -> update) when it took A's link, per (A, B): what A's digest
/// comparison was against.
type Offered = BTreeMap<(String, String), (Duration, BTreeMap<String, UpdateKey>)>;

/// Per directed link `A -> B`: what B is known to hold of A's, and what went out lately.
#[derive(Default)]
struct LinkSends {
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
    /// Floods A sent to B that B has not logged receiving yet, and when A sent them.
    unreceived: BTreeMap<UpdateKey, Duration>,
}

/// What the reconciliation rule follows.
pub(super) struct Reconciles {
    /// How long before a cut a send may still have been in flight.
    in_flight_window: Duration,
    /// The digest's bucket count for the herd's line limit.
    buckets: u64,
    offered: Offered,
    links: BTreeMap<(String, String), LinkSends>,
    /// Reconciles seen, and the records they carried, for the metric.
    pub(super) count: usize,
    pub(super) records: u64,
}

impl Reconciles {
    pub(super) fn new(limits: &Limits) -> Reconciles {
        Reconciles {
            in_flight_window: limits.heartbeat_timeout + 2 * limits.heartbeat_interval,
            buckets: digest_buckets::bucket_count(limits.line_bytes_max),
            offered: Offered::new(),
            links: BTreeMap::new(),
            count: 0,
            records: 0,
        }
    }

    pub(super) fn lose_memory(&mut self, server: &str) {
        self.offered.retain(|(a, b), _| a != server && b != server);
        for ((a, b), log) in self.links.iter_mut() {
            if a == server || b == server {
                log.known.clear();
                log.unreceived.clear();
            }
        }
    }

    pub(super) fn observe(
        &mut self,
        seen: &Seen,
        tables: &Tables,
        violations: &mut Vec<Violation>,
    ) {
        let host = seen.host.to_string();
        match seen.event {
            Event::PeerUp {
                peer,
                direction: Direction::Inbound,
            } => {
                let table = tables.held.get(&host).map_or_else(BTreeMap::new, |h| {
                    h.records
                        .iter()
                        .map(|(client, (key, _, _))| (client.clone(), key.clone()))
                        .collect()
                });
                self.offered.insert((peer.clone(), host), (seen.at, table));
            }
            Event::PeerUp {
                peer,
                direction: Direction::Outbound,
            } => {
                self.links.entry((host, peer.clone())).or_default().up = true;
            }
            Event::PeerDown {
                peer,
                direction: Direction::Outbound,
                ..
            } => {
                let log = self.links.entry((host, peer.clone())).or_default();
                if log.up {
                    log.down_at = Some(seen.at);
                }
                log.up = false;
            }
            Event::Reconcile {
                peer,
                records,
                full,
            } => self.reconcile(seen, peer, *records, *full, tables, violations),
            Event::FloodSent { peer, record } => {
                let log = self.links.entry((host, peer.clone())).or_default();
                log.known.insert(update_key(record));
                log.unreceived.insert(update_key(record), seen.at);
                log.sent.push((seen.at, 1));
            }
            Event::RecordStored {
                record,
                source: Source::Peer(peer),
                ..
            } => self.received(peer, &host, update_key(record)),
            Event::LineRefused {
                peer: Some(peer),
                line,
                ..
            } => {
                if let Some(record) = crate::trace::replay::at_line(line) {
                    self.received(peer, &host, update_key(&record));
                }
            }
            _ => {}
        }
    }

    /// `to` logged receiving `key` from `from`: that flood was not lost.
    fn received(&mut self, from: &str, to: &str, key: UpdateKey) {
        if let Some(log) = self.links.get_mut(&(from.to_string(), to.to_string())) {
            log.unreceived.remove(&key);
        }
    }

    /// Judges `host`'s reconcile to `peer` carrying `records`.
    fn reconcile(
        &mut self,
        seen: &Seen,
        peer: &str,
        records: u64,
        full: bool,
        tables: &Tables,
        violations: &mut Vec<Violation>,
    ) {
        let host = seen.host;
        let compared = self.offered.remove(&(host.to_string(), peer.to_string()));
        if full && let Some((since, theirs)) = compared {
            let ours = tables.held.get(host);
            let (due, differing) = digest_due(ours, &theirs, since, self.buckets);
            if records > due {
                violations.push(Violation::new(
                    seen.at,
                    format!(
                        "reconcile {host} -> {peer} compared whole tables and carried {records} records; at most {due} were due (the records in the {differing} of {} digest buckets where the tables differ)",
                        self.buckets
                    ),
                ));
            }
        }
        self.count += 1;
        self.records += records;
        let log = self
            .links
            .entry((host.to_string(), peer.to_string()))
            .or_default();
        let table = tables.held.get(host).map(|h| &h.records);
        let peer_lost_at = tables.lost_at.get(peer).copied();
        let unknown = table.map_or(0, |t| {
            t.values()
                .filter(|(key, source, stored_at)| {
                    let sent_by_peer = source.as_deref() == Some(peer)
                        && peer_lost_at.is_none_or(|lost| *stored_at > lost);
                    !sent_by_peer && !log.known.contains(key)
                })
                .count() as u64
        });
        let window = self.in_flight_window;
        let in_flight: u64 = log.down_at.map_or(0, |down| {
            let lately: u64 = log
                .sent
                .iter()
                .filter(|(at, _)| *at + window >= down && *at <= down)
                .map(|(_, n)| n)
                .sum();
            let lost_before = log
                .unreceived
                .values()
                .filter(|at| **at + window < down)
                .count() as u64;
            lately + lost_before
        });
        // The catch-up resends what was lost: it is no longer owed as lost.
        log.unreceived.clear();
        if records > unknown + in_flight {
            violations.push(Violation::new(
                seen.at,
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
        log.sent.push((seen.at, records));
    }
}

/// What a whole-table catch-up from A (`ours`) may carry against B's table when B took the
/// link (`theirs`, at `since`): A's records in every bucket where the two differ, or where A
/// stored or replaced a record since (A compared its table at some moment after `since`).
/// Returns that count and how many buckets differ.
fn digest_due(
    ours: Option<&ServerTable>,
    theirs: &BTreeMap<String, UpdateKey>,
    since: Duration,
    buckets: u64,
) -> (u64, usize) {
    let bucket = |key: &UpdateKey| {
        let (origin, client, timestamp, location, time_diff) = key;
        digest_buckets::bucket(origin, time_diff, client, location, timestamp, buckets)
    };
    let empty = ServerTable::default();
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
