//! Each property on a hand-made trace that shows it and on a near miss that does not.

use server::events::{
    ConnectionEnd, Direction, Event, LineRefusal, LinkEnd, LinkRefusal, Source, StoreCutKind,
};
use server::store::Outcome;

use super::Property;
use crate::checkers::testing::*;
use crate::scenario::{Action, Checks, DiskFaultKind, DiskStep, LinkCut};
use crate::trace::{Trace, TraceEvent};

const KIWI_CLARK: &str = "AT Clark +0.000000000 kiwi +1+1 1700000001";
const KIWI_BONA_SAME_TIME: &str = "AT Bona +0.000000000 kiwi +2+2 1700000001";
const KIWI_CLARK_NEWER: &str = "AT Clark +0.000000000 kiwi +3+3 1700000002";

fn seen(property: Property, events: Vec<TraceEvent>) -> bool {
    let trace: Trace = trace(events);
    let checks = Checks::default();
    let mut run = run_record(&trace, &checks);
    run.line_bytes_max = Some(100);
    property.seen(&run)
}

fn event(at: u64, host: &str, event: Event) -> TraceEvent {
    TraceEvent::server(ms(at), host, event)
}

fn stored_from(
    at: u64,
    server: &str,
    at_line: &str,
    outcome: Outcome,
    source: Source,
) -> TraceEvent {
    event(
        at,
        server,
        Event::RecordStored {
            record: record(at_line),
            outcome,
            source,
        },
    )
}

fn cut(at: u64, from: &str, to: &str, oneway: bool, repair: bool) -> TraceEvent {
    let link = LinkCut {
        between: vec![from.to_string()],
        and: vec![to.to_string()],
        oneway,
    };
    let action = if repair {
        Action::Repair(link)
    } else {
        Action::Partition(link)
    };
    TraceEvent::fault(ms(at), 1, &action).expect("a cut is a fault")
}

fn wait(found: bool) -> Vec<TraceEvent> {
    vec![event(
        10,
        "Bona",
        Event::WhatsatWait {
            client: "kiwi".into(),
            found,
        },
    )]
}

#[test]
fn a_whatsat_that_waited_and_found_its_record_is_seen_and_one_that_gave_up_is_not() {
    assert!(seen(Property::WhatsatWaitedThenFound, wait(true)));
    assert!(!seen(Property::WhatsatWaitedThenFound, wait(false)));
    assert!(seen(Property::WhatsatWaitGaveUp, wait(false)));
    assert!(!seen(Property::WhatsatWaitGaveUp, wait(true)));
}

#[test]
fn an_equal_timestamp_from_another_origin_is_a_tie_and_a_newer_timestamp_is_not() {
    let tie = vec![
        stored(10, "Bona", KIWI_CLARK, "new"),
        stored(20, "Bona", KIWI_BONA_SAME_TIME, "new"),
    ];
    assert!(seen(Property::TieBrokenByOrigin, tie));
    let newer = vec![
        stored(10, "Bona", KIWI_CLARK, "new"),
        stored(20, "Bona", KIWI_CLARK_NEWER, "new"),
    ];
    assert!(!seen(Property::TieBrokenByOrigin, newer));
}

#[test]
fn a_tie_with_a_record_a_crash_erased_is_no_tie() {
    let erased = vec![
        stored(10, "Bona", KIWI_CLARK, "new"),
        crash(15, "Bona"),
        restart(16, "Bona"),
        stored(20, "Bona", KIWI_BONA_SAME_TIME, "new"),
    ];
    assert!(!seen(Property::TieBrokenByOrigin, erased));
}

fn reconcile(at: u64, host: &str, peer: &str, records: u64, full: bool) -> TraceEvent {
    event(
        at,
        host,
        Event::Reconcile {
            peer: peer.into(),
            records,
            full,
        },
    )
}

#[test]
fn a_reconcile_with_records_is_seen_and_an_empty_one_is_not() {
    assert!(seen(
        Property::ReconcileCarriedRecords,
        vec![reconcile(10, "Bona", "Clark", 2, false)]
    ));
    assert!(!seen(
        Property::ReconcileCarriedRecords,
        vec![reconcile(10, "Bona", "Clark", 0, false)]
    ));
}

fn peer_down(reason: LinkEnd) -> Vec<TraceEvent> {
    vec![event(
        10,
        "Bona",
        Event::PeerDown {
            peer: "Clark".into(),
            direction: Direction::Outbound,
            reason,
        },
    )]
}

#[test]
fn a_link_dropped_by_heartbeat_is_seen_and_one_closed_by_its_peer_is_not() {
    assert!(seen(
        Property::HeartbeatDroppedLink,
        peer_down(LinkEnd::HeartbeatTimeout)
    ));
    assert!(!seen(
        Property::HeartbeatDroppedLink,
        peer_down(LinkEnd::ClosedByPeer)
    ));
}

#[test]
fn a_stale_record_from_a_peer_is_seen_and_a_stale_iamat_is_not() {
    let from_peer = vec![stored_from(
        10,
        "Bona",
        KIWI_CLARK,
        Outcome::Stale,
        Source::Peer("Clark".into()),
    )];
    assert!(seen(Property::StaleRefusedAtPeer, from_peer));
    let from_classic = vec![stored_from(
        10,
        "Bona",
        KIWI_CLARK,
        Outcome::Stale,
        Source::Classic,
    )];
    assert!(seen(Property::StaleRefusedAtPeer, from_classic));
    let from_client = vec![stored_from(
        10,
        "Clark",
        KIWI_CLARK,
        Outcome::Stale,
        Source::Client,
    )];
    assert!(!seen(Property::StaleRefusedAtPeer, from_client));
}

fn places_error(at: u64, kind: &str) -> TraceEvent {
    event(
        at,
        "Bona",
        Event::PlacesError {
            kind: kind.into(),
            detail: "-".into(),
        },
    )
}

#[test]
fn a_places_timeout_followed_by_an_error_reply_is_seen_and_another_failure_is_not() {
    let text = format!(
        "{KIWI_CLARK}\n{{\n   \"error_message\" : \"timed out\",\n   \"results\" : [],\n   \"status\" : \"UNKNOWN_ERROR\"\n}}\n\n"
    );
    let answered = |kind: &str| {
        vec![
            send(0, 1, "kiwi", "Bona", "WHATSAT kiwi 10 5"),
            places_error(5000, kind),
            reply(5001, 1, "kiwi", "Bona", &text),
        ]
    };
    assert!(seen(Property::PlacesTimeoutAnswered, answered("timeout")));
    assert!(!seen(
        Property::PlacesTimeoutAnswered,
        answered("http_status")
    ));
    let unanswered = vec![
        send(0, 1, "kiwi", "Bona", "WHATSAT kiwi 10 5"),
        places_error(5000, "timeout"),
    ];
    assert!(!seen(Property::PlacesTimeoutAnswered, unanswered));
}

#[test]
fn a_crash_between_a_flood_and_its_delivery_is_seen_and_one_after_it_is_not() {
    let in_flight = vec![flood(10, "Clark", "Bona", KIWI_CLARK), crash(12, "Bona")];
    assert!(seen(Property::CrashDuringFlood, in_flight));
    let delivered = vec![
        flood(10, "Clark", "Bona", KIWI_CLARK),
        stored(11, "Bona", KIWI_CLARK, "new"),
        crash(12, "Bona"),
    ];
    assert!(!seen(Property::CrashDuringFlood, delivered));
    let elsewhere = vec![flood(10, "Clark", "Bona", KIWI_CLARK), crash(12, "Bailey")];
    assert!(!seen(Property::CrashDuringFlood, elsewhere));
    let long_gone = vec![
        flood(10, "Clark", "Bona", KIWI_CLARK),
        crash(60_000, "Bona"),
    ];
    assert!(!seen(Property::CrashDuringFlood, long_gone));
}

#[test]
fn a_full_reconcile_to_a_restarted_server_is_seen_and_one_before_its_restart_is_not() {
    let refilled = vec![
        crash(10, "Bona"),
        restart(20, "Bona"),
        reconcile(30, "Clark", "Bona", 3, true),
    ];
    assert!(seen(Property::RestartRefilled, refilled));
    let never_restarted = vec![reconcile(30, "Clark", "Bona", 3, true)];
    assert!(!seen(Property::RestartRefilled, never_restarted));
    let empty_herd = vec![
        crash(10, "Bona"),
        restart(20, "Bona"),
        reconcile(30, "Clark", "Bona", 0, true),
    ];
    assert!(!seen(Property::RestartRefilled, empty_herd));
}

#[test]
fn limits_reached_are_seen_and_ordinary_refusals_are_not() {
    let refused = |reason: LineRefusal| {
        vec![event(
            10,
            "Bona",
            Event::LineRefused {
                peer: Some("Clark".into()),
                conn: None,
                reason,
                line: "AT ...".into(),
            },
        )]
    };
    assert!(seen(
        Property::LimitReached,
        refused(LineRefusal::TooFarAhead)
    ));
    assert!(!seen(
        Property::LimitReached,
        refused(LineRefusal::UnknownOrigin)
    ));
    let table_full = vec![stored(10, "Bona", KIWI_CLARK, "table_full")];
    assert!(seen(Property::LimitReached, table_full));
    let slot = vec![event(
        10,
        "Bona",
        Event::ConnectionClosed {
            conn: 3,
            reason: ConnectionEnd::NoClientSlot,
        },
    )];
    assert!(seen(Property::LimitReached, slot));
    let long_line = "x".repeat(150);
    let cut_reply = format!("? {}\n", &long_line[..100]);
    let over = vec![
        send(10, 1, "mallory", "Bona", &long_line),
        reply(11, 1, "mallory", "Bona", &cut_reply),
    ];
    assert!(seen(Property::LimitReached, over));
    let short = vec![
        send(10, 1, "mallory", "Bona", "xxx"),
        reply(11, 1, "mallory", "Bona", "? xxx\n"),
    ];
    assert!(!seen(Property::LimitReached, short));
}

fn stale_read(oneway: bool, repaired_first: bool) -> Vec<TraceEvent> {
    let mut events = vec![
        stored(10, "Bona", KIWI_CLARK, "new"),
        cut(100, "Clark", "Bona", oneway, false),
        stored(200, "Clark", KIWI_CLARK_NEWER, "new"),
    ];
    if repaired_first {
        events.push(cut(250, "Clark", "Bona", oneway, true));
    }
    events.push(send(300, 7, "kiwi", "Bona", "WHATSAT kiwi 10 1"));
    events.push(reply(330, 7, "kiwi", "Bona", &whatsat_reply(KIWI_CLARK, 1)));
    events
}

#[test]
fn an_old_record_shown_during_a_oneway_cut_is_seen_and_not_during_a_twoway_cut_or_after_repair() {
    assert!(seen(Property::OnewayStaleRead, stale_read(true, false)));
    assert!(!seen(Property::OnewayStaleRead, stale_read(false, false)));
    assert!(!seen(Property::OnewayStaleRead, stale_read(true, true)));
}

#[test]
fn a_fresh_read_during_a_oneway_cut_is_no_stale_read() {
    let fresh = vec![
        stored(10, "Bona", KIWI_CLARK, "new"),
        cut(100, "Clark", "Bona", true, false),
        send(300, 7, "kiwi", "Bona", "WHATSAT kiwi 10 1"),
        reply(330, 7, "kiwi", "Bona", &whatsat_reply(KIWI_CLARK, 1)),
    ];
    assert!(!seen(Property::OnewayStaleRead, fresh));
}

#[test]
fn a_new_record_from_a_classic_link_is_seen_and_a_duplicate_is_not() {
    let new = vec![stored_from(
        10,
        "Bona",
        KIWI_CLARK,
        Outcome::New,
        Source::Classic,
    )];
    assert!(seen(Property::ClassicLinkCarriedRecord, new));
    let duplicate = vec![stored_from(
        10,
        "Bona",
        KIWI_CLARK,
        Outcome::Duplicate,
        Source::Classic,
    )];
    assert!(!seen(Property::ClassicLinkCarriedRecord, duplicate));
}

#[test]
fn a_refused_link_proof_is_seen_and_a_trace_without_one_is_not() {
    let refused = vec![event(
        10,
        "Bona",
        Event::LinkRefused {
            conn: 4,
            peer: "Clark".into(),
            reason: LinkRefusal::NoValidProof,
            line: "AUTH -".into(),
        },
    )];
    assert!(seen(Property::ForgedLinkRefused, refused));
    assert!(!seen(Property::ForgedLinkRefused, wait(true)));
}

fn crash(at: u64, server: &str) -> TraceEvent {
    TraceEvent::fault(ms(at), 1, &Action::Crash(server.into())).expect("a crash is a fault")
}

fn disk(at: u64, server: &str, fault: DiskFaultKind) -> TraceEvent {
    let step = DiskStep {
        server: server.into(),
        fault,
    };
    TraceEvent::fault(ms(at), 1, &Action::Disk(step)).expect("a disk step is a fault")
}

fn recovered(at: u64, server: &str, records: u64) -> TraceEvent {
    let event_ = Event::StoreRecovered {
        generation: 1,
        records,
        head: records,
        resume_points: 0,
        same_life: true,
    };
    event(at, server, event_)
}

#[test]
fn records_recovered_after_a_power_loss_are_seen_and_an_empty_disk_is_not() {
    let kept = vec![crash(10, "Bona"), recovered(20, "Bona", 3)];
    assert!(seen(Property::PowerLossRecovered, kept));
    let empty = vec![crash(10, "Bona"), recovered(20, "Bona", 0)];
    assert!(!seen(Property::PowerLossRecovered, empty));
    let first_start = vec![recovered(5, "Bona", 3), crash(10, "Bona")];
    assert!(!seen(Property::PowerLossRecovered, first_start));
}

#[test]
fn a_cut_of_every_server_at_once_is_seen_and_one_server_short_is_not() {
    let mut all: Vec<TraceEvent> = HERD.iter().map(|s| crash(10, s)).collect();
    all.push(recovered(20, HERD[0], 2));
    assert!(seen(Property::HerdPowerCut, all));
    let mut short: Vec<TraceEvent> = HERD[1..].iter().map(|s| crash(10, s)).collect();
    short.push(recovered(20, HERD[1], 2));
    assert!(!seen(Property::HerdPowerCut, short));
}

#[test]
fn store_cuts_are_seen_by_their_kind() {
    let cut = |kind| {
        let cut_ = Event::StoreCut {
            file: "log-1".into(),
            offset: 64,
            kind,
        };
        vec![event(10, "Bona", cut_)]
    };
    assert!(seen(Property::TornWriteCut, cut(StoreCutKind::Torn)));
    assert!(!seen(Property::TornWriteCut, cut(StoreCutKind::Corrupt)));
    assert!(seen(Property::FlippedBitCaught, cut(StoreCutKind::Corrupt)));
    assert!(!seen(Property::FlippedBitCaught, cut(StoreCutKind::Torn)));
}

#[test]
fn a_failed_store_is_seen_after_its_own_disk_fault_only() {
    let failed = |fault, server| {
        let failed_ = Event::StoreFailed { error: "no".into() };
        vec![disk(10, server, fault), event(20, "Bona", failed_)]
    };
    assert!(seen(
        Property::FailedSyncStopped,
        failed(DiskFaultKind::FailSync, "Bona")
    ));
    assert!(!seen(
        Property::FailedSyncStopped,
        failed(DiskFaultKind::FailSync, "Clark")
    ));
    assert!(seen(
        Property::FullDiskStopped,
        failed(DiskFaultKind::Full, "Bona")
    ));
    assert!(!seen(
        Property::FullDiskStopped,
        failed(DiskFaultKind::FailSync, "Bona")
    ));
}

#[test]
fn a_classic_line_refused_for_its_sender_is_seen_and_other_refusals_are_not() {
    let refused = |reason: LineRefusal| {
        vec![event(
            10,
            "Bona",
            Event::LineRefused {
                peer: None,
                conn: Some(3),
                reason,
                line: "AT Clark +0.1 kiwi +1+1 1700000000".into(),
            },
        )]
    };
    for reason in [
        LineRefusal::OwnOrigin("192.168.0.5:49153".into()),
        LineRefusal::AuthenticatedOrigin("192.168.0.5:49153".into()),
        LineRefusal::NotClassicAddress("192.168.0.5:49153".into()),
    ] {
        assert!(seen(Property::ForgedClassicRefused, refused(reason)));
    }
    let unknown = refused(LineRefusal::UnknownOrigin);
    assert!(!seen(Property::ForgedClassicRefused, unknown));
    assert!(!seen(Property::ForgedClassicRefused, wait(true)));
}

#[test]
fn an_empty_run_shows_no_property() {
    let trace = Trace::new();
    let checks = Checks::default();
    assert!(super::observed(&run_record(&trace, &checks)).is_empty());
}

fn attacker(at: u64, event: crate::trace::SimEvent) -> TraceEvent {
    TraceEvent::harness(ms(at), event)
}

#[test]
fn the_attackers_properties_are_seen_from_what_the_attacker_saw_and_did() {
    use crate::trace::SimEvent;
    let got = |line: &str| {
        let line = line.to_string();
        vec![attacker(
            10,
            SimEvent::ImpostorGot {
                server: "Bona".into(),
                line,
            },
        )]
    };
    assert!(seen(Property::ImpostorDialled, got("PEER Clark 7")));
    assert!(!seen(Property::ImpostorDialled, got("HELLO 00")));
    let stall = |opened| {
        let (id, server, failed) = (1, "Clark".to_string(), 0);
        vec![attacker(
            10,
            SimEvent::HostileStall {
                id,
                server,
                opened,
                failed,
            },
        )]
    };
    assert!(seen(Property::StallersHeld, stall(3)));
    assert!(!seen(Property::StallersHeld, stall(0)));
    let tampered = |mode: &str| {
        let event = SimEvent::Tampered {
            from: "Bailey".into(),
            to: "Bona".into(),
            mode: mode.into(),
            bytes: "PING 3\n".into(),
            records: 0,
        };
        vec![attacker(10, event)]
    };
    assert!(seen(Property::LinkReplayed, tampered("replay 7 bytes")));
    assert!(!seen(Property::LinkReplayed, tampered("alter 1 bytes")));
    assert!(seen(Property::LinkAltered, tampered("alter 1 bytes")));
    assert!(seen(Property::LinkInjected, tampered("inject 7 bytes")));
    assert!(!seen(Property::LinkInjected, tampered("replay 7 bytes")));
}
