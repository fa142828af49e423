//! `flood_bound`'s rules, each shown passing and failing on hand-made traces.

use server::events::Direction;
use server::store::Outcome;

use super::super::testing::*;
use super::*;
use crate::scenario::Checks;
use crate::trace::TraceEvent;

const KIWI: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";
const LIME: &str = "AT Bona +0.000001000 lime +1+1 1700000000.5";

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
        stored(2, "Jaquez", other, "new"),
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

/// Found by the swarm: a cut took lime's flood, the cut healed before the heartbeat found
/// it, and Bona's next write, blocked on the dead connection, timed out long after: the cut
/// is found outside the window, but Jaquez never got lime, so the catch-up may resend it.
fn lost_long_before_the_cut_was_found(jaquez_got_it: bool) -> Verdict {
    let other = "AT Bona +0.000001000 lime +1+1 1700000000.5";
    let mut events = vec![
        up(1, "Bona", "Jaquez"),
        stored(1_000, "Bona", other, "new"),
        flood(1_000, "Bona", "Jaquez", other),
    ];
    if jaquez_got_it {
        events.push(stored(1_002, "Jaquez", other, "new"));
    }
    events.extend([
        down(7_000, "Bona", "Jaquez"),
        reconcile(8_000, "Bona", "Jaquez", 1),
    ]);
    verdict(events)
}

#[test]
fn a_flood_the_neighbour_never_got_may_be_resent_however_late_the_cut_is_found() {
    let v = lost_long_before_the_cut_was_found(false);
    assert!(v.ok, "{v}");
    let v = lost_long_before_the_cut_was_found(true);
    assert!(!v.ok, "{v}");
    assert!(
        v.details[0].contains("reconcile Bona -> Jaquez carried 1 records; at most 0 were due"),
        "{v}"
    );
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

/// Found by the explorer: a restarted server under a table bound (or a clock behind) refuses
/// part of its refill; what it refused it still lacks, so each neighbour may carry it.
#[test]
fn a_refill_refused_in_part_for_a_bound_is_one_refill() {
    let lime = "AT Bona +0.000001000 lime +1+1 1700000000.5";
    let fig = "AT Bona +0.000001000 fig +2+2 1700000000.5";
    let mut events = vec![
        stored(1, "Clark", KIWI, "new"),
        flood(1, "Clark", "Bona", KIWI),
        flood(1, "Clark", "Jaquez", KIWI),
        flood(1, "Bona", "Jaquez", lime),
        flood(1, "Bona", "Jaquez", fig),
        stored(2, "Bona", KIWI, "new"),
        stored(2, "Bona", lime, "new"),
        stored(2, "Bona", fig, "new"),
        stored(2, "Jaquez", KIWI, "new"),
        stored(2, "Jaquez", lime, "new"),
        stored(2, "Jaquez", fig, "new"),
        crash(3, "Clark"),
        restart(4, "Clark"),
        full_reconcile(5, "Bona", "Clark", 3),
        stored(6, "Clark", KIWI, "new"),
        stored(6, "Clark", lime, "table_full"),
    ];
    events.push(TraceEvent::server(
        ms(6),
        "Clark",
        Event::LineRefused {
            peer: Some("Bona".into()),
            conn: None,
            reason: server::events::LineRefusal::TooFarAhead,
            line: fig.into(),
        },
    ));
    // The second neighbour's whole-table comparison finds both still lacking.
    events.push(full_reconcile(7, "Jaquez", "Clark", 2));
    events.push(stored(8, "Clark", lime, "table_full"));
    events.push(stored(8, "Clark", fig, "table_full"));
    let v = verdict_with_refills(events.clone());
    assert!(v.ok, "{v}");
    // Kiwi, which it holds, carried again is a second refill.
    events.push(full_reconcile(9, "Jaquez", "Clark", 1));
    let v = verdict_with_refills(events);
    assert!(!v.ok, "{v}");
    let refill = v
        .details
        .iter()
        .any(|d| d.contains("beyond the 4 it refused"));
    assert!(refill, "{v}");
}

/// Found by the explorer: a classic link follows the table's changes and resumes nothing, so a
/// restarted server passes its refill on to a classic neighbour; that is not news it made up.
#[test]
fn a_restarted_server_may_pass_its_refill_on_over_a_classic_link() {
    let mut events = refilled_twice(0);
    events.push(flood(8, "Clark", "Bailey", KIWI));
    let trace = trace(events);
    let checks = Checks {
        refills_max: Some(1),
        ..Checks::default()
    };
    let mut record = run_record(&trace, &checks);
    record
        .classic_links
        .insert(("Bailey".to_string(), "Clark".to_string()));
    let v = FloodBound.check(&record);
    assert!(v.ok, "{v}");
}

/// Found by the explorer: at the start of a run no table was filled yet, and a record
/// reported before the links are up is in the first catch-up of each neighbour that has it.
/// Only a life begun by a restart owes one refill.
#[test]
fn a_first_life_whose_links_came_up_late_owes_no_one_refill() {
    let events = vec![
        stored(1, "Bona", LIME, "new"),
        flood(2, "Bona", "Jaquez", LIME),
        stored(3, "Jaquez", LIME, "new"),
        full_reconcile(4, "Bona", "Clark", 1),
        full_reconcile(4, "Jaquez", "Clark", 1),
        stored(5, "Clark", LIME, "new"),
    ];
    let v = verdict_with_refills(events);
    assert!(v.ok, "{v}");
}

/// Found by the explorer: Jaquez refused fig, too far ahead of its clock, so when Clark
/// restarts, Jaquez's refill (the first) lacks it, and Bona's comparison brings it later as a
/// change, which Clark passes on. That is news to Jaquez, which still lacks it; once Jaquez
/// has stored fig, Clark's flood of it is its refill sent back out again.
fn refilled_without_what_the_first_refused(jaquez_stores_it: bool) -> Verdict {
    let fig = "AT Clark +0.000001000 fig +2+2 1700000000.5";
    let mut events = vec![
        stored(1, "Clark", fig, "new"),
        flood(1, "Clark", "Bona", fig),
        flood(1, "Clark", "Jaquez", fig),
        stored(2, "Bona", fig, "new"),
        TraceEvent::server(
            ms(2),
            "Jaquez",
            Event::LineRefused {
                peer: Some("Clark".into()),
                conn: None,
                reason: server::events::LineRefusal::TooFarAhead,
                line: fig.into(),
            },
        ),
    ];
    if jaquez_stores_it {
        events.push(stored(3, "Jaquez", fig, "new"));
    }
    events.extend([
        crash(3, "Clark"),
        restart(4, "Clark"),
        full_reconcile(5, "Jaquez", "Clark", u64::from(jaquez_stores_it)),
        full_reconcile(6, "Bona", "Clark", u64::from(!jaquez_stores_it)),
        stored(7, "Clark", fig, "new"),
        flood(7, "Clark", "Jaquez", fig),
    ]);
    verdict_with_refills(events)
}

#[test]
fn a_restarted_server_may_pass_on_what_a_neighbour_refused_for_a_bound() {
    let v = refilled_without_what_the_first_refused(false);
    assert!(v.ok, "{v}");
    let v = refilled_without_what_the_first_refused(true);
    assert!(!v.ok, "{v}");
    assert!(
        v.details
            .iter()
            .any(|d| d.contains("Clark restarted at") && d.contains("as news")),
        "{v}"
    );
}

/// `record_stored` (outcome `new`) of the record `at_line` at `server` from `source`.
fn stored_from(at: u64, server: &str, at_line: &str, source: Source) -> TraceEvent {
    TraceEvent::server(
        ms(at),
        server,
        Event::RecordStored {
            record: record(at_line),
            outcome: Outcome::New,
            source,
        },
    )
}

/// Found by the explorer: Bona, on the only path between Bailey and Clark, stopped (its disk
/// failed a sync) and was restarted. While it was down, lime reported to Clark. Clark's
/// catch-up brings lime to Bona, which floods it on to Bailey. With `from_disk`, Bona
/// recovered kiwi from its disk: it did not restart empty and waits for no refill, and lime
/// is what changed while it was down, news to it and to Bailey. Without, Bona restarted
/// empty: it waits for the refill and compares tables with Bailey after, so flooding what
/// the refill brought is sending it back out as news.
fn passed_on_after_a_restart(from_disk: bool) -> Verdict {
    let lime = "AT Clark +0.000001000 lime +1+1 1700000002.5";
    let bona = || Source::Peer("Bona".into());
    let mut events = vec![
        stored(1, "Clark", KIWI, "new"),
        flood(1, "Clark", "Bona", KIWI),
        stored(2, "Bona", KIWI, "new"),
        flood(2, "Bona", "Bailey", KIWI),
        stored_from(3, "Bailey", KIWI, bona()),
        crash(4, "Bona"),
        stored(5, "Clark", lime, "new"),
        restart(6, "Bona"),
    ];
    if from_disk {
        events.push(stored_from(6, "Bona", KIWI, Source::Disk));
    }
    events.extend([
        reconcile(7, "Clark", "Bona", 1),
        stored(8, "Bona", lime, "new"),
        flood(8, "Bona", "Bailey", lime),
        stored_from(9, "Bailey", lime, bona()),
    ]);
    verdict_with_refills(events)
}

#[test]
fn a_server_recovered_from_disk_may_pass_on_what_changed_while_it_was_down() {
    let v = passed_on_after_a_restart(true);
    assert!(v.ok, "{v}");
    let v = passed_on_after_a_restart(false);
    assert!(!v.ok, "{v}");
    assert_eq!(v.details.len(), 1, "{v}");
    assert!(
        v.details[0].contains("Bona restarted at") && v.details[0].contains("as news"),
        "{v}"
    );
}
