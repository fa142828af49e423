//! What a run says: the verdicts judged on the trace, its outcome, the human report the CLI
//! prints and the stable text that is snapshotted. [`run_and_judge`] is the one way to run a
//! scenario in the simulation and judge it; real mode hands its run to the same
//! [`Judged::judge`].

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::checkers::{self, FailureClass, RunRecord, Verdict};
use crate::harness::{self, Run};
use crate::outcome::Outcome;
use crate::scenario::{HerdSource, Scenario};
use crate::trace::fmt_at;

/// A run with its verdicts.
pub struct Judged {
    pub run: Run,
    pub verdicts: Vec<Verdict>,
    pub metrics: crate::metrics::Metrics,
}

impl Judged {
    /// Judges a finished run, from the simulation or from real processes alike.
    pub fn judge(scenario: &Scenario, run: Run) -> Judged {
        let record = RunRecord::new(scenario, &run.trace, run.end, run.final_tables.clone());
        let verdicts = checkers::run_all(&record);
        let metrics = crate::metrics::metrics(&record);
        Judged {
            run,
            verdicts,
            metrics,
        }
    }

    /// How the run ended: a crash of the system under test, else the first failing safety
    /// checker, else the first failing liveness checker, else a pass.
    pub fn outcome(&self) -> Outcome {
        if self.run.sut_failure.is_some() {
            return Outcome::Crash;
        }
        let first_failed = |class| {
            self.verdicts
                .iter()
                .find(|v| !v.ok && v.class == class)
                .map(|v| Outcome::failed(v.checker))
        };
        first_failed(FailureClass::Safety)
            .or_else(|| first_failed(FailureClass::Liveness))
            .unwrap_or(Outcome::Pass)
    }

    /// The exit code of [`Judged::outcome`].
    pub fn exit_code(&self) -> u8 {
        self.outcome().code()
    }
}

/// Runs `scenario` in the simulation and judges the run.
pub fn run_and_judge(scenario: &Scenario) -> Judged {
    Judged::judge(scenario, harness::run(scenario))
}

fn herd_line(scenario: &Scenario) -> String {
    let source = match &scenario.herd_source {
        HerdSource::Default => "default".to_string(),
        HerdSource::File(path) => path.display().to_string(),
        HerdSource::Inline => "inline".to_string(),
    };
    let classic = scenario.herd.links.iter().filter(|l| l.classic).count();
    format!(
        "{source} ({} servers, {} links{})",
        scenario.herd.servers.len(),
        scenario.herd.links.len(),
        if classic > 0 {
            format!(", {classic} classic")
        } else {
            String::new()
        }
    )
}

/// The stable document that is snapshotted: header, trace, tables, metrics, verdicts. Nothing
/// in it depends on the machine or the wall clock.
pub fn snapshot_text(scenario: &Scenario, judged: &Judged) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario: {}", scenario.name);
    let _ = writeln!(out, "seed: {}", scenario.seed);
    let _ = writeln!(out, "herd: {}", herd_line(scenario));
    let _ = writeln!(out, "end: {}", fmt_at(judged.run.end));
    if let Some(failure) = &judged.run.sut_failure {
        let _ = writeln!(
            out,
            "sut_failure: at {}: {}",
            fmt_at(failure.at),
            failure.message
        );
    }
    out.push_str("trace:\n");
    out.push_str(&judged.run.trace.to_snapshot_yaml());
    out.push_str(&tables_text(judged));
    let _ = writeln!(out, "metrics:\n{}", indent(&judged.metrics.to_string()));
    out.push_str("verdicts:\n");
    for verdict in &judged.verdicts {
        let _ = writeln!(out, "{}", indent(&verdict.to_string()));
    }
    let _ = writeln!(out, "outcome: {}", judged.outcome());
    out
}

fn tables_text(judged: &Judged) -> String {
    let mut out = String::from("final tables:\n");
    for (server, table) in &judged.run.final_tables {
        match table {
            None => {
                let _ = writeln!(out, "  {server}: crashed");
            }
            Some(lines) if lines.is_empty() => {
                let _ = writeln!(out, "  {server}: empty");
            }
            Some(lines) => {
                let _ = writeln!(out, "  {server}:");
                for line in lines {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
    out
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the command line asked of a run: what its reproduce line must say again (the seed is
/// the scenario's, `--seed` or not), and how much of the timeline to print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `--real` or `--compare`; `None` for the simulation.
    pub mode: Option<&'static str>,
    /// `--herd FILE`, as given.
    pub herd: Option<PathBuf>,
    /// `--server-bin PATH`, as given.
    pub server_bin: Option<PathBuf>,
    /// `--verbose`: the timeline shows link start-up whole instead of one line per server.
    /// (It changes what is printed, not the run, so the reproduce line leaves it out.)
    pub verbose: bool,
}

impl Invocation {
    /// The simulation, as the scenario file says.
    pub const SIMULATION: Invocation = Invocation {
        mode: None,
        herd: None,
        server_bin: None,
        verbose: false,
    };

    /// The same run in another mode.
    pub fn in_mode(&self, mode: Option<&'static str>) -> Invocation {
        Invocation {
            mode,
            ..self.clone()
        }
    }

    /// The command that runs `path` again as this run ran, every path written from the
    /// repository root ([`crate::repo_path`]), so it works pasted there whatever directory
    /// this run started in.
    pub fn reproduce(&self, path: &Path, seed: u64) -> String {
        let mut line = String::from("reproduce (from the repository root): cargo run -p sim --");
        if let Some(mode) = self.mode {
            let _ = write!(line, " {mode}");
        }
        let _ = write!(line, " {} --seed {seed}", crate::repo_path::from_root(path));
        if let Some(herd) = &self.herd {
            let _ = write!(line, " --herd {}", crate::repo_path::from_root(herd));
        }
        if let Some(binary) = &self.server_bin {
            let _ = write!(
                line,
                " --server-bin {}",
                crate::repo_path::from_root(binary)
            );
        }
        line
    }
}

/// What the CLI prints for one scenario; `invocation` is what its reproduce line repeats.
pub fn human_report(
    path: &Path,
    scenario: &Scenario,
    judged: &Judged,
    show_timeline: bool,
    invocation: &Invocation,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== {} ({})", scenario.name, path.display());
    let _ = writeln!(
        out,
        "seed {}  duration {}  tick {}  herd {}",
        scenario.seed,
        crate::scenario::fmt_duration(scenario.duration),
        crate::scenario::fmt_duration(scenario.tick),
        herd_line(scenario)
    );
    if show_timeline {
        out.push_str("-- timeline\n");
        if invocation.verbose {
            out.push_str(&judged.run.trace.timeline());
        } else {
            let neighbours = scenario
                .server_names()
                .into_iter()
                .map(|s| {
                    let count = scenario.herd.neighbours(&s).len();
                    (s, count)
                })
                .collect();
            let folds = crate::trace::startup::fold(&judged.run.trace, &neighbours);
            out.push_str(&judged.run.trace.timeline_folded(&folds));
        }
    }
    out.push_str("-- ");
    out.push_str(&tables_text(judged));
    let sim_secs = judged.run.end.as_secs_f64();
    let wall_secs = judged.run.wall.as_secs_f64().max(1e-9);
    let _ = writeln!(out, "-- metrics\n{}", indent(&judged.metrics.to_string()));
    let _ = writeln!(
        out,
        "  speed: {:.1} simulated s in {:.3} wall s = {:.0}x real time",
        sim_secs,
        wall_secs,
        sim_secs / wall_secs
    );
    out.push_str("-- verdicts\n");
    if let Some(failure) = &judged.run.sut_failure {
        let _ = writeln!(
            out,
            "  FAIL system under test at {}: {}",
            fmt_at(failure.at),
            failure.message
        );
    }
    for verdict in &judged.verdicts {
        let _ = writeln!(out, "{}", indent(&verdict.to_string()));
    }
    let _ = writeln!(out, "result: {}", judged.outcome());
    let _ = writeln!(out, "{}", invocation.reproduce(path, scenario.seed));
    out
}
