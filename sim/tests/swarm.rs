//! The search works: canaries with known flaws are found, told apart and shrunk; generated
//! scenarios are ordinary, replayable files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sim::report::Judged;
use sim::scenario::Scenario;
use sim::swarm::{self, Base};

/// Canaries search at most this many seeds (the bound).
const CANARY_SEEDS_MAX: u64 = 200;
const DURATION: Duration = Duration::from_secs(20);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn base(herd: Option<&str>) -> Base {
    let path = herd.map(|h| workspace().join(h));
    Base::new(path.as_deref(), DURATION).unwrap_or_else(|e| panic!("{e}"))
}

/// The first seed below the bound whose run fails as `label`.
fn first_failing(base: &Base, label: &str) -> Option<u64> {
    (0..CANARY_SEEDS_MAX)
        .find(|&seed| swarm::run_seed(seed, base).failure.as_deref() == Some(label))
}

#[test]
fn generated_scenarios_are_valid_and_the_same_for_the_same_seed() {
    let base = base(None);
    for seed in 0..60 {
        let text = swarm::scenario_text(seed, &base);
        assert_eq!(
            text,
            swarm::scenario_text(seed, &base),
            "seed {seed} derives one scenario"
        );
        let scenario = Scenario::from_yaml_str(&text, "emitted.yaml")
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert!(scenario.steps.iter().all(|s| s.at < scenario.duration));
        assert!(
            scenario.last_fault_heal_at() + scenario.checks.converged_within <= scenario.duration,
            "seed {seed} ends with a quiet phase"
        );
    }
}

#[test]
fn an_emitted_seed_replays_the_same_trace_byte_for_byte() {
    let base = base(None);
    let seed = 4;
    let dir = std::env::temp_dir().join(format!("swarm-emit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("seed.yaml");
    std::fs::write(&path, swarm::scenario_text(seed, &base)).expect("write emitted scenario");
    let from_file = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let from_seed = swarm::scenario_for(seed, &base).unwrap_or_else(|e| panic!("{e}"));
    let a = sim::harness::run(&from_file).trace;
    let b = sim::harness::run(&from_seed).trace;
    assert!(
        a == b,
        "the emitted file and the seed must run the same trace"
    );
    assert!(a.events.len() > 100, "a real run, not an empty one");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_swarm_finds_the_classic_herds_lost_update_and_shrinks_it_to_a_partition_story() {
    let base = base(Some("scenarios/herds/classic.yaml"));
    let seed = first_failing(&base, "liveness/convergence")
        .expect("a convergence failure within 200 seeds");
    let scenario = swarm::scenario_for(seed, &base).unwrap_or_else(|e| panic!("{e}"));
    let shrunk = sim::shrink::shrink(&scenario, 300).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shrunk.label, "liveness/convergence");
    assert!(
        shrunk.scenario.steps.len() <= 5,
        "shrunk to {} steps:\n{}",
        shrunk.scenario.steps.len(),
        shrunk.scenario.to_yaml(&[])
    );
    let kinds: Vec<&str> = shrunk
        .scenario
        .steps
        .iter()
        .map(|s| s.action.kind())
        .collect();
    assert!(
        kinds.contains(&"partition") && kinds.contains(&"repair") && kinds.contains(&"iamat"),
        "the story is an update during a partition, then the repair: {kinds:?}"
    );

    let dir = std::env::temp_dir().join(format!("swarm-shrink-{}", std::process::id()));
    let path = sim::shrink::write_regression(&shrunk, &format!("swarm-seed-{seed}.yaml"), &dir)
        .unwrap_or_else(|e| panic!("{e}"));
    let replay = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let first = sim::harness::run(&replay);
    let second = sim::harness::run(&replay);
    assert!(
        first.trace == second.trace,
        "the shrunk scenario replays byte for byte"
    );
    assert_eq!(
        Judged::judge(&replay, first).outcome().label().as_deref(),
        Some("liveness/convergence")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_herd_without_the_whatsat_wait_fails_a_different_check_than_the_classic_herd() {
    let flawed = base(Some("scenarios/herds/no-wait.yaml"));
    let seed = first_failing(&flawed, "safety/expectations")
        .expect("a reorder probe answered `?` within 200 seeds");
    let healthy = swarm::run_seed(seed, &base(None));
    assert_eq!(
        healthy.failure, None,
        "the default herd (500 ms wait) passes seed {seed}"
    );
}
