//! The `sim` binary: run scenario files in the deterministic simulation and report; search
//! many seeds (`swarm`); shrink a failing scenario (`shrink`); judge herd files the server must
//! refuse or accept (`check-herds`).

mod cli {
    //! The subcommands the binary runs itself, each with its arguments.
    pub mod check_herds;
    #[cfg(test)]
    mod docs_check;
    pub mod explore;
    pub mod shrink;
    pub mod swarm;
}

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sim::outcome::exit;
use sim::report;
use sim::scenario::Scenario;

/// Run chaos scenarios against the unchanged herd server in a simulated network.
///
/// Exit status: 0 all checks held, 1 safety violation (for `check-herds`: a herd file refused
/// or accepted against its header), 2 liveness violation, 3 the system under test panicked or
/// stopped, 4 bad scenario file (for `check-herds`: a corpus file without a sound header), 5
/// (`--compare`) the modes' verdicts differ, 6 (`swarm --require-coverage`) a required
/// "sometimes" property was never hit, 64 bad command line. With several files or seeds, the
/// worst failure wins (safety over liveness).
#[derive(Debug, Parser)]
#[command(
    name = "sim",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run many seeds, each a generated scenario with a random mix of faults.
    Swarm(sim::swarm::SwarmArgs),
    /// Search guided by coverage: keep runs that reached something new, make children of them.
    Explore(cli::explore::ExploreArgs),
    /// Minimize a failing scenario while it keeps failing the same way.
    Shrink(cli::shrink::ShrinkArgs),
    /// Load herd files the server must refuse or accept, through the server's own loader.
    CheckHerds(cli::check_herds::CheckHerdsArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Scenario files (YAML) to run, in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Run with this seed instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
    /// Run on this herd file instead of the scenario's herd.
    #[arg(long, value_name = "FILE")]
    herd: Option<PathBuf>,
    /// Leave out the timeline.
    #[arg(long, short)]
    quiet: bool,
    /// Show link start-up in the timeline event by event (by default each server's is one
    /// `links_up` line).
    #[arg(long, short)]
    verbose: bool,
    /// Write a Lamport (space-time) diagram of the run as SVG.
    #[arg(long, value_name = "OUT.svg")]
    svg: Option<PathBuf>,
    /// Write the diagram as a standalone HTML page.
    #[arg(long, value_name = "OUT.html")]
    html: Option<PathBuf>,
    /// Draw the diagram from this simulated time (e.g. 1s, 500ms).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<std::time::Duration>,
    /// Draw the diagram up to this simulated time.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<std::time::Duration>,
    /// Run against real `server` processes on 127.0.0.1 (real time) instead of the simulation.
    #[arg(long, conflicts_with = "compare")]
    real: bool,
    /// Run each file in both modes and compare every checker's verdict.
    #[arg(long)]
    compare: bool,
    /// The `server` binary for --real and --compare (default: next to this one, else built).
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// With --real or --compare: run this many files at once (each on its own free ports).
    #[arg(long, default_value_t = 1, value_parser = parse_jobs)]
    jobs: usize,
}

fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("{text:?}: jobs is a number from 1 to 64")),
    }
}

fn parse_time(text: &str) -> Result<std::time::Duration, String> {
    server::config::parse_duration(text)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            return ExitCode::from(code);
        }
    };
    let code = match &cli.command {
        Some(Command::Swarm(args)) if args.real.active() => cli::swarm::real(args),
        Some(Command::Swarm(args)) => cli::swarm::simulated(args),
        Some(Command::Explore(args)) => cli::explore::run(args),
        Some(Command::Shrink(args)) => cli::shrink::run(args),
        Some(Command::CheckHerds(args)) => cli::check_herds::run(args),
        None => run_files(&cli.run),
    };
    ExitCode::from(code)
}

fn run_files(args: &RunArgs) -> u8 {
    if args.real || args.compare {
        return run_real_files(args);
    }
    let mut worst = exit::OK;
    for path in &args.files {
        worst = exit::worse(worst, run_file(args, path));
    }
    worst
}

fn run_file(args: &RunArgs, path: &Path) -> u8 {
    let scenario = match load(args, path) {
        Ok(scenario) => scenario,
        Err(message) => {
            eprintln!("{message}");
            return exit::BAD_SCENARIO;
        }
    };
    let judged = report::run_and_judge(&scenario);
    print!(
        "{}",
        report::human_report(path, &scenario, &judged, !args.quiet, &invocation(args))
    );
    let window = sim::diagram::Window {
        from: args.from,
        to: args.to,
    };
    for (out, page) in [(&args.svg, false), (&args.html, true)] {
        let Some(out) = out else { continue };
        let drawing = if page {
            sim::diagram::html(&scenario, &judged.run.trace, window)
        } else {
            sim::diagram::svg(&scenario, &judged.run.trace, window)
        };
        if let Err(e) = std::fs::write(out, drawing) {
            eprintln!("cannot write {}: {e}", out.display());
            return exit::USAGE;
        }
        println!("diagram: {}", out.display());
    }
    judged.exit_code()
}

/// What the command line changed about each run, for its reproduce line.
fn invocation(args: &RunArgs) -> report::Invocation {
    report::Invocation {
        mode: if args.compare {
            Some("--compare")
        } else if args.real {
            Some("--real")
        } else {
            None
        },
        herd: args.herd.clone(),
        server_bin: args.server_bin.clone(),
        verbose: args.verbose,
    }
}

fn load(args: &RunArgs, path: &Path) -> Result<Scenario, String> {
    let mut scenario = Scenario::load(path).map_err(|e| e.to_string())?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(herd_path) = &args.herd {
        let herd = server::config::Herd::load(herd_path).map_err(|e| e.to_string())?;
        scenario = scenario
            .with_herd(herd, herd_path.clone())
            .map_err(|e| e.to_string())?;
    }
    Ok(scenario)
}

/// `--real` and `--compare`: finds the server binary once, then runs the files, `--jobs` at
/// once.
fn run_real_files(args: &RunArgs) -> u8 {
    let (binary, how) = match sim::real::procs::server_binary(args.server_bin.as_deref()) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("real: {e:#}");
            return exit::USAGE;
        }
    };
    eprintln!("real: server binary: {how}");
    let options = sim::real::RealOptions {
        binary,
        announce: !args.quiet && args.jobs == 1,
        invocation: invocation(args),
    };
    let files: Vec<sim::real::files::FileJob> = args
        .files
        .iter()
        .map(|path| (path.clone(), load(args, path)))
        .collect();
    let mode = if args.compare {
        sim::real::files::Mode::Compare
    } else {
        sim::real::files::Mode::Real {
            timeline: !args.quiet,
        }
    };
    sim::real::files::run(&files, &options, mode, args.jobs)
}
