//! `sim shrink`: minimize a failing scenario file and write it as a regression scenario.

use std::path::PathBuf;

use sim::outcome::exit;
use sim::scenario::Scenario;
use sim::shrink;

/// `sim shrink`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShrinkArgs {
    /// The failing scenario to minimize.
    pub file: PathBuf,
    /// Where the minimized scenario is written.
    #[arg(long, default_value = "scenarios/regressions")]
    pub out: PathBuf,
    /// Give up after this many simulation runs.
    #[arg(long, default_value_t = 400)]
    pub runs_max: usize,
}

/// `sim shrink FILE`.
pub fn run(args: &ShrinkArgs) -> u8 {
    let scenario = match Scenario::load(&args.file) {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("{e}");
            return exit::BAD_SCENARIO;
        }
    };
    match shrink::shrink(&scenario, args.runs_max) {
        Err(message) => {
            eprintln!("{}: {message}", args.file.display());
            exit::BAD_SCENARIO
        }
        Ok(shrunk) => {
            println!(
                "{}: fails {}; {} steps -> {} steps, {} servers, {} ({} runs)",
                args.file.display(),
                shrunk.label,
                shrunk.steps_before,
                shrunk.scenario.steps.len(),
                shrunk.scenario.herd.servers.len(),
                sim::scenario::fmt_duration(shrunk.scenario.duration),
                shrunk.runs
            );
            match shrink::write_regression(&shrunk, &args.file.display().to_string(), &args.out) {
                Ok(path) => {
                    println!("wrote {}", path.display());
                    exit::OK
                }
                Err(message) => {
                    eprintln!("{message}");
                    exit::USAGE
                }
            }
        }
    }
}
