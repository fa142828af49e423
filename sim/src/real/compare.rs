//! The two modes side by side: each checker's verdict in the simulation and in real mode, and
//! whether a difference is one the scenario declares (`checks.real_divergence`, with its
//! reason) or a disagreement to explain.

use std::fmt::Write;

use crate::checker_name::CheckerName;
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
}

impl Row {
    pub fn differs(&self) -> bool {
        self.simulated != self.real
    }

    /// A difference the scenario does not declare.
    pub fn unexpected(&self) -> bool {
        self.differs() && self.declared.is_none()
    }
}

/// Both modes' verdicts for one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn new(scenario: &Scenario, simulated: &Judged, real: &Judged) -> Comparison {
        let verdict = |judged: &Judged, name: CheckerName| {
            judged
                .verdicts
                .iter()
                .find(|v| v.checker == name)
                .map(|v| v.ok)
        };
        let mut rows = vec![Row {
            checker: SYSTEM_ROW.to_string(),
            simulated: Some(simulated.run.sut_failure.is_none()),
            real: Some(real.run.sut_failure.is_none()),
            declared: scenario.checks.real_divergence.get(SYSTEM_ROW).cloned(),
        }];
        for name in CheckerName::ALL {
            if !scenario.checks.runs(name) {
                continue;
            }
            rows.push(Row {
                checker: name.to_string(),
                simulated: verdict(simulated, name),
                real: verdict(real, name),
                declared: scenario.checks.real_divergence.get(name.as_str()).cloned(),
            });
        }
        Comparison { rows }
    }

    /// Differences the scenario does not declare.
    pub fn unexpected(&self) -> usize {
        self.rows.iter().filter(|r| r.unexpected()).count()
    }

    /// The side-by-side table.
    pub fn table(&self) -> String {
        let word = |v: Option<bool>| match v {
            Some(true) => "ok",
            Some(false) => "FAIL",
            None => "-",
        };
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
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(checker: &str, simulated: bool, real: bool, declared: Option<&str>) -> Row {
        Row {
            checker: checker.to_string(),
            simulated: Some(simulated),
            real: Some(real),
            declared: declared.map(str::to_string),
        }
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
