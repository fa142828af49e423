//! Every scenario under `scenarios/` against its reviewed snapshot in `snapshots/`, plus the
//! rules that keep snapshots honest: deterministic, and none without its scenario.

use std::path::{Path, PathBuf};

use sim::outcome::exit;
use sim::report::{self, Judged};
use sim::scenario::Scenario;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(path: &Path) -> (Scenario, Judged) {
    let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let judged = report::run_and_judge(&scenario);
    (scenario, judged)
}

/// `scenarios/*.yaml` and `scenarios/regressions/*.yaml`, sorted.
fn scenario_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["scenarios", "scenarios/regressions"] {
        let Ok(entries) = std::fs::read_dir(workspace().join(dir)) else {
            continue;
        };
        files.extend(
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml")),
        );
    }
    files.sort();
    files
}

#[test]
fn every_scenario_passes_and_matches_its_snapshot() {
    insta::glob!("../../scenarios", "{*.yaml,regressions/*.yaml}", |path| {
        let (scenario, judged) = run(path);
        let text = report::snapshot_text(&scenario, &judged);
        insta::with_settings!({
            snapshot_path => workspace().join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => scenario.name.clone(),
        }, {
            insta::assert_snapshot!("scenario", text);
        });
        assert_eq!(
            judged.exit_code(),
            exit::OK,
            "{} must pass its checks:\n{text}",
            path.display()
        );
    });
}

#[test]
fn every_scenario_gives_the_same_bytes_on_a_second_run() {
    let files = scenario_files();
    assert!(
        files.len() >= 10,
        "expected the scenario set, found {files:?}"
    );
    for path in files {
        let (scenario, first) = run(&path);
        let (_, second) = run(&path);
        assert!(
            first.run.trace == second.run.trace,
            "{}: the trace differs between two runs with seed {}",
            path.display(),
            scenario.seed
        );
        assert_eq!(
            report::snapshot_text(&scenario, &first),
            report::snapshot_text(&scenario, &second)
        );
    }
}

#[test]
fn every_snapshot_has_its_scenario() {
    let snapshots = workspace().join("snapshots");
    let Ok(entries) = std::fs::read_dir(&snapshots) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(scenario_file) = name
            .strip_prefix("scenario@")
            .and_then(|n| n.strip_suffix(".snap"))
        else {
            continue;
        };
        // insta writes a glob match `regressions/x.yaml` as `regressions__x.yaml`.
        let scenario_file = scenario_file.replace("__", "/");
        assert!(
            workspace().join("scenarios").join(&scenario_file).exists(),
            "snapshots/{name} has no scenarios/{scenario_file}: delete the snapshot or restore the scenario"
        );
    }
}

#[test]
fn the_partition_scenario_on_a_classic_herd_fails_convergence_with_the_liveness_code() {
    let root = workspace();
    let mut scenario =
        Scenario::load(root.join("scenarios/partition.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let herd_path = root.join("scenarios/herds/classic.yaml");
    let herd = server::config::Herd::load(&herd_path).unwrap_or_else(|e| panic!("{e}"));
    scenario = scenario
        .with_herd(herd, herd_path)
        .unwrap_or_else(|e| panic!("{e}"));
    let judged = report::run_and_judge(&scenario);
    let convergence = judged
        .verdicts
        .iter()
        .find(|v| v.checker.as_str() == "convergence")
        .expect("convergence ran");
    assert!(
        !convergence.ok,
        "the classic herd loses the update sent during the partition"
    );
    assert_eq!(judged.exit_code(), exit::LIVENESS);
}
