//! `leak` (safety): what must never leave the herd. No record is ever sent to anything that
//! did not prove it is the neighbour it stands in for: an impostor that took the address of a
//! server that is down (the `impostor` step) reports every line the servers that dialled it
//! sent, and an `AT` line among them is a record leaked to a stranger.

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::SimEvent;

pub struct Leak;

impl Checker for Leak {
    fn name(&self) -> CheckerName {
        CheckerName::Leak
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut violations = Vec::new();
        let mut lines_read = 0u64;
        for (event, sim_event) in run.trace.sim_events() {
            let SimEvent::ImpostorGot { server, line } = sim_event else {
                continue;
            };
            lines_read += 1;
            if line.starts_with("AT ") {
                violations.push(Violation::new(
                    event.at,
                    format!("a record was sent to the impostor at {server}'s address: {line}"),
                ));
            }
        }
        let metric = (lines_read > 0).then(|| format!("impostors read {lines_read} lines"));
        Verdict::judge(CheckerName::Leak, violations, metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;
    use crate::scenario::Checks;
    use crate::trace::TraceEvent;

    fn got(at: u64, line: &str) -> TraceEvent {
        TraceEvent::harness(
            ms(at),
            SimEvent::ImpostorGot {
                server: "Bona".into(),
                line: line.into(),
            },
        )
    }

    #[test]
    fn a_record_sent_to_an_impostor_is_a_leak() {
        let trace = trace(vec![
            got(10, "PEER Clark 7"),
            got(12, "AT Clark +0.1 kiwi +1+1 1700000000"),
        ]);
        let checks = Checks::default();
        let verdict = Leak.check(&run_record(&trace, &checks));
        assert!(!verdict.ok);
        assert_eq!(verdict.details.len(), 1);
        assert!(
            verdict.details[0].contains("AT Clark +0.1 kiwi"),
            "{verdict}"
        );
    }

    #[test]
    fn a_handshake_without_records_leaks_nothing() {
        let trace = trace(vec![got(10, "PEER Clark 7")]);
        let checks = Checks::default();
        let verdict = Leak.check(&run_record(&trace, &checks));
        assert!(verdict.ok, "{verdict}");
        assert_eq!(verdict.metric.as_deref(), Some("impostors read 1 lines"));
    }
}
