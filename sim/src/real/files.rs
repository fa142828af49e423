//! `sim --real FILE...` and `sim --compare FILE...`: each file's run in real mode (or in both
//! modes), several at once with `--jobs`. Each file's report is printed whole as it finishes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::outcome::exit;
use crate::real::compare::Comparison;
use crate::real::swarm::InterruptGuard;
use crate::real::{RealOptions, RealRun};
use crate::report;
use crate::scenario::Scenario;
use crate::swarm::pool::parallel_map;

/// What to do with each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Real mode only; `timeline`: print the timeline in the report.
    Real { timeline: bool },
    /// Both modes, verdicts side by side.
    Compare,
}

/// One file to run: its path and its scenario, or why it could not be read.
pub type FileJob = (PathBuf, Result<Scenario, String>);

/// Runs every file, `jobs` at once; returns the worst exit status.
pub fn run(files: &[FileJob], options: &RealOptions, mode: Mode, jobs: usize) -> u8 {
    let _interrupts = (jobs > 1).then(InterruptGuard::install);
    let one = |(path, scenario): &FileJob| match scenario {
        Err(message) => {
            eprintln!("{message}");
            exit::BAD_SCENARIO
        }
        Ok(scenario) => {
            let (text, code) = match mode {
                Mode::Compare => compare_file(path, scenario, options),
                Mode::Real { timeline } => real_file(path, scenario, options, timeline),
            };
            print!("{text}");
            code
        }
    };
    parallel_map(files, jobs, &one, &|_| {})
        .into_iter()
        .fold(exit::OK, exit::worse)
}

/// One file in real mode: the report text and the exit status.
pub fn real_file(
    path: &Path,
    scenario: &Scenario,
    options: &RealOptions,
    timeline: bool,
) -> (String, u8) {
    let (judged, real) = match crate::real::run_and_judge(scenario, options) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("real: {}: {e:#}", path.display());
            return (String::new(), exit::SUT_FAILURE);
        }
    };
    let invocation = &options.invocation;
    let mut text = crate::real::human_report(path, scenario, &judged, &real, timeline, invocation);
    let code = judged.exit_code();
    if code != exit::OK {
        let report = crate::real::human_report(path, scenario, &judged, &real, true, invocation);
        let _ = std::fs::write(real.dir.join("report.txt"), report);
    }
    keep_or_remove(&real, code, &mut text);
    (text, code)
}

/// One file in both modes: the side-by-side table and the exit status.
pub fn compare_file(path: &Path, scenario: &Scenario, options: &RealOptions) -> (String, u8) {
    let simulated = report::run_and_judge(scenario);
    let (real, run) = match crate::real::run_and_judge(scenario, options) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("real: {}: {e:#}", path.display());
            return (String::new(), exit::SUT_FAILURE);
        }
    };
    let comparison = Comparison::new(scenario, &simulated, &real);
    let mut text = format!("== {} ({})\n", scenario.name, path.display());
    for note in &run.notes {
        let _ = writeln!(text, "note: {note}");
    }
    text.push_str(&comparison.table());
    let _ = writeln!(text, "{}", comparison.result_line());
    let code = comparison.code();
    if code != exit::OK {
        let invocation = &options.invocation;
        let _ = writeln!(text, "{}", invocation.reproduce(path, scenario.seed));
        let reports = format!(
            "{text}\n== simulation\n{}\n== real\n{}",
            report::human_report(path, scenario, &simulated, true, &invocation.in_mode(None)),
            crate::real::human_report(path, scenario, &real, &run, true, invocation)
        );
        let _ = std::fs::write(run.dir.join("report.txt"), reports);
    }
    keep_or_remove(&run, code, &mut text);
    (text, code)
}

/// A passing run's directory is removed; a failing one's is kept for its logs and report.
fn keep_or_remove(real: &RealRun, code: u8, text: &mut String) {
    if code == exit::OK {
        let _ = std::fs::remove_dir_all(&real.dir);
    } else {
        let _ = writeln!(text, "logs kept in {}", real.dir.display());
    }
}
