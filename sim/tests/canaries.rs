//! The deep canaries are findable: each hand-made scenario under `scenarios/canaries/` runs
//! its planted bug (`canary:`) and a checker catches it, and the same scenario without the
//! canary passes, so what fails is the bug and not the scenario.

use std::path::{Path, PathBuf};

use server::canary::Canary;
use sim::outcome::exit;
use sim::report;
use sim::scenario::Scenario;

fn canary_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/canaries");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// The checker that must catch each canary in its scenario.
fn catcher(canary: Canary) -> &'static str {
    match canary {
        Canary::ReplayOpensNonNeighbour => "integrity",
        _ => "monotonic",
    }
}

#[test]
fn every_canary_has_a_scenario_that_catches_it_and_passes_without_it() {
    let files = canary_files();
    let mut found: Vec<Canary> = Vec::new();
    for path in &files {
        let mut scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        let canary = scenario
            .canary
            .unwrap_or_else(|| panic!("{} names no canary", path.display()));
        found.push(canary);
        let judged = report::run_and_judge(&scenario);
        let failed: Vec<String> = judged
            .verdicts
            .iter()
            .filter(|v| !v.ok)
            .map(|v| v.checker.to_string())
            .collect();
        assert!(
            failed.iter().any(|c| c == catcher(canary)),
            "{}: canary {canary} must fail {}, failed {failed:?}",
            path.display(),
            catcher(canary)
        );
        scenario.canary = None;
        let judged = report::run_and_judge(&scenario);
        let failed: Vec<String> = judged
            .verdicts
            .iter()
            .filter(|v| !v.ok)
            .map(|v| format!("{v}"))
            .collect();
        assert_eq!(
            judged.exit_code(),
            exit::OK,
            "{} must pass without its canary: {failed:?}",
            path.display()
        );
    }
    found.sort();
    let mut all = Canary::ALL.to_vec();
    all.sort();
    assert_eq!(found, all, "one scenario per canary");
}
