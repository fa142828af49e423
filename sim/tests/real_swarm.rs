//! The swarm against real processes: `sim swarm --compare` runs generated scenarios in both
//! modes, several at once, and the verdicts agree; real mode's swarm is 15 s a seed by default.

use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

#[test]
fn the_compare_swarm_runs_two_seeds_in_parallel_and_the_modes_agree() {
    let output = sim()
        .args([
            "swarm",
            "--compare",
            "--seeds",
            "0..2",
            "--duration",
            "13s",
            "--jobs",
            "2",
        ])
        .output()
        .expect("run sim swarm --compare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("2 jobs, 13s each"), "{stdout}");
    assert!(stdout.contains("seed 0: the modes agree"), "{stdout}");
    assert!(stdout.contains("seed 1: the modes agree"), "{stdout}");
    assert!(
        stdout.contains("2 seeds, 2 agree, 0 differ as declared, 0 differ unexplained"),
        "{stdout}"
    );
    assert!(stdout.contains("seeds/min"), "{stdout}");
}

#[test]
fn a_real_swarm_seed_is_fifteen_seconds_unless_told_otherwise() {
    for mode in ["--real", "--compare"] {
        let output = sim()
            .args(["swarm", mode, "--emit", "3"])
            .output()
            .expect("run sim swarm --emit");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("duration: 15s"), "{mode}:\n{text}");
    }
    let output = sim()
        .args(["swarm", "--emit", "3"])
        .output()
        .expect("run sim swarm --emit");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("duration: 30s"), "{text}");
}

#[test]
fn the_real_swarm_cannot_shrink() {
    let output = sim()
        .args(["swarm", "--real", "--shrink", "--seeds", "0..1"])
        .output()
        .expect("run sim swarm --real --shrink");
    assert_eq!(output.status.code(), Some(64));
}
