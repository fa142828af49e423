//! `sim explore`: the coverage-guided search on the command line: a corpus resumed from (and
//! merged into) directories, progress on stderr, failures shrunk into scenario files, a
//! report against the swarm on the same budget, and `--against-swarm`, the canary benchmark.

use std::path::PathBuf;
use std::time::Duration;

use sim::explore::report::{self, median};
use sim::explore::{Corpus, Settings, Strategy, Summary, corpus, search};
use sim::outcome::{Outcome, exit};
use sim::swarm::{Base, DURATION_MIN};

/// `sim explore`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExploreArgs {
    /// The herd to run (default: the herd of docs/protocol.md §13).
    #[arg(long, value_name = "FILE")]
    herd: Option<PathBuf>,
    /// Simulated length of each run (the last 10 s are quiet).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// The corpus directory: read to resume, and every new entry is written there.
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Corpus directories of other runs (other machines, other shards) to merge in: their
    /// entries are read, the union is minimized, and written to `--corpus`.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    merge: Vec<PathBuf>,
    /// Runs at most (the budget; 0 only merges).
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Wall time at most, e.g. `10m` (the run budget still applies).
    #[arg(long, value_parser = server::config::parse_duration)]
    time: Option<Duration>,
    /// Simulations at once; default: every core. The runs of a search seed do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Seeds every choice the search makes.
    #[arg(long, default_value_t = 0)]
    search_seed: u64,
    /// Percent of the children aimed at one of the rarest sometimes properties (an entry that
    /// reached it, all its steps kept, the edge toward another added). Lifts the rarest
    /// properties, at a cost to the value edges the deep canaries need (docs/explore.md).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    aim: u32,
    /// Stop at the first failure whose `class/checker` starts with this (e.g.
    /// `liveness/convergence`).
    #[arg(long, value_name = "LABEL")]
    until: Option<String>,
    /// Shrink the first failure of each class into `--out`.
    #[arg(long)]
    shrink: bool,
    /// Where `--shrink` writes minimized scenarios.
    #[arg(long, default_value = "scenarios/regressions")]
    out: PathBuf,
    /// Also run the swarm on the same number of runs and write `explore.md` and `explore.svg`
    /// (features against runs) into this directory.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// The benchmark: for search seeds 0..`--repeat`, runs until `--until` is found by the
    /// explorer (from an empty corpus) and by the swarm, each within `--runs`; prints the
    /// medians and the features each reached.
    #[arg(long, requires = "until")]
    against_swarm: bool,
    /// Run every child with this planted bug in the servers (`server::canary`), to measure how
    /// soon the search finds it.
    #[arg(long, value_name = "NAME", value_parser = server::canary::Canary::parse)]
    canary: Option<server::canary::Canary>,
    /// Search seeds the benchmark runs.
    #[arg(long, default_value_t = 5)]
    repeat: u64,
    /// The benchmark's run budget for the swarm (default: `--runs`); 0 runs the explorer
    /// alone, when the swarm's figure comes from `sim swarm --seeds 0..N --canary NAME`.
    #[arg(long, requires = "against_swarm")]
    swarm_runs: Option<usize>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = server::config::parse_duration(text)?;
    if duration < DURATION_MIN {
        return Err("a run needs at least 13s (some chaos, then a quiet phase)".into());
    }
    Ok(duration)
}

/// `sim explore`.
pub fn run(args: &ExploreArgs) -> u8 {
    let base = match Base::new(args.herd.as_deref(), args.duration) {
        Ok(mut base) => {
            base.canary = args.canary;
            base
        }
        Err(message) => {
            eprintln!("{message}");
            return exit::BAD_SCENARIO;
        }
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if args.against_swarm {
        return against_swarm(args, &base, jobs);
    }
    let mut dirs: Vec<PathBuf> = args.corpus.iter().cloned().collect();
    dirs.extend(args.merge.iter().cloned());
    let mut loaded = match Corpus::load(&dirs) {
        Ok(corpus) => corpus,
        Err(e) => {
            eprintln!("explore: {e}");
            return exit::BAD_SCENARIO;
        }
    };
    if !args.merge.is_empty() {
        loaded = loaded.minimized();
        if let Some(dir) = &args.corpus {
            for entry in &loaded.entries {
                if let Err(e) = corpus::write_entry(dir, entry, loaded.energy(entry)) {
                    eprintln!("explore: {e}");
                    return exit::USAGE;
                }
            }
        }
        println!(
            "explore: merged {} directories: {} entries reach {} features",
            dirs.len(),
            loaded.entries.len(),
            loaded.feature_count()
        );
    }
    println!(
        "explore: search seed {}, {} runs at most{}, {jobs} jobs, corpus of {} entries ({} features)",
        args.search_seed,
        args.runs,
        args.time
            .map(|t| format!(" or {}", sim::scenario::fmt_duration(t)))
            .unwrap_or_default(),
        loaded.entries.len(),
        loaded.feature_count()
    );
    let settings = settings(args, Strategy::Explore, args.search_seed, jobs);
    let summary = search(&base, &settings, loaded, &progress);
    print!("{}", summary_text(&summary));
    let mut worst = summary
        .failures
        .iter()
        .map(|f| f.outcome)
        .max()
        .unwrap_or(Outcome::Pass)
        .code();
    if args.shrink {
        for found in &summary.failures {
            if matches!(found.outcome, Outcome::HerdFile(_)) {
                println!(
                    "run {} ({}): its herd file is the reproduction (`sim check-herds`)",
                    found.run, found.label
                );
                continue;
            }
            println!("shrinking run {} ({})...", found.run, found.label);
            let written = sim::shrink::shrink(&found.scenario, 400).and_then(|shrunk| {
                let from = format!("explore-run-{}.yaml", found.run);
                sim::shrink::write_regression(&shrunk, &from, &args.out)
            });
            match written {
                Ok(path) => println!("  wrote {}", path.display()),
                Err(e) => println!("  could not shrink: {e}"),
            }
        }
    }
    if let Some(dir) = &args.report {
        let mut swarm_settings = settings.clone();
        swarm_settings.strategy = Strategy::Swarm;
        swarm_settings.runs_max = summary.runs;
        swarm_settings.time_max = None;
        swarm_settings.corpus_dir = None;
        let swarm = search(&base, &swarm_settings, Corpus::default(), &progress);
        if let Err(e) = write_report(dir, &[&summary, &swarm]) {
            eprintln!("explore: {e}");
            worst = exit::worse(worst, exit::USAGE);
        }
    }
    worst
}

fn settings(args: &ExploreArgs, strategy: Strategy, seed: u64, jobs: usize) -> Settings {
    Settings {
        strategy,
        search_seed: seed,
        runs_max: args.runs,
        time_max: args.time,
        jobs,
        until: args.until.clone(),
        corpus_dir: args.corpus.clone(),
        aim_percent: args.aim,
    }
}

/// The progress line, on stderr, every batch.
fn progress(status: &search::Status) {
    let rate = status.runs as f64 / status.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "explore: {} runs ({rate:.1}/s), corpus {}, {} features, {} failing, last new: {}",
        status.runs,
        status.corpus,
        status.features,
        status.failures,
        status.last_new.as_deref().unwrap_or("-")
    );
}

fn summary_text(summary: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {} summary: {} runs ({} children refused by validation), {} features, corpus {} \
         entries, {:.1} s wall",
        summary.strategy.as_str(),
        summary.runs,
        summary.discarded,
        summary.corpus.feature_count(),
        summary.corpus.entries.len(),
        summary.wall.as_secs_f64()
    );
    for found in &summary.failures {
        let _ = writeln!(
            out,
            "failure {}: first at run {}, {} runs failed",
            found.label.lines().next().unwrap_or(""),
            found.run,
            found.runs_failed
        );
    }
    out
}

fn write_report(dir: &PathBuf, searches: &[&Summary]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let table = format!(
        "{}\n{}",
        report::table(searches),
        report::sometimes_table(searches)
    );
    print!("{table}");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write("explore.md", &table)?;
    write("explore.svg", &report::svg(searches))?;
    println!("report: {}", dir.join("explore.md").display());
    Ok(())
}

/// `--against-swarm`: each search seed runs the explorer (from an empty corpus) and the swarm
/// until `--until` is found or `--runs` is spent.
fn against_swarm(args: &ExploreArgs, base: &Base, jobs: usize) -> u8 {
    let until = args.until.clone().unwrap_or_default();
    let mut rows: Vec<(Strategy, Vec<Option<usize>>, Vec<usize>)> = Vec::new();
    let quiet = |_: &search::Status| {};
    for strategy in [Strategy::Explore, Strategy::Swarm] {
        let (mut found, mut features) = (Vec::new(), Vec::new());
        let runs_max = match strategy {
            Strategy::Swarm => args.swarm_runs.unwrap_or(args.runs),
            Strategy::Explore => args.runs,
        };
        if runs_max == 0 {
            continue;
        }
        for seed in 0..args.repeat {
            let mut settings = settings(args, strategy, seed, jobs);
            settings.corpus_dir = None;
            settings.runs_max = runs_max;
            let summary = search(base, &settings, Corpus::default(), &quiet);
            let runs = summary.stopped_at;
            eprintln!(
                "{} seed {seed}: {} after {} runs, {} features, {:.1} s",
                strategy.as_str(),
                runs.map_or("not found".into(), |r| format!("found at run {r}")),
                summary.runs,
                summary.corpus.feature_count(),
                summary.wall.as_secs_f64()
            );
            found.push(runs);
            features.push(summary.corpus.feature_count());
        }
        rows.push((strategy, found, features));
    }
    println!(
        "canary {until}, herd {}, {} search seeds, {} runs at most each",
        args.herd
            .as_deref()
            .map(sim::repo_path::from_root)
            .unwrap_or_else(|| "default".into()),
        args.repeat,
        args.runs
    );
    println!("| search | found | median runs to find | runs to find, by seed |");
    println!("|---|---:|---:|---|");
    for (strategy, found, _) in &rows {
        let list: Vec<String> = found
            .iter()
            .map(|r| r.map_or("-".into(), |r| r.to_string()))
            .collect();
        let budget = match strategy {
            Strategy::Swarm => args.swarm_runs.unwrap_or(args.runs),
            Strategy::Explore => args.runs,
        };
        println!(
            "| {} | {}/{} | {} | {} |",
            strategy.as_str(),
            found.iter().flatten().count(),
            found.len(),
            median(found.clone()).map_or(format!("> {budget}"), |r| r.to_string()),
            list.join(", ")
        );
    }
    exit::OK
}
