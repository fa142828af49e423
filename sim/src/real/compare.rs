//! The two modes side by side: each checker's verdict in the simulation and in real mode,
//! whether a difference is one the scenario declares (`checks.real_divergence`, with its
//! reason) or a disagreement to explain, and the exit status that gates on both: a failure in
//! either mode is a failure, a difference nobody declared is a divergence.

use std::fmt::Write;

use crate::checker_name::CheckerName;
use crate::outcome::{Outcome, exit};
use crate::report::Judged;
use crate::scenario::Scenario;

/// The row name of the system-under-test outcome (a crash, a server that exited on its own).
pub const SYSTEM_ROW: &str = "system";

/// One checker in both modes. `None`: the checker did not run in that mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub checker: String,
    pub simulated: Option<bool>,
    pub real: Option<bool>,
    /// The scenario's reason, when it declares this checker's divergence.
    pub declared: Option<String>,
    /// The exit status a failure of this row stands for (its checker's class, or a crash of
    /// the system under test).
    pub failure_code: u8,
    /// The violation lines each mode gave (empty where the row held), simulation first.
    pub details: [Vec<String>; 2],
}

impl Row {
    pub fn differs(&self) -> bool {
        self.simulated != self.real
    }

    /// A difference the scenario does not declare.
    pub fn unexpected(&self) -> bool {
        self.differs() && self.declared.is_none()
    }

    /// Whether the row failed in either mode, leaving out a failure the scenario declares as
    /// the one mode's own (declared, and the other mode held).
    pub fn failed(&self) -> bool {
        let failed = self.simulated == Some(false) || self.real == Some(false);
        failed && !(self.differs() && self.declared.is_some())
    }
}

/// Both modes' verdicts for one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn new(scenario: &Scenario, simulated: &Judged, real: &Judged) -> Comparison {
        fn verdict(judged: &Judged, name: CheckerName) -> Option<&crate::checkers::Verdict> {
            judged.verdicts.iter().find(|v| v.checker == name)
        }
        let system = |judged: &Judged| {
            judged
                .run
                .sut_failure
                .iter()
                .map(|f| format!("at {}: {}", crate::trace::fmt_at(f.at), f.message))
                .collect::<Vec<_>>()
        };
        let mut rows = vec![Row {
            checker: SYSTEM_ROW.to_string(),
            simulated: Some(simulated.run.sut_failure.is_none()),
            real: Some(real.run.sut_failure.is_none()),
            declared: scenario.checks.real_divergence.get(SYSTEM_ROW).cloned(),
            failure_code: exit::SUT_FAILURE,
            details: [system(simulated), system(real)],
        }];
        for name in CheckerName::ALL {
            if !scenario.checks.runs(name) {
                continue;
            }
            let (sim, real) = (verdict(simulated, name), verdict(real, name));
            let details = |v: Option<&crate::checkers::Verdict>| match v {
                Some(v) if !v.ok => v.details.clone(),
                _ => Vec::new(),
            };
            rows.push(Row {
                checker: name.to_string(),
                simulated: sim.map(|v| v.ok),
                real: real.map(|v| v.ok),
                declared: scenario.checks.real_divergence.get(name.as_str()).cloned(),
                failure_code: Outcome::failed(name).code(),
                details: [details(sim), details(real)],
            });
        }
        Comparison { rows }
    }

    /// Differences the scenario does not declare.
    pub fn unexpected(&self) -> usize {
        self.rows.iter().filter(|r| r.unexpected()).count()
    }

    /// The exit status that gates on both modes: the worst class of a row that failed in
    /// either mode ([`Row::failed`]), else [`exit::MODES_DIFFER`] for a difference nobody
    /// declared, else [`exit::OK`].
    pub fn code(&self) -> u8 {
        let failed = self
            .rows
            .iter()
            .filter(|r| r.failed())
            .fold(exit::OK, |worst, r| exit::worse(worst, r.failure_code));
        if failed != exit::OK {
            failed
        } else if self.unexpected() > 0 {
            exit::MODES_DIFFER
        } else {
            exit::OK
        }
    }

    /// The one-line result under the table.
    pub fn result_line(&self) -> String {
        let failed: Vec<&str> = self
            .rows
            .iter()
            .filter(|r| r.failed())
            .map(|r| r.checker.as_str())
            .collect();
        let unexpected = self.unexpected();
        match (failed.is_empty(), unexpected) {
            (true, 0) => "result: PASS in both modes (any difference is declared)".into(),
            (true, n) => {
                format!("result: DIFFER: {n} verdicts differ and the scenario declares no reason")
            }
            (false, 0) => format!("result: FAIL: {} failed", failed.join(", ")),
            (false, n) => format!(
                "result: FAIL: {} failed; {n} verdicts differ undeclared",
                failed.join(", ")
            ),
        }
    }

    /// The side-by-side table, then each failing or differing row's violation lines from
    /// both modes.
    pub fn table(&self) -> String {
        let mut out = format!("  {:<16} {:<6} {:<6}\n", "checker", "sim", "real");
        for row in &self.rows {
            let note = match (&row.declared, row.differs()) {
                (Some(reason), true) => format!("  expected: {reason}"),
                (None, true) => "  DIFFERS".to_string(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {:<16} {:<6} {:<6}{note}",
                row.checker,
                word(row.simulated),
                word(row.real)
            );
        }
        for row in self.rows.iter().filter(|r| r.failed() || r.unexpected()) {
            for (mode, details) in ["sim", "real"].iter().zip(&row.details) {
                if details.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "  {} in {mode}:", row.checker);
                for line in details {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        out
    }
}

/// A verdict in one word: `ok`, `FAIL`, or `-` where the checker did not run.
pub fn word(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "ok",
        Some(false) => "FAIL",
        None => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(checker: &str, simulated: bool, real: bool, declared: Option<&str>) -> Row {
        let name = CheckerName::parse(checker).expect("a checker");
        let details = |ok: bool| {
            if ok {
                Vec::new()
            } else {
                vec![format!("at 1.000s: {checker} broke")]
            }
        };
        Row {
            checker: checker.to_string(),
            simulated: Some(simulated),
            real: Some(real),
            declared: declared.map(str::to_string),
            failure_code: Outcome::failed(name).code(),
            details: [details(simulated), details(real)],
        }
    }

    fn comparison(rows: Vec<Row>) -> Comparison {
        Comparison { rows }
    }

    #[test]
    fn a_failure_in_both_modes_gates_with_its_class_though_the_modes_agree() {
        let both = comparison(vec![
            row("well_formed", true, true, None),
            row("convergence", false, false, None),
        ]);
        assert_eq!(both.unexpected(), 0);
        assert_eq!(both.code(), exit::LIVENESS);
        let table = both.table();
        assert!(
            table.contains("convergence in sim:\n    at 1.000s: convergence broke"),
            "{table}"
        );
        assert!(
            table.contains("convergence in real:\n    at 1.000s: convergence broke"),
            "{table}"
        );
        assert!(
            both.result_line().starts_with("result: FAIL: convergence"),
            "{}",
            both.result_line()
        );
    }

    #[test]
    fn a_failure_planted_in_either_mode_alone_gates_with_its_class() {
        for (simulated, real) in [(false, true), (true, false)] {
            let one = comparison(vec![
                row("answered", true, true, None),
                row("monotonic", simulated, real, None),
            ]);
            assert_eq!(one.code(), exit::SAFETY, "sim {simulated} real {real}");
            assert_eq!(one.unexpected(), 1);
        }
        let worst = comparison(vec![
            row("answered", false, true, None),
            row("monotonic", true, false, None),
        ]);
        assert_eq!(worst.code(), exit::SAFETY, "safety outranks liveness");
    }

    #[test]
    fn a_declared_one_mode_failure_passes_and_an_undeclared_difference_without_failure_differs() {
        let declared = comparison(vec![row("answered", true, false, Some("OS noise"))]);
        assert_eq!(declared.code(), exit::OK);
        let declared_but_both = comparison(vec![row("answered", false, false, Some("OS noise"))]);
        assert_eq!(declared_but_both.code(), exit::LIVENESS);
        let mut absent = row("answered", true, true, None);
        absent.real = None;
        assert_eq!(comparison(vec![absent]).code(), exit::MODES_DIFFER);
    }

    #[test]
    fn a_declared_difference_is_expected_and_an_undeclared_one_is_not() {
        let comparison = Comparison {
            rows: vec![
                row("well_formed", true, true, None),
                row(
                    "answered",
                    true,
                    false,
                    Some("a 1 ms hold is below OS noise"),
                ),
                row("convergence", true, false, None),
            ],
        };
        assert_eq!(comparison.unexpected(), 1);
        let table = comparison.table();
        assert!(
            table.contains("expected: a 1 ms hold is below OS noise"),
            "{table}"
        );
        assert!(
            table.contains("convergence      ok     FAIL    DIFFERS"),
            "{table}"
        );
    }

    #[test]
    fn a_declared_divergence_names_a_checker() {
        let text = |checker: &str| {
            format!(
                "name: x\nseed: 1\nduration: 5s\nchecks:\n  real_divergence: {{ {checker}: \"why\" }}\n"
            )
        };
        let error = Scenario::from_yaml_str(&text("answerd"), "x.yaml")
            .expect_err("a misspelt checker is refused");
        assert!(error.to_string().contains("not a checker"), "{error}");
        let scenario =
            Scenario::from_yaml_str(&text("answered"), "x.yaml").expect("a checker is accepted");
        assert_eq!(
            scenario
                .checks
                .real_divergence
                .get("answered")
                .map(String::as_str),
            Some("why")
        );
    }
}
