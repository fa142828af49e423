//! The attacker on a live link. `scenarios/tampered-link.yaml` injects, alters and replays
//! bytes on the link Bailey dials to Bona. On plain links the made-up and the altered record
//! were stored and flooded to the whole herd; over TLS each tamper ends the link instead, and
//! Bailey links again and resumes. Both modes are held to that here: the simulation's attacker
//! in the seam, real mode's in the fault proxy, in front of real processes.

use std::path::Path;
use std::time::Duration;

use server::events::Event;

use sim::checkers::Verdict;
use sim::real::{RealOptions, procs};
use sim::report;
use sim::scenario::Scenario;
use sim::trace::Trace;

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/tampered-link.yaml");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Every checker held, each tamper acted once, and each ended the link Bailey dialled to Bona
/// (a `peer_down` at Bailey), which came back up after it (a `peer_up`).
fn assert_tamper_drops_and_relinks(verdicts: &[Verdict], trace: &Trace) {
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.ok)
        .map(|v| format!("{v}"))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let at = |keep: &dyn Fn(&sim::trace::TraceEvent) -> bool| -> Vec<Duration> {
        trace
            .events
            .iter()
            .filter(|e| keep(e))
            .map(|e| e.at)
            .collect()
    };
    let tampered = at(&|e| e.sim_event().is_some_and(|s| s.name() == "tampered"));
    let to_bona = |e: &sim::trace::TraceEvent, up: bool| {
        e.host == "Bailey"
            && e.server_event().is_some_and(|s| match s {
                Event::PeerUp { peer, .. } => up && peer == "Bona",
                Event::PeerDown { peer, .. } => !up && peer == "Bona",
                _ => false,
            })
    };
    let (downs, ups) = (at(&|e| to_bona(e, false)), at(&|e| to_bona(e, true)));
    assert_eq!(tampered.len(), 3, "each tamper step acted once");
    for at in &tampered {
        let down = downs.iter().find(|d| *d >= at);
        let down = down.unwrap_or_else(|| panic!("no link drop after the tamper at {at:?}"));
        assert!(
            ups.iter().any(|u| u > down),
            "Bailey's link to Bona came back after the drop at {down:?}"
        );
    }
}

#[test]
fn a_tampered_link_drops_and_relinks_and_nothing_the_attacker_made_is_stored() {
    let judged = report::run_and_judge(&scenario());
    assert_tamper_drops_and_relinks(&judged.verdicts, &judged.run.trace);
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
    assert_tamper_drops_and_relinks(&judged.verdicts, &judged.run.trace);
}
