//! What a run says: the verdicts judged on the trace, the human report the CLI prints, the
//! stable text that is snapshotted, and the exit code.

use std::fmt::Write;
use std::path::Path;

use crate::checkers::{self, FailureClass, RunRecord, Verdict};
use crate::harness::Run;
use crate::scenario::{HerdSource, Scenario};
use crate::trace::fmt_at;

/// Exit codes: distinct per failure class so scripts and CI can tell them apart.
pub mod exit {
    pub const OK: u8 = 0;
    /// A safety checker failed: a wrong answer, a record moved backwards, a flood too big.
    pub const SAFETY: u8 = 1;
    /// A liveness checker failed: no convergence, or a command never answered, in time.
    pub const LIVENESS: u8 = 2;
    /// The system under test panicked or a server stopped with an error.
    pub const SUT_FAILURE: u8 = 3;
    /// The scenario file is unreadable or invalid.
    pub const BAD_SCENARIO: u8 = 4;
    /// `--compare`: a checker's verdict differs between the modes and the scenario does not
    /// declare why.
    pub const MODES_DIFFER: u8 = 5;
    /// The command line is wrong.
    pub const USAGE: u8 = 64;
}

/// The worse of two exit codes: a crash of the system under test, then safety, then
/// liveness, then a bad scenario, then success. (Codes are not ordered by number.)
pub fn worse(a: u8, b: u8) -> u8 {
    let rank = |code: u8| match code {
        exit::SUT_FAILURE => 5,
        exit::SAFETY => 4,
        exit::LIVENESS => 3,
        exit::BAD_SCENARIO => 2,
        exit::OK => 0,
        _ => 1,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// A run with its verdicts.
pub struct Judged {
    pub run: Run,
    pub verdicts: Vec<Verdict>,
    pub metrics: crate::metrics::Metrics,
}

impl Judged {
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

    /// The worst outcome: a crash of the system under test, then safety, then liveness.
    pub fn exit_code(&self) -> u8 {
        if self.run.sut_failure.is_some() {
            return exit::SUT_FAILURE;
        }
        let failed = |class| self.verdicts.iter().any(|v| !v.ok && v.class == class);
        if failed(FailureClass::Safety) {
            exit::SAFETY
        } else if failed(FailureClass::Liveness) {
            exit::LIVENESS
        } else {
            exit::OK
        }
    }

    /// One word for the summary line.
    pub fn outcome(&self) -> &'static str {
        match self.exit_code() {
            exit::OK => "PASS",
            exit::SAFETY => "FAIL (safety)",
            exit::LIVENESS => "FAIL (liveness)",
            _ => "FAIL (system under test crashed)",
        }
    }
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

/// What the CLI prints for one scenario.
pub fn human_report(
    path: &Path,
    scenario: &Scenario,
    judged: &Judged,
    show_timeline: bool,
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
        out.push_str(&judged.run.trace.timeline());
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
    let _ = writeln!(
        out,
        "reproduce: cargo run -p sim -- {} --seed {}",
        path.display(),
        scenario.seed
    );
    out
}

/// The exit code of a failure class.
pub fn class_code(class: FailureClass) -> u8 {
    match class {
        FailureClass::Safety => exit::SAFETY,
        FailureClass::Liveness => exit::LIVENESS,
    }
}
