//! The attacker on a live link. `scenarios/pending/tampered-link.yaml` injects, alters and
//! replays bytes on the link Bailey dials to Bona. Links are plain TCP after their handshake,
//! so today nothing stops it: the made-up record and the altered one are stored and flooded
//! to the whole herd, and `integrity` says so. The scenario stays out of the passing set (and
//! of the snapshots) until links protect what they carry; then it moves to `scenarios/`.
//! Real mode's fault proxy does the same to real processes on loopback.

use std::path::Path;

use sim::checkers::Verdict;
use sim::real::{RealOptions, procs};
use sim::report;
use sim::scenario::Scenario;

fn scenario() -> Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/pending/tampered-link.yaml");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// `integrity` failed, blaming both the injected record and the altered one (whose timestamp
/// differs with the clock in real mode: only its client and location are named).
fn assert_attacker_records_stored(verdicts: &[Verdict]) {
    let integrity = verdicts
        .iter()
        .find(|v| v.checker.as_str() == "integrity")
        .expect("integrity ran");
    assert!(!integrity.ok, "plain links let the attacker's records in");
    let text = format!("{integrity}");
    assert!(
        text.contains("mallory +1+1 1700000002"),
        "the injected record is stored:\n{text}"
    );
    assert!(
        text.contains("fig +35.000000-119.000000 17000000"),
        "the altered record is stored:\n{text}"
    );
}

#[test]
fn a_record_injected_or_altered_on_a_plain_link_is_stored_and_integrity_fails() {
    let judged = report::run_and_judge(&scenario());
    assert_attacker_records_stored(&judged.verdicts);
    let text = format!("{:?}", judged.verdicts);
    assert!(
        text.contains("1700000004.000000011"),
        "the altered timestamp is the one the attacker made"
    );
    let tampered = judged
        .run
        .trace
        .events
        .iter()
        .filter(|e| e.sim_event().is_some_and(|s| s.name() == "tampered"))
        .count();
    assert_eq!(tampered, 3, "each tamper step did what it says, once");
}

#[test]
fn the_fault_proxy_tampers_with_real_links_the_same_way() {
    let (binary, _) = procs::server_binary(None).unwrap_or_else(|e| panic!("{e:#}"));
    let options = RealOptions {
        binary,
        announce: false,
        invocation: Default::default(),
    };
    let (judged, _) =
        sim::real::run_and_judge(&scenario(), &options).unwrap_or_else(|e| panic!("{e:#}"));
    assert_attacker_records_stored(&judged.verdicts);
}
