//! The swarm's seeds against real processes: what one seed does with `sim swarm --real` (its
//! generated scenario against real `server` processes) and `sim swarm --compare` (both modes,
//! gated as `--compare` gates a file), and the lines and summaries they print. A real run takes
//! its scenario's `duration` on the wall clock and mostly waits, so seeds run several at once
//! (`--jobs`), each on its own free ports; the runner is the `sim` binary's, shared with the
//! simulated swarm ([`crate::swarm::pool`]).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::outcome::Outcome;
use crate::outcome::exit;
use crate::real::compare::{Comparison, Row, word};
use crate::real::{RealOptions, procs};
use crate::report::Judged;
use crate::swarm::{self, Base, SeedOutcome};

/// Seeds listed per checker (or failure class) in a summary.
const FIRST_SEEDS_SHOWN: usize = 8;
/// Violation lines shown per checker and mode as a compared seed finishes (the kept report
/// has them all).
const DETAILS_SHOWN: usize = 3;
/// Runs at once when `--jobs` is not given, per core: a real run mostly sleeps.
const JOBS_PER_CORE: usize = 2;

/// The default number of runs at once in real mode.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        * JOBS_PER_CORE
}

/// Keeps one interrupt handler alive for a whole multi-run command, so Ctrl-C kills every
/// server even between two runs (each run also installs one while it lasts).
pub struct InterruptGuard {
    _runtime: Option<tokio::runtime::Runtime>,
}

impl InterruptGuard {
    pub fn install() -> InterruptGuard {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .ok();
        if let Some(runtime) = &runtime {
            let _entered = runtime.enter();
            procs::install_interrupt_handler();
        }
        InterruptGuard { _runtime: runtime }
    }
}

/// How one seed compared.
#[derive(Debug, Clone)]
pub struct SeedComparison {
    pub seed: u64,
    /// The checkers that failed in either mode or whose verdicts differ, with the declared
    /// reason where there is one and each mode's violation lines.
    pub rows: Vec<Row>,
    /// The seed's exit status, as `--compare` gates ([`Comparison::code`]).
    pub code: u8,
    /// Why the seed could not be compared (a bad scenario, a real run that could not start).
    pub error: Option<String>,
    /// The real run's directory, kept when the modes differ.
    pub logs: Option<PathBuf>,
    pub wall: Duration,
}

impl SeedComparison {
    pub fn unexpected(&self) -> bool {
        self.error.is_some() || self.rows.iter().any(Row::unexpected)
    }

    /// Whether a checker failed in either mode (a declared one-mode failure aside).
    pub fn failed(&self) -> bool {
        self.rows.iter().any(Row::failed)
    }
}

/// Runs one seed in both modes and compares every checker's verdict.
pub fn compare_seed(seed: u64, base: &Base, options: &RealOptions) -> SeedComparison {
    let started = Instant::now();
    let mut outcome = SeedComparison {
        seed,
        rows: Vec::new(),
        code: exit::OK,
        error: None,
        logs: None,
        wall: Duration::ZERO,
    };
    match swarm::scenario_for(seed, base) {
        Err(message) => {
            outcome.error = Some(message);
            outcome.code = exit::BAD_SCENARIO;
        }
        Ok(scenario) => {
            let simulated = Judged::judge(&scenario, crate::harness::run(&scenario));
            match crate::real::run_and_judge(&scenario, options) {
                Err(e) => {
                    outcome.error = Some(format!("real run: {e:#}"));
                    outcome.code = exit::SUT_FAILURE;
                }
                Ok((real, run)) => {
                    let comparison = Comparison::new(&scenario, &simulated, &real);
                    outcome.code = comparison.code();
                    let keep = comparison.rows.iter().any(|r| r.differs() || r.failed());
                    if keep {
                        let path = std::path::Path::new("scenario.yaml");
                        let report = format!(
                            "{}{}\n\n== simulation\n{}\n== real\n{}",
                            comparison.table(),
                            comparison.result_line(),
                            crate::report::human_report(
                                path,
                                &scenario,
                                &simulated,
                                true,
                                &options.invocation.in_mode(None)
                            ),
                            crate::real::human_report(
                                path,
                                &scenario,
                                &real,
                                &run,
                                true,
                                &options.invocation
                            )
                        );
                        let _ = std::fs::write(run.dir.join("report.txt"), report);
                        let _ = std::fs::write(
                            run.dir.join("scenario.yaml"),
                            scenario_yaml(seed, base),
                        );
                        outcome.logs = Some(run.dir);
                    } else {
                        let _ = std::fs::remove_dir_all(&run.dir);
                    }
                    outcome.rows = comparison
                        .rows
                        .into_iter()
                        .filter(|r| r.differs() || r.failed())
                        .collect();
                }
            }
        }
    }
    outcome.wall = started.elapsed();
    outcome
}

fn scenario_yaml(seed: u64, base: &Base) -> String {
    swarm::scenario_text(seed, base)
}

/// How one seed ended in real mode.
#[derive(Debug, Clone)]
pub struct RealSeedOutcome {
    pub outcome: SeedOutcome,
    /// The run's directory, kept when it failed.
    pub logs: Option<PathBuf>,
}

/// Runs one seed against real processes and judges it.
pub fn run_real_seed(seed: u64, base: &Base, options: &RealOptions) -> RealSeedOutcome {
    let failed = |outcome: Outcome, failure: String| RealSeedOutcome {
        outcome: SeedOutcome {
            seed,
            outcome,
            failure: Some(failure),
            simulated: Duration::ZERO,
            sometimes: Default::default(),
        },
        logs: None,
    };
    let scenario = match swarm::scenario_for(seed, base) {
        Ok(scenario) => scenario,
        Err(message) => return failed(Outcome::BadScenario, format!("bad-scenario: {message}")),
    };
    match crate::real::run_and_judge(&scenario, options) {
        Err(e) => failed(Outcome::Crash, format!("crash/real run: {e:#}")),
        Ok((judged, run)) => {
            let outcome = judged.outcome();
            let logs = if outcome == Outcome::Pass {
                let _ = std::fs::remove_dir_all(&run.dir);
                None
            } else {
                let _ = std::fs::write(run.dir.join("scenario.yaml"), scenario_yaml(seed, base));
                Some(run.dir)
            };
            RealSeedOutcome {
                outcome: SeedOutcome {
                    seed,
                    outcome,
                    failure: outcome.label(),
                    simulated: judged.run.end,
                    // The coverage table is the simulated swarm's: a real run's timing is
                    // not reproducible, so its rare behaviours are not counted.
                    sometimes: Default::default(),
                },
                logs,
            }
        }
    }
}

/// The command that prints a seed's scenario, as `--compare FILE` and `--real FILE` take it.
pub fn emit_command(seed: u64, base: &Base) -> String {
    format!(
        "cargo run -p sim -- swarm --emit {seed}{} > seed{seed}.yaml",
        base.flags()
    )
}

/// The lines printed as a compared seed finishes: every failing or differing row with each
/// mode's violation lines.
pub fn seed_lines(outcome: &SeedComparison, base: &Base) -> String {
    let seed = outcome.seed;
    let mut out = String::new();
    if let Some(error) = &outcome.error {
        let _ = writeln!(out, "seed {seed}: NOT COMPARED: {error}");
        return out;
    }
    if outcome.rows.is_empty() {
        let _ = writeln!(
            out,
            "seed {seed}: the modes agree and pass ({:.1} s)",
            outcome.wall.as_secs_f64()
        );
        return out;
    }
    let verdict = match (outcome.failed(), outcome.unexpected()) {
        (true, _) => "FAILS",
        (false, true) => "DIFFERS",
        (false, false) => "differs as declared",
    };
    let _ = writeln!(out, "seed {seed}: {verdict}");
    for row in &outcome.rows {
        let why = match (&row.declared, row.differs()) {
            (Some(reason), true) => format!("expected: {reason}"),
            (None, true) => "unexplained".to_string(),
            (_, false) => "fails in both modes".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:<16} sim {:<4} real {:<4}  {why}",
            row.checker,
            word(row.simulated),
            word(row.real)
        );
        for (mode, details) in ["sim", "real"].iter().zip(&row.details) {
            for line in details.iter().take(DETAILS_SHOWN) {
                let _ = writeln!(out, "    {mode}: {line}");
            }
            if details.len() > DETAILS_SHOWN {
                let _ = writeln!(out, "    {mode}: ... (all of them in the kept report)");
            }
        }
    }
    let _ = writeln!(
        out,
        "  reproduce: {} && cargo run -p sim -- --compare seed{seed}.yaml",
        emit_command(seed, base)
    );
    if let Some(dir) = &outcome.logs {
        let _ = writeln!(out, "  logs, report and scenario kept in {}", dir.display());
    }
    out
}

/// The compare swarm's end: agreement counts, the differing checkers with their seeds, and
/// throughput.
pub fn compare_summary(outcomes: &[SeedComparison], wall: Duration, jobs: usize) -> String {
    let mut out = String::new();
    let differing = |o: &&SeedComparison| o.rows.iter().any(Row::differs);
    let agree = outcomes
        .iter()
        .filter(|o| o.error.is_none() && !differing(o))
        .count();
    let unexplained = outcomes.iter().filter(|o| o.unexpected()).count();
    let errors = outcomes.iter().filter(|o| o.error.is_some()).count();
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    let _ = writeln!(
        out,
        "== compare swarm summary: {} seeds, {agree} agree, {} differ as declared, {} differ unexplained, {errors} not compared; {failed} fail in a mode",
        outcomes.len(),
        outcomes.len() - agree - unexplained,
        unexplained - errors,
    );
    let mut by_row: std::collections::BTreeMap<(String, &str, &str, Option<String>), Vec<u64>> =
        Default::default();
    for o in outcomes {
        for row in &o.rows {
            let key = (
                row.checker.clone(),
                word(row.simulated),
                word(row.real),
                row.declared.clone(),
            );
            by_row.entry(key).or_default().push(o.seed);
        }
    }
    for ((checker, sim, real, declared), seeds) in &by_row {
        let first = swarm::first_seeds(seeds, FIRST_SEEDS_SHOWN);
        let why = match declared {
            _ if sim == real => "fails in both modes".to_string(),
            Some(r) => format!("expected: {r}"),
            None => "unexplained".into(),
        };
        let _ = writeln!(
            out,
            "  {checker:<16} sim {sim:<4} real {real:<4} {:>3} seeds: {}  ({why})",
            seeds.len(),
            first
        );
    }
    let _ = writeln!(out, "{}", throughput(outcomes.len(), wall, jobs));
    out
}

fn throughput(seeds: usize, wall: Duration, jobs: usize) -> String {
    let secs = wall.as_secs_f64().max(1e-9);
    format!(
        "throughput: {:.1} seeds/min ({seeds} seeds in {secs:.1} s wall, {jobs} jobs)",
        seeds as f64 * 60.0 / secs
    )
}

/// The real swarm's end: failures by class with the first seeds and how to reproduce them.
pub fn real_summary(
    outcomes: &[RealSeedOutcome],
    base: &Base,
    wall: Duration,
    jobs: usize,
) -> String {
    let mut out = String::new();
    let mut by_class: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    for o in outcomes {
        if let Some(label) = &o.outcome.failure {
            let label = label.lines().next().unwrap_or("");
            by_class.entry(label).or_default().push(o.outcome.seed);
        }
    }
    let failed: usize = by_class.values().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "== real swarm summary: {} seeds, {} passed, {failed} failed",
        outcomes.len(),
        outcomes.len() - failed
    );
    for (label, seeds) in &by_class {
        let _ = writeln!(
            out,
            "  {label:<32} {:>3} seeds: {}",
            seeds.len(),
            swarm::first_seeds(seeds, FIRST_SEEDS_SHOWN)
        );
        if let Some(seed) = seeds.first() {
            let _ = writeln!(
                out,
                "    reproduce: {} && cargo run -p sim -- --real seed{seed}.yaml",
                emit_command(*seed, base)
            );
        }
    }
    let _ = writeln!(out, "{}", throughput(outcomes.len(), wall, jobs));
    out
}

/// The line printed as a real seed finishes.
pub fn real_seed_lines(o: &RealSeedOutcome) -> String {
    let mut out = match &o.outcome.failure {
        None => format!("seed {}: ok\n", o.outcome.seed),
        Some(label) => format!("seed {} FAILED: {label}\n", o.outcome.seed),
    };
    if let Some(dir) = &o.logs {
        let _ = writeln!(out, "  logs and scenario kept in {}", dir.display());
    }
    out
}
