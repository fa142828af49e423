//! How a run ended, as one type: its failure class, the checker that failed, the exit code
//! and which of two outcomes is worse. The report, the swarm, shrinking and the CLI all read
//! it here, so a code, a label and a ranking can never disagree.

use std::fmt;

use crate::checker_name::{CheckerName, FailureClass};

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
    /// `swarm --require-coverage`: a required "sometimes" property was never hit, so the
    /// seeds did not explore what the swarm promises to explore.
    pub const COVERAGE_MISSING: u8 = 6;
    /// The command line is wrong.
    pub const USAGE: u8 = 64;

    /// The worse of two exit codes: a crash of the system under test, then safety, then
    /// liveness, then a bad scenario, then the CLI's own codes, then success. (Codes are not
    /// ordered by number; this is [`Outcome`](super::Outcome)'s order, extended to the codes
    /// only the CLI returns.)
    pub fn worse(a: u8, b: u8) -> u8 {
        let rank = |code: u8| match code {
            SUT_FAILURE => 5,
            SAFETY => 4,
            LIVENESS => 3,
            BAD_SCENARIO => 2,
            OK => 0,
            _ => 1,
        };
        if rank(b) > rank(a) { b } else { a }
    }
}

/// How one run ended, ordered from best to worst: a later variant is a worse outcome, so
/// `max` picks what a batch of runs reports. A failure names the first checker of the worst
/// class that failed: that is what shrinking must preserve and what the swarm groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Pass,
    /// The scenario could not be read or validated; nothing ran.
    BadScenario,
    Liveness(CheckerName),
    Safety(CheckerName),
    /// The server's loader did wrong with a herd the harness made: refused one within the
    /// documented rules or read a limit of it back wrong (`herd_accepted`), or accepted one a
    /// step past a documented bound (`herd_refused`), as `sim check-herds` names the verdicts.
    /// Nothing ran.
    HerdFile(&'static str),
    /// The system under test panicked or a server stopped with an error.
    Crash,
}

impl Outcome {
    /// The failure of `checker`, in the checker's own class.
    pub fn failed(checker: CheckerName) -> Outcome {
        match checker.class() {
            FailureClass::Safety => Outcome::Safety(checker),
            FailureClass::Liveness => Outcome::Liveness(checker),
        }
    }

    /// The exit code that tells this outcome's class apart.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Pass => exit::OK,
            Outcome::BadScenario => exit::BAD_SCENARIO,
            Outcome::Liveness(_) => exit::LIVENESS,
            Outcome::Safety(_) | Outcome::HerdFile(_) => exit::SAFETY,
            Outcome::Crash => exit::SUT_FAILURE,
        }
    }

    /// The checker that failed, if a checker did.
    pub fn checker(self) -> Option<CheckerName> {
        match self {
            Outcome::Liveness(checker) | Outcome::Safety(checker) => Some(checker),
            _ => None,
        }
    }

    /// `class/checker`, e.g. `liveness/convergence` or `crash/system-under-test`; `None`
    /// when the run passed.
    pub fn label(self) -> Option<String> {
        match self {
            Outcome::Pass => None,
            Outcome::BadScenario => Some("bad-scenario".into()),
            Outcome::Crash => Some("crash/system-under-test".into()),
            Outcome::HerdFile(verdict) => Some(format!("{}/{verdict}", FailureClass::Safety)),
            Outcome::Liveness(checker) | Outcome::Safety(checker) => {
                Some(format!("{}/{checker}", checker.class()))
            }
        }
    }
}

/// The report's one-word result: `PASS`, `FAIL (safety)`, ...
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::BadScenario => "FAIL (bad scenario)",
            Outcome::Liveness(_) => "FAIL (liveness)",
            Outcome::Safety(_) | Outcome::HerdFile(_) => "FAIL (safety)",
            Outcome::Crash => "FAIL (system under test crashed)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_rank_as_their_exit_codes_do() {
        let outcomes = [
            Outcome::Pass,
            Outcome::BadScenario,
            Outcome::Liveness(CheckerName::Convergence),
            Outcome::Safety(CheckerName::Monotonic),
            Outcome::HerdFile("herd_accepted"),
            Outcome::Crash,
        ];
        for a in outcomes {
            for b in outcomes {
                assert_eq!(
                    exit::worse(a.code(), b.code()),
                    a.max(b).code(),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn a_failure_is_filed_under_its_checkers_class() {
        let convergence = Outcome::failed(CheckerName::Convergence);
        assert_eq!(convergence.code(), exit::LIVENESS);
        assert_eq!(convergence.label().as_deref(), Some("liveness/convergence"));
        let monotonic = Outcome::failed(CheckerName::Monotonic);
        assert_eq!(monotonic.label().as_deref(), Some("safety/monotonic"));
        assert_eq!(Outcome::Pass.label(), None);
    }
}
