//! "Sometimes" properties: named rare behaviours a swarm must see happen at least once, each
//! detected on a finished run's trace. A checker says what must never happen; a property here
//! says what must happen somewhere, so a generator that stopped reaching a corner of the
//! herd's behaviour is noticed instead of passing silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::ControlFlow;
use std::time::Duration;

use server::events::{ConnectionEnd, Event, LineRefusal, LinkEnd, Source, StoreCutKind};
use server::protocol::{Command, Record};
use server::store::Outcome;

use crate::checkers::RunRecord;
use crate::trace::SimEvent;
use crate::trace::replay::{self, Expected, UpdateKey};

/// One rare behaviour, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    WhatsatWaitedThenFound,
    TieBrokenByOrigin,
    ReconcileCarriedRecords,
    HeartbeatDroppedLink,
    StaleRefusedAtPeer,
    PlacesTimeoutAnswered,
    CrashDuringFlood,
    RestartRefilled,
    LimitReached,
    OnewayStaleRead,
    ClassicLinkCarriedRecord,
    WhatsatWaitGaveUp,
    ForgedLinkRefused,
    ForgedClassicRefused,
    PowerLossRecovered,
    HerdPowerCut,
    TornWriteCut,
    FlippedBitCaught,
    FailedSyncStopped,
    FullDiskStopped,
    IdAtBound,
    TimestampAtAheadBound,
    CoordinatesAtBound,
    WhatsatAtMax,
    LineAtLimit,
    SkewedNeighbourRefused,
    HandshakeLineReplayed,
    ZeroTimeDiff,
    TableFilledByUpdates,
    NonNeighbourLinkRefused,
    ImpostorDialled,
    StallersHeld,
    LinkReplayed,
    LinkInjected,
    LinkAltered,
}

impl Property {
    /// Every property, in the order the coverage table lists them.
    pub const ALL: [Property; 35] = [
        Property::WhatsatWaitedThenFound,
        Property::TieBrokenByOrigin,
        Property::ReconcileCarriedRecords,
        Property::HeartbeatDroppedLink,
        Property::StaleRefusedAtPeer,
        Property::PlacesTimeoutAnswered,
        Property::CrashDuringFlood,
        Property::RestartRefilled,
        Property::LimitReached,
        Property::OnewayStaleRead,
        Property::ClassicLinkCarriedRecord,
        Property::WhatsatWaitGaveUp,
        Property::ForgedLinkRefused,
        Property::ForgedClassicRefused,
        Property::PowerLossRecovered,
        Property::HerdPowerCut,
        Property::TornWriteCut,
        Property::FlippedBitCaught,
        Property::FailedSyncStopped,
        Property::FullDiskStopped,
        Property::IdAtBound,
        Property::TimestampAtAheadBound,
        Property::CoordinatesAtBound,
        Property::WhatsatAtMax,
        Property::LineAtLimit,
        Property::SkewedNeighbourRefused,
        Property::HandshakeLineReplayed,
        Property::ZeroTimeDiff,
        Property::TableFilledByUpdates,
        Property::NonNeighbourLinkRefused,
        Property::ImpostorDialled,
        Property::StallersHeld,
        Property::LinkReplayed,
        Property::LinkInjected,
        Property::LinkAltered,
    ];

    /// The name the coverage table prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            Property::WhatsatWaitedThenFound => "whatsat_waited_then_found",
            Property::TieBrokenByOrigin => "tie_broken_by_origin",
            Property::ReconcileCarriedRecords => "reconcile_carried_records",
            Property::HeartbeatDroppedLink => "heartbeat_dropped_link",
            Property::StaleRefusedAtPeer => "stale_refused_at_peer",
            Property::PlacesTimeoutAnswered => "places_timeout_answered",
            Property::CrashDuringFlood => "crash_during_flood",
            Property::RestartRefilled => "restart_refilled",
            Property::LimitReached => "limit_reached",
            Property::OnewayStaleRead => "oneway_stale_read",
            Property::ClassicLinkCarriedRecord => "classic_link_carried_record",
            Property::WhatsatWaitGaveUp => "whatsat_wait_gave_up",
            Property::ForgedLinkRefused => "forged_link_refused",
            Property::ForgedClassicRefused => "forged_classic_refused",
            Property::PowerLossRecovered => "power_loss_recovered",
            Property::HerdPowerCut => "herd_power_cut",
            Property::TornWriteCut => "torn_write_cut",
            Property::FlippedBitCaught => "flipped_bit_caught",
            Property::FailedSyncStopped => "failed_sync_stopped",
            Property::FullDiskStopped => "full_disk_stopped",
            Property::IdAtBound => "id_at_bound",
            Property::TimestampAtAheadBound => "timestamp_at_ahead_bound",
            Property::CoordinatesAtBound => "coordinates_at_bound",
            Property::WhatsatAtMax => "whatsat_at_max",
            Property::LineAtLimit => "line_at_limit",
            Property::SkewedNeighbourRefused => "skewed_neighbour_refused",
            Property::HandshakeLineReplayed => "handshake_line_replayed",
            Property::ZeroTimeDiff => "zero_time_diff",
            Property::TableFilledByUpdates => "table_filled_by_updates",
            Property::NonNeighbourLinkRefused => "non_neighbour_link_refused",
            Property::ImpostorDialled => "impostor_dialled",
            Property::StallersHeld => "stallers_held",
            Property::LinkReplayed => "link_replayed",
            Property::LinkInjected => "link_injected",
            Property::LinkAltered => "link_altered",
        }
    }

    /// What was seen, in one line.
    pub const fn what(self) -> &'static str {
        match self {
            Property::WhatsatWaitedThenFound => "a WHATSAT waited and then got its record",
            Property::TieBrokenByOrigin => "an equal-timestamp tie was broken by origin",
            Property::ReconcileCarriedRecords => "a reconcile carried records",
            Property::HeartbeatDroppedLink => "a link was dropped by heartbeat timeout",
            Property::StaleRefusedAtPeer => "a stale record was refused at a peer",
            Property::PlacesTimeoutAnswered => "a Places timeout was answered",
            Property::CrashDuringFlood => "a crash happened while a flood was in flight",
            Property::RestartRefilled => "a server restarted empty and was refilled",
            Property::LimitReached => "a named limit was reached",
            Property::OnewayStaleRead => "a one-way partition caused a stale read",
            Property::ClassicLinkCarriedRecord => "a classic link carried a record",
            Property::WhatsatWaitGaveUp => "a WHATSAT waited in vain and was answered ?",
            Property::ForgedLinkRefused => {
                "a link refused: no herd certificate for its name, or no valid AUTH"
            }
            Property::ForgedClassicRefused => "a forged classic line was refused",
            Property::PowerLossRecovered => "a server lost power and recovered records from disk",
            Property::HerdPowerCut => "every server lost power at once and came back",
            Property::TornWriteCut => "a torn write was cut at recovery",
            Property::FlippedBitCaught => "a flipped bit was caught at recovery",
            Property::FailedSyncStopped => "a failed sync stopped its server",
            Property::FullDiskStopped => "a full disk stopped its server",
            Property::IdAtBound => "a record for an id of exactly client_id_bytes_max was stored",
            Property::TimestampAtAheadBound => {
                "a timestamp exactly timestamp_ahead_max ahead was stored"
            }
            Property::CoordinatesAtBound => "a record at latitude ±90 or longitude ±180 was stored",
            Property::WhatsatAtMax => "a WHATSAT at radius 50 and bound 20 was answered",
            Property::LineAtLimit => "a line of exactly line_bytes_max bytes was answered",
            Property::SkewedNeighbourRefused => "a neighbour's record too far ahead was refused",
            Property::HandshakeLineReplayed => {
                "a link's handshake line came on a client connection"
            }
            Property::ZeroTimeDiff => "a record with a time difference of exactly zero was stored",
            Property::TableFilledByUpdates => "updates of held clients took a table past its bytes",
            Property::NonNeighbourLinkRefused => {
                "a herd server that is not a neighbour asked for a link"
            }
            Property::ImpostorDialled => "a server dialled an impostor at a down server's address",
            Property::StallersHeld => "handshake stallers held connections at a server",
            Property::LinkReplayed => "an attacker replayed a server's bytes on a live link",
            Property::LinkInjected => "an attacker injected bytes into a live link",
            Property::LinkAltered => "an attacker altered a server's bytes on a live link",
        }
    }

    /// Whether `--require-coverage` fails a swarm that never saw it. Every property is: each
    /// names a path of the server that no scenario family may stop reaching unnoticed.
    pub const fn required(self) -> bool {
        true
    }

    /// Whether the run shows this property.
    pub fn seen(self, run: &RunRecord) -> bool {
        match self {
            Property::WhatsatWaitedThenFound => whatsat_waited(run, true),
            Property::TieBrokenByOrigin => tie_broken_by_origin(run),
            Property::ReconcileCarriedRecords => reconcile_carried_records(run),
            Property::HeartbeatDroppedLink => heartbeat_dropped_link(run),
            Property::StaleRefusedAtPeer => stale_refused_at_peer(run),
            Property::PlacesTimeoutAnswered => places_timeout_answered(run),
            Property::CrashDuringFlood => crash_during_flood(run),
            Property::RestartRefilled => restart_refilled(run),
            Property::LimitReached => limit_reached(run),
            Property::OnewayStaleRead => oneway_stale_read(run),
            Property::ClassicLinkCarriedRecord => classic_link_carried_record(run),
            Property::WhatsatWaitGaveUp => whatsat_waited(run, false),
            Property::ForgedLinkRefused => forged_link_refused(run),
            Property::ForgedClassicRefused => forged_classic_refused(run),
            Property::PowerLossRecovered => power_loss_recovered(run),
            Property::HerdPowerCut => herd_power_cut(run),
            Property::TornWriteCut => store_cut(run, StoreCutKind::Torn),
            Property::FlippedBitCaught => store_cut(run, StoreCutKind::Corrupt),
            Property::FailedSyncStopped => store_failed_after(run, "fail_sync"),
            Property::FullDiskStopped => store_failed_after(run, "full"),
            Property::IdAtBound => values::id_at_bound(run),
            Property::TimestampAtAheadBound => values::timestamp_at_ahead_bound(run),
            Property::CoordinatesAtBound => values::coordinates_at_bound(run),
            Property::WhatsatAtMax => values::whatsat_at_max(run),
            Property::LineAtLimit => values::line_at_limit(run),
            Property::SkewedNeighbourRefused => values::skewed_neighbour_refused(run),
            Property::HandshakeLineReplayed => values::handshake_line_replayed(run),
            Property::ZeroTimeDiff => values::zero_time_diff(run),
            Property::TableFilledByUpdates => values::table_filled_by_updates(run),
            Property::NonNeighbourLinkRefused => values::non_neighbour_link_refused(run),
            Property::ImpostorDialled => attacker::impostor_dialled(run),
            Property::StallersHeld => attacker::stallers_held(run),
            Property::LinkReplayed => attacker::tampered(run, "replay"),
            Property::LinkInjected => attacker::tampered(run, "inject"),
            Property::LinkAltered => attacker::tampered(run, "alter"),
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The properties a run shows.
pub fn observed(run: &RunRecord) -> BTreeSet<Property> {
    Property::ALL
        .into_iter()
        .filter(|property| property.seen(run))
        .collect()
}

fn server_events<'a>(run: &'a RunRecord) -> impl Iterator<Item = (&'a str, &'a Event)> {
    run.trace
        .server_events()
        .map(|(event, what)| (event.host.as_str(), what))
}

/// A `whatsat_wait` that ended with the record found (`found`) or without it.
fn whatsat_waited(run: &RunRecord, found: bool) -> bool {
    server_events(run)
        .any(|(_, event)| matches!(event, Event::WhatsatWait { found: f, .. } if *f == found))
}

/// A server held a record and was offered another for the same client with the very same
/// timestamp from another origin: docs/protocol.md §5's first tie-break decided.
fn tie_broken_by_origin(run: &RunRecord) -> bool {
    replay::store_decisions(run.trace, |_, record, _, held| match held {
        Some(held)
            if held.timestamp.nanos() == record.timestamp.nanos()
                && held.origin != record.origin =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .is_some()
}

fn reconcile_carried_records(run: &RunRecord) -> bool {
    server_events(run)
        .any(|(_, event)| matches!(event, Event::Reconcile { records, .. } if *records > 0))
}

fn heartbeat_dropped_link(run: &RunRecord) -> bool {
    server_events(run).any(|(_, event)| {
        matches!(
            event,
            Event::PeerDown {
                reason: LinkEnd::HeartbeatTimeout,
                ..
            }
        )
    })
}

/// A record that came over a link (persistent or classic) and lost to what the server held.
fn stale_refused_at_peer(run: &RunRecord) -> bool {
    server_events(run).any(|(_, event)| {
        matches!(
            event,
            Event::RecordStored {
                outcome: Outcome::Stale,
                source: Source::Peer(_) | Source::Classic,
                ..
            }
        )
    })
}

/// Places timed out at a server, and a client of that server afterwards got its WHATSAT
/// answered with the error JSON (docs/protocol.md §11: the client still gets an answer).
fn places_timeout_answered(run: &RunRecord) -> bool {
    let mut timed_out: BTreeSet<&str> = BTreeSet::new();
    for event in &run.trace.events {
        match (event.server_event(), event.sim_event()) {
            (Some(Event::PlacesError { kind, .. }), _) if kind == "timeout" => {
                timed_out.insert(event.host.as_str());
            }
            (_, Some(SimEvent::ClientReply { server, text, .. }))
                if timed_out.contains(server.as_str()) && text.contains("\"error_message\"") =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// A flood was sent and not yet stored at its peer when the sender or the peer crashed.
/// Beyond `heartbeat_timeout` a flood no longer counts as in flight: its link is dropped by
/// then, and what it carried goes by reconciliation, not by that flood.
fn crash_during_flood(run: &RunRecord) -> bool {
    let window = run.limits.heartbeat_timeout;
    // (sender, peer, update) -> when it was sent.
    let mut in_flight: BTreeMap<(String, String, UpdateKey), Duration> = BTreeMap::new();
    for event in &run.trace.events {
        if let Some(SimEvent::Crash { server, .. }) = event.sim_event() {
            let hit = in_flight.iter().any(|((sender, peer, _), sent)| {
                (sender == server || peer == server) && event.at.saturating_sub(*sent) <= window
            });
            if hit {
                return true;
            }
            continue;
        }
        match event.server_event() {
            Some(Event::FloodSent { peer, record }) => {
                let key = (event.host.clone(), peer.clone(), replay::update_key(record));
                in_flight.insert(key, event.at);
            }
            Some(Event::RecordStored { record, source, .. }) => {
                let update = replay::update_key(record);
                in_flight.retain(|(sender, peer, key), _| {
                    let delivered = *peer == event.host
                        && *key == update
                        && match source {
                            Source::Peer(from) => from == sender,
                            Source::Classic => true,
                            Source::Client | Source::Disk => false,
                        };
                    !delivered
                });
            }
            _ => {}
        }
    }
    false
}

/// After a restart (empty memory), a neighbour sent the server its whole table, and the table
/// was not empty.
fn restart_refilled(run: &RunRecord) -> bool {
    let mut restarted: BTreeSet<&str> = BTreeSet::new();
    for event in &run.trace.events {
        match (event.sim_event(), event.server_event()) {
            (Some(SimEvent::Restart { server, .. }), _) => {
                restarted.insert(server.as_str());
            }
            (Some(SimEvent::Crash { server, .. }), _) => {
                restarted.remove(server.as_str());
            }
            (
                _,
                Some(Event::Reconcile {
                    peer,
                    records,
                    full: true,
                }),
            ) if *records > 0 && restarted.contains(peer.as_str()) && event.host != *peer => {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// One of the server's named limits was reached: a full table, every connection slot taken,
/// a line over `line_bytes_max` (from a client or a link), an id over `client_id_bytes_max`
/// or a timestamp beyond `timestamp_ahead_max` from a link, a reply the client did not read
/// within `client_write_timeout`, an idle connection closed after `client_idle_timeout`.
fn limit_reached(run: &RunRecord) -> bool {
    let from_server = server_events(run).any(|(_, event)| match event {
        Event::RecordStored { outcome, .. } => *outcome == Outcome::TableFull,
        Event::ConnectionRefused { .. } => true,
        Event::LineRefused { reason, .. } => matches!(
            reason,
            LineRefusal::TooLong
                | LineRefusal::IdTooLong
                | LineRefusal::TextTooLong
                | LineRefusal::TooFarAhead
        ),
        Event::ConnectionClosed { reason, .. } => matches!(
            reason,
            ConnectionEnd::NoClientSlot | ConnectionEnd::WriteTimedOut | ConnectionEnd::IdleTimeout
        ),
        _ => false,
    });
    from_server
        || replay::exchanges(run.trace).iter().any(|exchange| {
            exchange.reply.is_some()
                && replay::expected(exchange.send, run.line_bounds())
                    == (Expected::Invalid { cut: Some(true) })
        })
}

/// A WHATSAT was sent to a server on either side of a one-way partition while it was cut, and
/// its reply showed a record older than one some server had already stored for the client.
fn oneway_stale_read(run: &RunRecord) -> bool {
    let mut newest: BTreeMap<&str, &Record> = BTreeMap::new();
    let mut oneway_cuts: Vec<(&[String], &[String])> = Vec::new();
    // WHATSAT id -> the newest record stored anywhere when it was sent.
    let mut asked: BTreeMap<u64, &Record> = BTreeMap::new();
    for event in &run.trace.events {
        if let Some(record) = replay::stored_new(event) {
            let client = record.client.as_str();
            if newest
                .get(client)
                .is_none_or(|held| record.is_newer_than(held))
            {
                newest.insert(client, record);
            }
            continue;
        }
        match event.sim_event() {
            Some(SimEvent::Partition {
                from,
                to,
                oneway: true,
                ..
            }) => oneway_cuts.push((from, to)),
            Some(SimEvent::Repair {
                from,
                to,
                oneway: true,
                ..
            }) => oneway_cuts.retain(|(f, t)| !(f == from && t == to)),
            Some(SimEvent::ClientSend {
                id, server, line, ..
            }) => {
                let Ok(Command::WhatsAt { client, .. }) = Command::parse_line(line.as_bytes())
                else {
                    continue;
                };
                let cut = oneway_cuts
                    .iter()
                    .any(|(from, to)| from.contains(server) || to.contains(server));
                if cut && let Some(record) = newest.get(client.as_str()) {
                    asked.insert(*id, record);
                }
            }
            Some(SimEvent::ClientReply { id, text, .. }) => {
                let Some(newest_then) = asked.remove(id) else {
                    continue;
                };
                let (first, _) = replay::split_reply(text);
                if replay::at_line(first).is_some_and(|shown| newest_then.is_newer_than(&shown)) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

fn classic_link_carried_record(run: &RunRecord) -> bool {
    server_events(run).any(|(_, event)| {
        matches!(
            event,
            Event::RecordStored {
                outcome: Outcome::New,
                source: Source::Classic,
                ..
            }
        )
    })
}

fn forged_link_refused(run: &RunRecord) -> bool {
    server_events(run).any(|(_, event)| matches!(event, Event::LinkRefused { .. }))
}

/// A classic line refused for who sent it: from no classic neighbour's address, or naming as
/// origin the server itself or a neighbour that authenticates.
fn forged_classic_refused(run: &RunRecord) -> bool {
    server_events(run).any(|(_, event)| {
        matches!(
            event,
            Event::LineRefused {
                reason: LineRefusal::OwnOrigin(_)
                    | LineRefusal::AuthenticatedOrigin(_)
                    | LineRefusal::NotClassicAddress(_),
                ..
            }
        )
    })
}

/// A server lost power (a crash) and, started again, recovered records from its disk.
fn power_loss_recovered(run: &RunRecord) -> bool {
    let mut crashed: BTreeSet<&str> = BTreeSet::new();
    for event in &run.trace.events {
        match (event.sim_event(), event.server_event()) {
            (Some(SimEvent::Crash { server, .. }), _) => {
                crashed.insert(server.as_str());
            }
            (_, Some(Event::StoreRecovered { records, .. }))
                if *records > 0 && crashed.contains(event.host.as_str()) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// Every server of the herd crashed at one instant (a power cut), and one of them then
/// recovered records from its disk.
fn herd_power_cut(run: &RunRecord) -> bool {
    let mut crashed_at: BTreeMap<Duration, BTreeSet<&str>> = BTreeMap::new();
    let mut cut = false;
    for event in &run.trace.events {
        match (event.sim_event(), event.server_event()) {
            (Some(SimEvent::Crash { server, .. }), _) => {
                let at = crashed_at.entry(event.at).or_default();
                at.insert(server.as_str());
                cut |= run.servers.iter().all(|s| at.contains(s.as_str()));
            }
            (_, Some(Event::StoreRecovered { records, .. })) if cut && *records > 0 => {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// A server cut its store's files at recovery, for this reason.
fn store_cut(run: &RunRecord, why: StoreCutKind) -> bool {
    server_events(run)
        .any(|(_, event)| matches!(event, Event::StoreCut { kind, .. } if *kind == why))
}

/// A server's store failed (and it stopped) while the last disk fault on it was `fault`.
fn store_failed_after(run: &RunRecord, fault: &str) -> bool {
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for event in &run.trace.events {
        if let Some(SimEvent::DiskFault { server, fault, .. }) = event.sim_event() {
            last.insert(server.as_str(), fault.as_str());
        }
        if let Some(Event::StoreFailed { .. }) = event.server_event()
            && last.get(event.host.as_str()) == Some(&fault)
        {
            return true;
        }
    }
    false
}

mod attacker;
mod values;

#[cfg(test)]
mod tests;
