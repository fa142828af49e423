//! `--compare` and `swarm --compare` gate: a checker that fails in both modes exits with its
//! class although the modes agree, a failure planted in real mode alone does too, and the
//! grid shows each failing row's violation lines from both modes with the report kept.
//! Each test takes its scenario's length in wall-clock time; a failing run leaves no process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sim::outcome::exit;
use sim::real::procs;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run sim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The kept directory a report names (`... kept in DIR`).
fn kept_dir(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .find_map(|l| l.split_once(" kept in ").map(|(_, dir)| PathBuf::from(dir)))
}

/// The classic herd never reconciles, so `convergence` fails in both modes: the modes agree,
/// and `--compare` still exits with the liveness code and shows why.
#[test]
fn compare_exits_with_the_liveness_code_when_the_classic_herd_fails_in_both_modes() {
    let out = sim(&[
        "--compare",
        "scenarios/partition.yaml",
        "--herd",
        "scenarios/herds/classic.yaml",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::LIVENESS)),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("convergence      FAIL   FAIL"), "{stdout}");
    assert!(stdout.contains("convergence in sim:\n    at "), "{stdout}");
    assert!(stdout.contains("convergence in real:\n    at "), "{stdout}");
    assert!(stdout.contains("result: FAIL: convergence"), "{stdout}");
    let dir = kept_dir(&stdout).expect("the kept directory is named");
    let report = std::fs::read_to_string(dir.join("report.txt")).expect("the report is kept");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(report.contains("== simulation\n"), "{report}");
    assert!(report.contains("mode: real"), "{report}");
    // A failing run leaves no server running either.
    let stderr = text(&out.stderr);
    let pids: Vec<u32> = stderr
        .lines()
        .filter_map(|l| l.split_once("(pid ")?.1.split_once(')')?.0.parse().ok())
        .collect();
    assert_eq!(pids.len(), 5, "{stderr}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let alive: Vec<u32> = pids.into_iter().filter(|&p| procs::is_running(p)).collect();
    assert!(alive.is_empty(), "still running: {alive:?}");
}

/// A `server` that runs every process with certificates of a CA of its own (it writes them
/// with `server certs` and points a copy of its herd file at them): no link authenticates, so
/// in real mode nothing floods, while the simulation's herd is sound.
fn server_with_a_ca_per_process(dir: &Path) -> PathBuf {
    let (binary, _) = procs::server_binary(None).expect("the server binary");
    let script = dir.join("server-own-ca");
    let bin = binary.display();
    // Real mode starts `server NAME --herd FILE ...`; the herd file names `tls_dir: tls`.
    let body = format!(
        "#!/bin/sh\nname=$1\nherd=$3\nshift 3\nown=\"$(dirname \"$herd\")/own-$$\"\n\
         {bin} certs --herd \"$herd\" --out \"$own\" >/dev/null || exit 1\n\
         sed \"s|\\\"tls_dir\\\":\\\"tls\\\"|\\\"tls_dir\\\":\\\"own-$$\\\"|\" \"$herd\" > \"$own.yaml\"\n\
         exec {bin} \"$name\" --herd \"$own.yaml\" \"$@\"\n"
    );
    std::fs::write(&script, body).expect("write the wrapper");
    let mut permissions = std::fs::metadata(&script).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).expect("chmod");
    script
}

#[test]
fn swarm_compare_fails_on_a_failure_planted_in_real_mode_alone() {
    let dir = std::env::temp_dir().join(format!("sim-compare-gate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let server = server_with_a_ca_per_process(&dir);
    let out = sim(&[
        "swarm",
        "--compare",
        "--seeds",
        "0..1",
        "--duration",
        "13s",
        "--jobs",
        "1",
        "--server-bin",
        server.to_str().expect("utf-8 path"),
    ]);
    let stdout = text(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(kept) = kept_dir(&stdout) {
        let _ = std::fs::remove_dir_all(kept);
    }
    // No link comes up: links fail with no fault to explain it (safety), which outranks the
    // herd that never converges (liveness).
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::SAFETY)),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("seed 0: FAILS"), "{stdout}");
    assert!(
        stdout.contains("link_stability   sim ok   real FAIL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("convergence      sim ok   real FAIL"),
        "{stdout}"
    );
    assert!(stdout.contains("    real: at "), "{stdout}");
}
