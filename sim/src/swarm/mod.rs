//! Swarm testing: many seeds, each deriving a whole scenario with a random subset of fault
//! families switched on (not all at once, so rare interactions get room), run in parallel, one
//! simulation per thread, with a summary by failure class and a reproduce line for each.
//!
//! A generated scenario is an ordinary scenario: it is written as YAML and read back before it
//! runs, so `sim swarm --emit SEED > f.yaml && sim f.yaml` replays the same trace byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use server::config::Herd;

use crate::checkers::RunRecord;
use crate::outcome::{Outcome, exit};
use crate::report;
use crate::scenario::{HerdSource, Scenario};
use crate::sometimes::{self, Property};

/// Failing seeds listed per failure class in the summary.
const FIRST_SEEDS_SHOWN: usize = 5;

/// The first `count` of `seeds`, comma-separated, for a summary line.
pub fn first_seeds(seeds: &[u64], count: usize) -> String {
    let first: Vec<String> = seeds.iter().take(count).map(u64::to_string).collect();
    first.join(", ")
}

pub mod coverage;
mod generate;
pub mod pool;

pub use coverage::Coverage;
pub use generate::{
    DURATION_MIN, FAILED_DISK_DOWN, PowerFault, QUIET, SwarmOptions, down_near, generate,
    persistent_connected, power_fault_steps, timestamp_text,
};

/// `sim swarm`.
#[derive(Debug, Clone, clap::Args)]
pub struct SwarmArgs {
    /// Seeds to run: `0..1000` (end excluded) or one seed, `17`.
    #[arg(long, default_value = "0..100", value_parser = parse_seeds)]
    pub seeds: Range<u64>,
    /// Simulations run at once (one per thread); default: every core.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only this machine's share of the seeds: `I/N` takes the seeds with seed % N == I.
    #[arg(long, value_parser = parse_shard, value_name = "I/N")]
    pub shard: Option<(u64, u64)>,
    /// The herd to run (default: the herd of docs/protocol.md §13).
    #[arg(long, value_name = "FILE")]
    pub herd: Option<PathBuf>,
    /// Simulated length of each run; the last part is always a quiet phase (15s with --real
    /// or --compare, which take it on the wall clock).
    #[arg(long, default_value = "30s", value_parser = parse_duration,
          default_value_if("real", "true", "15s"), default_value_if("compare", "true", "15s"))]
    pub duration: Duration,
    /// Print the scenario seed SEED runs, as YAML, and run nothing.
    #[arg(long, value_name = "SEED")]
    pub emit: Option<u64>,
    /// Print each seed's derived options as it starts.
    #[arg(long)]
    pub print_options: bool,
    /// Shrink the first failing seed of each failure class into `--out`.
    #[arg(long)]
    pub shrink: bool,
    /// Where `--shrink` writes minimized scenarios.
    #[arg(long, default_value = "scenarios/regressions")]
    pub out: PathBuf,
    /// Exit 6 when a required "sometimes" property of the coverage table was never hit
    /// (unless a failure's own code is worse).
    #[arg(long, conflicts_with_all = ["real", "compare"])]
    pub require_coverage: bool,
    /// Run every seed with this planted bug in the servers (`server::canary`), to measure
    /// how often the search finds it.
    #[arg(long, value_name = "NAME", value_parser = server::canary::Canary::parse,
          conflicts_with_all = ["real", "compare"])]
    pub canary: Option<server::canary::Canary>,
    #[command(flatten)]
    pub real: RealSwarmArgs,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = server::config::parse_duration(text)?;
    if duration < DURATION_MIN {
        return Err(format!(
            "a swarm run needs at least {} (some chaos, then a quiet phase to judge liveness)",
            crate::scenario::fmt_duration(DURATION_MIN)
        ));
    }
    Ok(duration)
}

fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("{s:?} is not a seed number"))
    };
    match text.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a >= b {
                return Err(format!("seed range {text} is empty"));
            }
            Ok(a..b)
        }
        None => {
            let seed = number(text)?;
            Ok(seed..seed.saturating_add(1))
        }
    }
}

fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (i, n) = text.split_once('/').ok_or("a shard is I/N, e.g. 0/4")?;
    let (i, n): (u64, u64) = (
        i.parse().map_err(|_| "shard I is not a number")?,
        n.parse().map_err(|_| "shard N is not a number")?,
    );
    if n == 0 || i >= n {
        return Err(format!("shard {text}: need 0 <= I < N"));
    }
    Ok((i, n))
}

/// The YAML a seed runs, as `--emit` prints it: the scenario written and read back, so the
/// file and the run agree by construction.
pub fn scenario_text(seed: u64, base: &Base) -> String {
    let options = SwarmOptions::derive(seed, base.duration);
    let mut scenario = generate(&options, &base.herd, base.herd_source.clone());
    scenario.canary = base.canary;
    scenario.to_yaml(&[
        format!("Generated by `sim swarm` for seed {seed}."),
        format!("Reproduce: {}", base.reproduce(seed)),
    ])
}

/// Loads the scenario of a seed through its YAML text.
pub fn scenario_for(seed: u64, base: &Base) -> Result<Scenario, String> {
    let text = scenario_text(seed, base);
    Scenario::from_yaml_str(&text, format!("swarm-seed-{seed}.yaml"))
        .map_err(|e| format!("seed {seed} generated a bad scenario: {e}\n{text}"))
}

/// What every seed of a swarm shares.
#[derive(Debug, Clone)]
pub struct Base {
    pub herd: Herd,
    pub herd_source: HerdSource,
    pub herd_path: Option<PathBuf>,
    pub duration: Duration,
    /// The planted bug every seed runs with (`--canary`), if any.
    pub canary: Option<server::canary::Canary>,
}

impl Base {
    pub fn new(herd_path: Option<&Path>, duration: Duration) -> Result<Base, String> {
        let (herd, herd_source) = match herd_path {
            Some(path) => (
                Herd::load(path).map_err(|e| e.to_string())?,
                HerdSource::File(path.to_path_buf()),
            ),
            None => (Herd::default_herd(), HerdSource::Default),
        };
        Ok(Base {
            herd,
            herd_source,
            herd_path: herd_path.map(Path::to_path_buf),
            duration,
            canary: None,
        })
    }

    /// The command that runs this seed alone.
    pub fn reproduce(&self, seed: u64) -> String {
        format!(
            "cargo run --release -p sim -- swarm --seeds {seed}{}",
            self.flags()
        )
    }

    /// ` --duration D [--herd FILE]`: what a command needs to rebuild this base's scenarios.
    pub fn flags(&self) -> String {
        let herd = self
            .herd_path
            .as_ref()
            .map(|p| format!(" --herd {}", crate::repo_path::from_root(p)))
            .unwrap_or_default();
        let canary = self
            .canary
            .map(|c| format!(" --canary {c}"))
            .unwrap_or_default();
        format!(
            " --duration {}{herd}{canary}",
            crate::scenario::fmt_duration(self.duration)
        )
    }
}

/// How one seed ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOutcome {
    pub seed: u64,
    pub outcome: Outcome,
    /// `class/checker` of the first failure, e.g. `liveness/convergence`; `None` if it passed.
    pub failure: Option<String>,
    pub simulated: Duration,
    /// The rare behaviours the run showed, for the coverage table.
    pub sometimes: BTreeSet<Property>,
}

/// The swarm flags of real mode (flattened into `sim swarm`'s own).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RealSwarmArgs {
    /// Run each seed against real `server` processes on 127.0.0.1, in real time (default
    /// duration 15s, default jobs two per core).
    #[arg(long, conflicts_with_all = ["compare", "shrink"])]
    pub real: bool,
    /// Run each seed in the simulation and against real processes, and report the seeds whose
    /// verdicts differ (default duration 15s, default jobs two per core).
    #[arg(long, conflicts_with = "shrink")]
    pub compare: bool,
    /// The `server` binary for --real and --compare (default: next to this one, else built).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
}

impl RealSwarmArgs {
    /// Whether the swarm runs real processes at all.
    pub fn active(&self) -> bool {
        self.real || self.compare
    }
}

/// Runs one seed and judges it.
pub fn run_seed(seed: u64, base: &Base) -> SeedOutcome {
    let scenario = match scenario_for(seed, base) {
        Ok(scenario) => scenario,
        Err(message) => {
            return SeedOutcome {
                seed,
                outcome: Outcome::BadScenario,
                failure: Some(format!("bad-scenario: {message}")),
                simulated: Duration::ZERO,
                sometimes: BTreeSet::new(),
            };
        }
    };
    let judged = report::run_and_judge(&scenario);
    let outcome = judged.outcome();
    let record = RunRecord::new(
        &scenario,
        &judged.run.trace,
        judged.run.end,
        judged.run.final_tables.clone(),
    );
    SeedOutcome {
        seed,
        outcome,
        failure: outcome.label(),
        simulated: judged.run.end,
        sometimes: sometimes::observed(&record),
    }
}

/// Shrinks the scenario a swarm seed ran into `dir`.
pub fn shrink_seed(seed: u64, base: &Base, dir: &Path) -> Result<PathBuf, String> {
    let scenario = scenario_for(seed, base)?;
    let shrunk = crate::shrink::shrink(&scenario, 400)?;
    crate::shrink::write_regression(&shrunk, &format!("swarm-seed-{seed}.yaml"), dir)
}

/// Runs `seeds` on `jobs` threads; `progress` is called after each seed with its outcome.
pub fn run_seeds(
    seeds: &[u64],
    base: &Base,
    jobs: usize,
    progress: &(dyn Fn(&SeedOutcome) + Sync),
) -> Vec<SeedOutcome> {
    pool::parallel_map(seeds, jobs, &|&seed| run_seed(seed, base), progress)
}

/// The seeds this machine runs: `--seeds`, less what other shards take.
pub fn selected_seeds(args: &SwarmArgs) -> Vec<u64> {
    args.seeds
        .clone()
        .filter(|s| args.shard.is_none_or(|(i, n)| s % n == i))
        .collect()
}

/// The first line of every swarm: seeds, mode, jobs, run length and herd (written from the
/// repository root).
pub fn header(args: &SwarmArgs, seeds: usize, mode: &str, jobs: usize) -> String {
    format!(
        "swarm: {seeds} seeds ({:?}{}), {mode}, {jobs} jobs, {} each, herd {}",
        args.seeds,
        args.shard
            .map(|(i, n)| format!(", shard {i}/{n}"))
            .unwrap_or_default(),
        crate::scenario::fmt_duration(args.duration),
        args.herd
            .as_deref()
            .map(crate::repo_path::from_root)
            .unwrap_or_else(|| "default".into())
    )
}

/// What every swarm command does first: the base its seeds build on, or, when there is
/// nothing to run (a bad herd, or `--emit` printed the scenario), the exit status.
pub fn base_or_done(args: &SwarmArgs) -> Result<Base, u8> {
    let mut base = Base::new(args.herd.as_deref(), args.duration).map_err(|message| {
        eprintln!("{message}");
        exit::BAD_SCENARIO
    })?;
    base.canary = args.canary;
    if let Some(seed) = args.emit {
        print!("{}", scenario_text(seed, &base));
        return Err(exit::OK);
    }
    Ok(base)
}

/// The first failing seed of each failure class, for `--shrink`.
pub fn first_seed_per_class(outcomes: &[SeedOutcome]) -> BTreeMap<String, u64> {
    let mut first = BTreeMap::new();
    for o in outcomes {
        if let Some(label) = &o.failure {
            first.entry(label.clone()).or_insert(o.seed);
        }
    }
    first
}

/// The end-of-run table: failures by class with the first seeds and how to reproduce them,
/// then throughput.
pub fn summary(outcomes: &[SeedOutcome], base: &Base, wall: Duration) -> String {
    use std::fmt::Write;
    let mut by_class: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for o in outcomes {
        if let Some(label) = &o.failure {
            by_class.entry(label.as_str()).or_default().push(o.seed);
        }
    }
    let mut out = String::new();
    let failed: usize = by_class.values().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "== swarm summary: {} seeds, {} passed, {} failed",
        outcomes.len(),
        outcomes.len() - failed,
        failed
    );
    if !by_class.is_empty() {
        let _ = writeln!(
            out,
            "{:<32} {:>6}  first seeds",
            "failure class/checker", "seeds"
        );
        for (label, seeds) in &by_class {
            let _ = writeln!(
                out,
                "{:<32} {:>6}  {}",
                shorten(label),
                seeds.len(),
                first_seeds(seeds, FIRST_SEEDS_SHOWN)
            );
            if let Some(seed) = seeds.first() {
                let _ = writeln!(out, "    reproduce: {}", base.reproduce(*seed));
            }
        }
    }
    let simulated: f64 = outcomes.iter().map(|o| o.simulated.as_secs_f64()).sum();
    let wall_secs = wall.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "throughput: {:.1} seeds/min, {:.0} simulated s per wall s ({:.1} s wall)",
        outcomes.len() as f64 * 60.0 / wall_secs,
        simulated / wall_secs,
        wall_secs
    );
    out
}

fn shorten(label: &str) -> String {
    label
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(32)
        .collect()
}
