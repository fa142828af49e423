//! The harness's verdicts as one test command, for mutation testing (`sim/mutants.sh`): the
//! herd-file corpus (`sim check-herds scenarios/herds`), then every scenario, then a slice of
//! swarm seeds, each through the `sim` binary, stopping at the first run that does not pass.
//! The corpus goes first: it takes well under a second, and a herd file the server treats
//! wrongly changes no scenario's run (every scenario's herd is valid). Ignored by default:
//! `cargo test` already runs the scenarios against their snapshots (and the corpus, in
//! `check_herds.rs`), and this test asks a different question: does a *checker* object, not
//! does a snapshot differ.
//!
//! The panic message starts with `verdict:` and says how the run ended, so the mutation script
//! can tell a checker's verdict (exit 1, 2 or 3) from the harness refusing its own input
//! (exit 4 or anything else), which is not a kill.
//!
//! `SIM_VERDICT_SEEDS` (default `0..40`) sets the swarm slice.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Swarm seeds run per `sim swarm` call: small, so a failing seed stops the test early.
const SEEDS_PER_CALL: u64 = 5;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `scenarios/*.yaml` then `scenarios/regressions/*.yaml`, each sorted.
fn scenario_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["scenarios", "scenarios/regressions"] {
        let Ok(entries) = std::fs::read_dir(workspace().join(dir)) else {
            continue;
        };
        let mut here: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        here.sort();
        files.extend(here);
    }
    files
}

fn seed_range() -> (u64, u64) {
    let text = std::env::var("SIM_VERDICT_SEEDS").unwrap_or_else(|_| "0..40".into());
    let parsed = text
        .split_once("..")
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    match parsed {
        Some((start, end)) if start <= end => (start, end),
        _ => panic!("SIM_VERDICT_SEEDS={text:?}: expected START..END"),
    }
}

/// Runs `sim` with `args`; panics with a `verdict:` line unless it exits 0.
fn expect_pass(what: &str, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run sim");
    let code = output.status.code();
    let kind = match code {
        Some(0) => return,
        Some(1) => "killed (safety)",
        Some(2) => "killed (liveness)",
        Some(3) => "killed (system under test crashed)",
        _ => "harness-rejected",
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    panic!(
        "verdict: {kind} exit={} by {what}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        code.map_or("signal".to_string(), |c| c.to_string())
    );
}

#[test]
#[ignore = "the mutation script's test command; run by sim/mutants.sh"]
fn the_herd_corpus_every_scenario_and_a_swarm_slice_pass_their_checkers() {
    expect_pass(
        "check-herds scenarios/herds",
        &["check-herds", "scenarios/herds"],
    );
    let files = scenario_files();
    assert!(!files.is_empty(), "no scenario files found");
    for path in &files {
        let shown = path.strip_prefix(workspace()).unwrap_or(path).display();
        let file = path.to_string_lossy();
        expect_pass(&shown.to_string(), &["-q", &file]);
    }
    let (start, end) = seed_range();
    let mut from = start;
    while from < end {
        let to = (from + SEEDS_PER_CALL).min(end);
        let seeds = format!("{from}..{to}");
        expect_pass(
            &format!("swarm --seeds {seeds}"),
            &["swarm", "--seeds", &seeds, "--jobs", "2"],
        );
        from = to;
    }
}
