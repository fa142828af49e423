//! The checkers' names, typed and in report order: below both the scenario schema (whose
//! `checks.skip` names them) and the checkers, so neither has to reach up for the other. A
//! checker's failure class is part of its name's meaning, so it is said here too.

use std::fmt;

/// Which exit code a failure maps to: wrong answers (safety) or missing progress (liveness).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureClass {
    Safety,
    Liveness,
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureClass::Safety => "safety",
            FailureClass::Liveness => "liveness",
        })
    }
}

/// One checker, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckerName {
    WellFormed,
    TimeDiff,
    Expectations,
    Monotonic,
    WhatsatAgrees,
    FloodBound,
    LinkStability,
    LinkLog,
    LogReadback,
    PlacesCalls,
    PlacesAnswers,
    Metrics,
    Integrity,
    Leak,
    Durable,
    Convergence,
    Answered,
}

impl CheckerName {
    /// Every checker, in the order they run and report.
    pub const ALL: [CheckerName; 17] = [
        CheckerName::WellFormed,
        CheckerName::TimeDiff,
        CheckerName::Expectations,
        CheckerName::Monotonic,
        CheckerName::WhatsatAgrees,
        CheckerName::FloodBound,
        CheckerName::LinkStability,
        CheckerName::LinkLog,
        CheckerName::LogReadback,
        CheckerName::PlacesCalls,
        CheckerName::PlacesAnswers,
        CheckerName::Metrics,
        CheckerName::Integrity,
        CheckerName::Leak,
        CheckerName::Durable,
        CheckerName::Convergence,
        CheckerName::Answered,
    ];

    /// The name as scenarios, reports and `checks.skip` write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckerName::WellFormed => "well_formed",
            CheckerName::TimeDiff => "time_diff",
            CheckerName::Expectations => "expectations",
            CheckerName::Monotonic => "monotonic",
            CheckerName::WhatsatAgrees => "whatsat_agrees",
            CheckerName::FloodBound => "flood_bound",
            CheckerName::LinkStability => "link_stability",
            CheckerName::LinkLog => "link_log",
            CheckerName::LogReadback => "log_readback",
            CheckerName::PlacesCalls => "places_calls",
            CheckerName::PlacesAnswers => "places_answers",
            CheckerName::Metrics => "metrics",
            CheckerName::Integrity => "integrity",
            CheckerName::Leak => "leak",
            CheckerName::Durable => "durable",
            CheckerName::Convergence => "convergence",
            CheckerName::Answered => "answered",
        }
    }

    /// What a failure of this checker means: a wrong answer or missing progress. Said once
    /// here, so a checker cannot report under one class and be ranked under another.
    pub const fn class(self) -> FailureClass {
        match self {
            CheckerName::Convergence | CheckerName::Answered => FailureClass::Liveness,
            _ => FailureClass::Safety,
        }
    }

    /// The checker written `name`, if there is one.
    pub fn parse(name: &str) -> Option<CheckerName> {
        CheckerName::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for CheckerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_and_no_two_are_alike() {
        for checker in CheckerName::ALL {
            assert_eq!(CheckerName::parse(checker.as_str()), Some(checker));
        }
        assert_eq!(CheckerName::parse("nothing"), None);
        let mut names: Vec<&str> = CheckerName::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CheckerName::ALL.len());
    }
}
