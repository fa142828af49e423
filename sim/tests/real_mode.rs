//! Real mode against the simulation: real `server` processes on loopback reach the same
//! verdicts as the simulated herd, and no process outlives a run or an interrupted one (the
//! classic herd's failing run is `compare_gate`'s). Each test takes its scenario's length
//! in wall-clock time; they run in parallel.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sim::outcome::exit;
use sim::real::compare::Comparison;
use sim::real::{RealOptions, procs};
use sim::report;
use sim::scenario::Scenario;

/// The interrupted run is stopped once its servers are up, or failed after this long.
const STARTUP_WAIT_MAX: Duration = Duration::from_secs(60);
/// A killed process has this long to disappear from the process table.
const EXIT_GRACE: Duration = Duration::from_secs(2);

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

fn options() -> Result<RealOptions, String> {
    let (binary, _) = procs::server_binary(None).map_err(|e| format!("{e:#}"))?;
    Ok(RealOptions {
        binary,
        announce: false,
        invocation: Default::default(),
    })
}

/// Runs `scenario` in both modes; fails as `--compare` does (a checker that fails in either
/// mode, a verdict difference the scenario does not declare), or on a process left running.
fn assert_parity(scenario: &Scenario) -> Result<(), String> {
    let simulated = report::run_and_judge(scenario);
    let (real, run) =
        sim::real::run_and_judge(scenario, &options()?).map_err(|e| format!("{e:#}"))?;
    let comparison = Comparison::new(scenario, &simulated, &real);
    assert_no_survivors(&run.pids)?;
    if comparison.code() != exit::OK {
        return Err(format!(
            "{}: a checker fails or the modes disagree (logs in {}):\n{}\n{}",
            scenario.name,
            run.dir.display(),
            comparison.table(),
            sim::real::human_report(
                Path::new("-"),
                scenario,
                &real,
                &run,
                true,
                &Default::default()
            )
        ));
    }
    let _ = std::fs::remove_dir_all(&run.dir);
    Ok(())
}

fn assert_no_survivors(pids: &[u32]) -> Result<(), String> {
    if pids.is_empty() {
        return Err("the run started no process".into());
    }
    // A process the kernel is still tearing down gets a moment; a survivor does not die.
    let deadline = Instant::now() + EXIT_GRACE;
    loop {
        let alive: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|&p| procs::is_running(p))
            .collect();
        if alive.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("server processes still running: {alive:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn load(name: &str) -> Result<Scenario, String> {
    Scenario::load(scenario_path(name)).map_err(|e| e.to_string())
}

#[test]
fn a_partition_reaches_the_same_verdicts_on_real_processes() -> Result<(), String> {
    assert_parity(&load("partition.yaml")?)
}

#[test]
fn crashes_and_restarts_reach_the_same_verdicts_on_real_processes() -> Result<(), String> {
    assert_parity(&load("crash-restart.yaml")?)
}

/// A far-future IAMAT is refused `?` by a bound in both modes; in real mode `well_formed`
/// bounds the server's clock by what the client saw, and the timestamps in the file mean the
/// same instants (the herd runs on the scenario's calendar).
#[test]
fn bad_input_refused_by_a_bound_reaches_the_same_verdicts_on_real_processes() -> Result<(), String>
{
    assert_parity(&load("bad-input.yaml")?)
}

/// Forged classic lines sent to real processes, from 127.0.0.2 (no classic neighbour's
/// address), are refused as in the simulation: answered `?` and stored nowhere.
#[test]
fn forged_classic_lines_are_refused_by_real_processes_too() -> Result<(), String> {
    assert_parity(&load("forged-classic.yaml")?)
}

/// Padded location and timestamp texts are refused by their byte bounds in both modes.
#[test]
fn padded_text_is_refused_by_real_processes_too() -> Result<(), String> {
    assert_parity(&load("padded-text.yaml")?)
}

#[test]
fn a_places_outage_on_wiremock_reaches_the_same_verdicts() -> Result<(), String> {
    assert_parity(&load("places-outage.yaml")?)
}

/// Ctrl-C in the middle of a run: `sim` kills every server it started before it exits.
#[test]
fn an_interrupted_real_run_leaves_no_server_running() -> Result<(), String> {
    let mut sim = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["--real", "--server-bin"])
        .arg(&options()?.binary)
        .arg(scenario_path("partition.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = sim.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let pid = line
                .split_once("(pid ")
                .and_then(|(_, rest)| rest.split_once(')'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok());
            if let Some(pid) = pid
                && tx.send(pid).is_err()
            {
                return;
            }
        }
    });
    let deadline = Instant::now() + STARTUP_WAIT_MAX;
    let mut pids = Vec::new();
    while pids.len() < 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(pid) => pids.push(pid),
            Err(_) => {
                let _ = sim.kill();
                return Err(format!("only {} servers announced", pids.len()));
            }
        }
    }
    // SAFETY: kill(2) on the child this test started.
    unsafe {
        libc::kill(sim.id() as libc::pid_t, libc::SIGINT);
    }
    let status = sim.wait().map_err(|e| e.to_string())?;
    if status.code() != Some(130) {
        return Err(format!("sim exited with {status}, not 130 after Ctrl-C"));
    }
    assert_no_survivors(&pids)
}
