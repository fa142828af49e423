//! `monotonic` (safety): no server's record for a client ever moves backwards in SPEC section
//! 5's order, and no server drops a record that is newer than what it holds.
//!
//! Replays each server's `record_stored` events: `outcome=new` must be strictly newer than
//! what the server held; `stale` or `duplicate` must not be newer (that would be a newer
//! record thrown away); `duplicate` is the very record held, and `stale` is not. A crash or restart empties the server, so its memory starts again.
//! `table_full` is a resource bound, not an ordering decision, and is not judged.

use std::ops::ControlFlow;

use server::store::Outcome;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::replay;

pub struct Monotonic;

impl Checker for Monotonic {
    fn name(&self) -> CheckerName {
        CheckerName::Monotonic
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut violations = Vec::new();
        let mut judged = 0;
        replay::store_decisions(run.trace, |event, record, outcome, held| {
            if outcome == Outcome::TableFull {
                return ControlFlow::<()>::Continue(());
            }
            judged += 1;
            let name = outcome.as_str();
            let problem = match (outcome, held) {
                (Outcome::New, Some(held)) if !record.is_newer_than(held) => Some(format!(
                    "stored `{record}` as new over the newer or equal `{held}`"
                )),
                (Outcome::Stale | Outcome::Duplicate, None) => Some(format!(
                    "dropped `{record}` as {name} while holding nothing for {}",
                    record.client
                )),
                (Outcome::Stale | Outcome::Duplicate, Some(held)) if record.is_newer_than(held) => {
                    Some(format!(
                        "dropped `{record}` as {name} although it is newer than the held `{held}`"
                    ))
                }
                (Outcome::Duplicate, Some(held)) if record != held => Some(format!(
                    "called `{record}` a duplicate of the different `{held}`"
                )),
                (Outcome::Stale, Some(held)) if record == held => Some(format!(
                    "called `{record}` stale, though it is the very record held (a duplicate)"
                )),
                _ => None,
            };
            if let Some(problem) = problem {
                violations.push(Violation::new(
                    event.at,
                    format!("{}: {problem}", event.host),
                ));
            }
            ControlFlow::Continue(())
        });
        Verdict::judge(
            CheckerName::Monotonic,
            violations,
            Some(format!("{judged} store decisions judged")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;

    const OLD: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";
    const NEW: &str = "AT Bona +0.000002000 kiwi +34.1-118.4 1700000001";

    fn verdict(events: Vec<crate::trace::TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        Monotonic.check(&run_record(&trace, &checks))
    }

    #[test]
    fn newer_records_replacing_older_ones_pass() {
        let v = verdict(vec![
            stored(1, "Clark", OLD, "new"),
            stored(2, "Clark", NEW, "new"),
            stored(3, "Clark", OLD, "stale"),
            stored(4, "Clark", NEW, "duplicate"),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_record_moving_backwards_is_caught() {
        let v = verdict(vec![
            stored(1, "Clark", NEW, "new"),
            stored(2, "Clark", OLD, "new"),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].starts_with("at 0.002s: Clark: stored"), "{v}");
    }

    #[test]
    fn storing_the_same_record_twice_as_new_is_caught() {
        let v = verdict(vec![
            stored(1, "Clark", OLD, "new"),
            stored(2, "Clark", OLD, "new"),
        ]);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn dropping_a_newer_record_as_stale_is_caught() {
        let v = verdict(vec![
            stored(1, "Clark", OLD, "new"),
            stored(2, "Clark", NEW, "stale"),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].contains("although it is newer"), "{v}");
    }

    #[test]
    fn a_restart_empties_the_servers_memory() {
        let v = verdict(vec![
            stored(1, "Clark", NEW, "new"),
            crash(2, "Clark"),
            restart(3, "Clark"),
            stored(4, "Clark", OLD, "new"),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn servers_are_judged_apart() {
        let v = verdict(vec![
            stored(1, "Clark", NEW, "new"),
            stored(2, "Bona", OLD, "new"),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_duplicate_must_be_the_held_record_and_a_stale_one_must_not() {
        let v = verdict(vec![
            stored(1, "Clark", NEW, "new"),
            stored(2, "Clark", OLD, "duplicate"),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].contains("a duplicate of the different"), "{v}");
        let v = verdict(vec![
            stored(1, "Clark", NEW, "new"),
            stored(2, "Clark", NEW, "stale"),
        ]);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("stale, though it is the very record held"),
            "{v}"
        );
    }
}
