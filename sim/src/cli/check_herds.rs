//! `sim check-herds`: judge herd files the server must refuse or accept, and report.

use std::path::PathBuf;

use sim::herd_corpus;
use sim::outcome::exit;

/// `sim check-herds`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckHerdsArgs {
    /// Herd files, or directories searched to any depth for `*.yaml`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// List every file and what the server made of it (its error, for a refused one).
    #[arg(long, short)]
    pub verbose: bool,
}

/// Runs `sim check-herds`; returns the exit code.
pub fn run(args: &CheckHerdsArgs) -> u8 {
    let corpus = match herd_corpus::read_corpus(&args.paths) {
        Ok(corpus) => corpus,
        Err(errors) => {
            for error in errors {
                eprintln!("{error}");
            }
            return exit::BAD_SCENARIO;
        }
    };
    let judged = herd_corpus::judge(&corpus);
    print!(
        "{}",
        herd_corpus::report(&args.paths, &corpus, &judged, args.verbose)
    );
    for message in &judged.unusable {
        eprintln!("{message}");
    }
    herd_corpus::exit_code(&judged)
}
