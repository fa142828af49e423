//! The `sim` binary: run scenario files in the deterministic simulation and report.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sim::report::{self, Judged, exit};
use sim::scenario::Scenario;

/// Run chaos scenarios against the unchanged herd server in a simulated network.
///
/// Exit status: 0 all checks held, 1 safety violation, 2 liveness violation, 3 the system under
/// test panicked or stopped, 4 bad scenario file, 64 bad command line. With several files, the
/// worst (highest) status wins.
#[derive(Debug, Parser)]
#[command(name = "sim", version)]
struct Cli {
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
    let mut worst = exit::OK;
    for path in &cli.files {
        let code = run_file(&cli, path);
        worst = worst.max(code);
    }
    ExitCode::from(worst)
}

fn run_file(cli: &Cli, path: &PathBuf) -> u8 {
    let scenario = match load(cli, path) {
        Ok(scenario) => scenario,
        Err(message) => {
            eprintln!("{message}");
            return exit::BAD_SCENARIO;
        }
    };
    let run = sim::harness::run(&scenario);
    let judged = Judged::judge(&scenario, run);
    print!(
        "{}",
        report::human_report(path, &scenario, &judged, !cli.quiet)
    );
    judged.exit_code()
}

fn load(cli: &Cli, path: &PathBuf) -> Result<Scenario, String> {
    let mut scenario = Scenario::load(path).map_err(|e| e.to_string())?;
    if let Some(seed) = cli.seed {
        scenario.seed = seed;
    }
    if let Some(herd_path) = &cli.herd {
        let herd = server::config::Herd::load(herd_path).map_err(|e| e.to_string())?;
        scenario = scenario
            .with_herd(herd, herd_path.clone())
            .map_err(|e| e.to_string())?;
    }
    Ok(scenario)
}
