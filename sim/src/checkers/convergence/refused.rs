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
//!
//! A server that had to refuse a record does not pass it on either: a server that the servers
//! still holding the record reach only through such servers (its links, classic or persistent,
//! all lead there) cannot be brought the record by any correct herd, so it is not owed it
//! ([`not_owed`]). Nor
//! can a classic link bring it to a neighbour that was down when the record passed, or that
//! the record was never flooded to, or whose flood of it was lost (the server logs the loss,
//! `peer_connect_failed` naming the client, or went down while sending or before the
//! neighbour read the line, or the neighbour refused a connection meanwhile, logged or
//! counted into the next refusal logged): classic links flood once and never catch up, so
//! such a hop is no path. Nor is a server down at the end: it passes nothing on any more, and
//! what it passed on before, its neighbours stored. A server down at the end cuts a record off
//! with no refusal at all: a server whose every path from the holders runs through a server
//! that stopped or a classic hop that never carried the record is owed it no more than one
//! behind a refusal. Classic hops alone excuse nothing: a server they cut off that a refusing
//! or stopped server does not is where the classic herd loses updates, which `convergence`
//! catches (`scenarios/partition.yaml` on `scenarios/herds/classic.yaml`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::events::{Event, LineRefusal};
use server::line::LOGGED_LINE_BYTES_MAX;

use server::protocol::Record;

use super::RunRecord;
use crate::checkers::well_formed::REFUSED_LOG_INTERVAL;
use crate::trace::replay;
use crate::trace::{SimEvent, What};

/// Per server, the records (as AT lines) it had to refuse: too far ahead of its clock (each
/// refusal confirmed by the oracle, and never refused there wrongly) or for a full table
/// ([`super::full::must_refuse_for_size`]).
pub fn must_refuse(run: &RunRecord) -> BTreeMap<String, BTreeSet<String>> {
    let mut refused = must_refuse_as_ahead(run);
    for (server, lines) in super::full::must_refuse_for_size(run) {
        refused.entry(server).or_default().extend(lines);
    }
    refused
}

/// Per server, the records (as AT lines) it refused as too far ahead, each refusal confirmed
/// by the oracle, and never refused there wrongly.
fn must_refuse_as_ahead(run: &RunRecord) -> BTreeMap<String, BTreeSet<String>> {
    let ahead_max = run.limits.timestamp_ahead_max.as_nanos() as i128;
    let mut skews: BTreeMap<&str, i128> = BTreeMap::new();
    let mut confirmed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrongly: BTreeSet<(String, String)> = BTreeSet::new();
    let known: BTreeSet<String> = run
        .trace
        .events
        .iter()
        .filter_map(replay::stored_new)
        .map(|record| record.to_string())
        .collect();
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
                let skew = skews.get(event.host.as_str()).copied().unwrap_or(0);
                let clock = event
                    .wall_clock
                    .and_then(|wall| i128::try_from(wall.as_nanos()).ok())
                    .map(|wall| wall + skew);
                for record in refused_records(line, &known) {
                    let right =
                        clock.is_none_or(|clock| record.timestamp.nanos() > clock + ahead_max);
                    let key = (event.host.clone(), record.to_string());
                    if right {
                        confirmed.entry(key.0).or_default().insert(key.1);
                    } else {
                        wrongly.insert(key);
                    }
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

/// The records a refused `line` stands for. A log event keeps at most
/// [`LOGGED_LINE_BYTES_MAX`] bytes of a line, so a long record's line (an id near its bound)
/// is cut and no longer reads as a record: it stands for every record stored anywhere in the
/// run whose line begins so.
fn refused_records(line: &str, known: &BTreeSet<String>) -> Vec<Record> {
    if let Some(record) = replay::at_line(line) {
        return vec![record];
    }
    if line.len() < LOGGED_LINE_BYTES_MAX {
        return Vec::new();
    }
    known
        .range(line.to_string()..)
        .take_while(|candidate| candidate.starts_with(line))
        .filter_map(|candidate| replay::at_line(candidate))
        .collect()
}

/// The servers `record` is not owed to: those that had to refuse it (`refused`, from
/// [`must_refuse`]), and those that no path of the herd's links from a server still holding
/// it (it stored the record and was not down since; else its origin) reaches without passing
/// through one of them, nor through a server down at the end (it stopped, or crashed and
/// stayed down: a durable server that stopped when its store failed never streamed what it
/// could not sync). A persistent link between running servers brings a record across in
/// the end (a reconcile catches up); a classic link floods it once and never catches up, so
/// it brings the record only to a neighbour that was up when this end stored it and stayed up
/// (one that was down then, or crashed since, never gets it over that link), and only if this
/// end flooded it there and did not lose that flood ([`classic_floods_carried`]). A server
/// that classic hops alone cut off (no better reached where no server blocks the way) is owed
/// the record all the same: that is the classic herd's lost update. The search reads the trace
/// a few times over; callers ask only about records some server may lack.
pub fn not_owed(
    run: &RunRecord,
    record: &Record,
    refused: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let line = record.to_string();
    let refusing: BTreeSet<&str> = refused
        .iter()
        .filter(|(_, lines)| lines.contains(&line))
        .map(|(server, _)| server.as_str())
        .collect();
    let downtime = replay::Downtime::from_trace(run.trace);
    let stores = stores(run, &line);
    let stored_at: BTreeMap<&str, Duration> = stores
        .iter()
        .filter_map(|(server, times)| Some((*server, *times.first()?)))
        .collect();
    // Where the record lives on: a server that stored it and has not been down since. A
    // server that lost it (it crashed) must get it again over a link, as any other.
    let mut holders: Vec<&str> = stores
        .iter()
        .filter(|(server, times)| {
            times
                .last()
                .is_some_and(|at| !downtime.down_during(server, *at, run.end))
        })
        .map(|(server, _)| *server)
        .collect();
    if holders.is_empty() {
        holders.push(record.origin.as_str());
    }
    let links = run
        .classic_links
        .iter()
        .map(|link| (link, true))
        .chain(run.persistent_links.iter().map(|link| (link, false)));
    let links: Vec<(&str, &str, bool)> = links
        .map(|((a, b), classic)| (a.as_str(), b.as_str(), classic))
        .collect();
    let carried = classic_floods_carried(run, &line);
    let missed = |server: &str, next: &str| {
        stored_at
            .get(server)
            .is_some_and(|at| downtime.down_during(next, *at, run.end))
            || !carried.contains(&(server, next))
    };
    let starts: BTreeSet<&str> = holders.iter().copied().collect();
    // A server down at the end passes nothing on any more, and what it passed on before its
    // neighbours stored (they are holders, or lost it again): no path goes through it.
    let reached = reach(&starts, &links, &missed, |server| {
        refusing.contains(server) || (!starts.contains(server) && downtime.down_at_end(server))
    });
    // Where no server blocks it, the classic hops that missed the record cut off the same
    // servers: that is the classic herd's lost update (docs/design.md), owed all the same.
    let unblocked = reach(&starts, &links, &missed, |_| false);
    run.servers
        .iter()
        .filter(|s| {
            let s = s.as_str();
            refusing.contains(s) || (!reached.contains(s) && unblocked.contains(s))
        })
        .cloned()
        .collect()
}

/// The servers a record can travel to from `starts` over `links` (`(a, b, classic)`): through
/// no server `blocked`, and over a classic hop only where it was not `missed` (its one flood
/// from this end never carried the record there).
fn reach<'s>(
    starts: &BTreeSet<&'s str>,
    links: &[(&'s str, &'s str, bool)],
    missed: &dyn Fn(&str, &str) -> bool,
    blocked: impl Fn(&str) -> bool,
) -> BTreeSet<&'s str> {
    let mut reached = starts.clone();
    let mut frontier: Vec<&str> = starts.iter().copied().collect();
    while let Some(server) = frontier.pop() {
        if blocked(server) {
            continue;
        }
        for &(a, b, classic) in links {
            let next = if a == server {
                b
            } else if b == server {
                a
            } else {
                continue;
            };
            if !(classic && missed(server, next)) && reached.insert(next) {
                frontier.push(next);
            }
        }
    }
    reached
}

/// `(server, neighbour)`: the server flooded the record `line` to the classic neighbour and
/// did not lose it. A classic link sends one record at a time on a fresh connection: the
/// flood is lost when a `peer_connect_failed` naming a client comes before the next flood to
/// that neighbour, or, within `peer_connect_timeout` of it and before the next flood there,
/// the server goes down (crash, or its store failed) or the neighbour refuses a connection
/// (at `connections_max`; the sender cannot tell, having written and closed). A flood sent
/// while the neighbour may have refused connections it did not log ([`unlogged_refusals`])
/// may have been lost too. And the next flood starts once this one's line is written, not
/// once it arrived: a server that goes down within `peer_connect_timeout` of a flood whose
/// line the neighbour has not read yet (no `client_line` of it there) may have lost it in
/// flight, even after later floods to that neighbour.
fn classic_floods_carried<'r>(run: &'r RunRecord, line: &str) -> BTreeSet<(&'r str, &'r str)> {
    let timeout = run.limits.peer_connect_timeout;
    let unlogged = unlogged_refusals(run);
    // The last flood from each server to each neighbour: when, and whether it was `line`.
    let mut last: BTreeMap<(&str, &str), (Duration, bool)> = BTreeMap::new();
    // The last flood of `line` from each server to each neighbour that has not read it yet.
    let mut unread: BTreeMap<(&str, &str), Duration> = BTreeMap::new();
    let mut carried = BTreeSet::new();
    let lost = |last: &mut BTreeMap<_, (Duration, bool)>, carried: &mut BTreeSet<_>, key| {
        if let Some((_, true)) = last.remove(&key) {
            carried.remove(&key);
        }
    };
    for event in &run.trace.events {
        let down = match (event.sim_event(), event.server_event()) {
            (Some(SimEvent::Crash { server, .. }), _) => Some(server.as_str()),
            (_, Some(Event::StoreFailed { .. })) => Some(event.host.as_str()),
            _ => None,
        };
        if let Some(server) = down {
            let pending: Vec<(&str, &str)> = last
                .iter()
                .filter(|((from, _), (at, _))| *from == server && event.at <= *at + timeout)
                .map(|(key, _)| *key)
                .collect();
            for key in pending {
                lost(&mut last, &mut carried, key);
            }
            let in_flight: Vec<(&str, &str)> = unread
                .iter()
                .filter(|((from, _), at)| *from == server && event.at <= **at + timeout)
                .map(|(key, _)| *key)
                .collect();
            for key in in_flight {
                unread.remove(&key);
                carried.remove(&key);
            }
            continue;
        }
        match event.server_event() {
            Some(Event::FloodSent { peer, record }) => {
                let key = (event.host.as_str(), peer.as_str());
                let this = record.to_string() == line;
                last.insert(key, (event.at, this));
                if this {
                    unread.insert(key, event.at);
                }
                let unseen = unlogged.get(peer.as_str()).is_some_and(|blind| {
                    blind
                        .iter()
                        .any(|(from, to)| (*from..=*to).contains(&event.at))
                });
                if this && !unseen {
                    carried.insert(key);
                }
            }
            Some(Event::PeerConnectFailed {
                peer,
                client: Some(_),
                ..
            }) => lost(
                &mut last,
                &mut carried,
                (event.host.as_str(), peer.as_str()),
            ),
            Some(Event::ClientLine { line: read, .. }) if read == line => {
                unread.retain(|(_, to), _| *to != event.host);
            }
            // The neighbour refused a connection at `connections_max` while the flood's was
            // coming: its address does not say whose, so it may have been the flood's.
            Some(Event::ConnectionRefused { .. }) => {
                let coming: Vec<(&str, &str)> = last
                    .iter()
                    .filter(|((_, to), (at, _))| {
                        *to == event.host && *at <= event.at && event.at <= *at + timeout
                    })
                    .map(|(key, _)| *key)
                    .collect();
                for key in coming {
                    lost(&mut last, &mut carried, key);
                }
            }
            _ => {}
        }
    }
    carried
}

/// Per server, the stretches in which it may have refused connections it did not log. After a
/// logged `connection_refused` a server logs no other for [`REFUSED_LOG_INTERVAL`] and counts
/// them into the next one's `suppressed`: the stretch is blind when that count is not zero, or
/// when no later refusal of the same life was logged to give it.
fn unlogged_refusals<'r>(run: &'r RunRecord) -> BTreeMap<&'r str, Vec<(Duration, Duration)>> {
    // Per server, each logged refusal: when, and the count it gave (`None`: its life ended).
    let mut logged: BTreeMap<&str, Vec<(Duration, Option<u64>)>> = BTreeMap::new();
    for event in &run.trace.events {
        if let Some(server) = replay::memory_lost(event) {
            logged.entry(server).or_default().push((event.at, None));
        } else if let Some(Event::ConnectionRefused { suppressed, .. }) = event.server_event() {
            let refusals = logged.entry(event.host.as_str()).or_default();
            refusals.push((event.at, Some(*suppressed)));
        }
    }
    logged
        .into_iter()
        .map(|(server, refusals)| {
            let blind = refusals
                .iter()
                .zip(refusals.iter().skip(1).map(Some).chain([None]))
                .filter(|((_, gave), next)| {
                    gave.is_some() && next.is_none_or(|(_, count)| count.is_none_or(|n| n > 0))
                })
                .map(|((at, _), _)| (*at, *at + REFUSED_LOG_INTERVAL))
                .collect();
            (server, blind)
        })
        .collect()
}

/// When each server stored the record `line` (as new), in trace order.
fn stores<'r>(run: &'r RunRecord, line: &str) -> BTreeMap<&'r str, Vec<Duration>> {
    let mut stores: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for event in &run.trace.events {
        if replay::stored_new(event).is_some_and(|r| r.to_string() == line) {
            stores
                .entry(event.host.as_str())
                .or_default()
                .push(event.at);
        }
    }
    stores
}
