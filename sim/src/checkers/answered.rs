//! `answered` (liveness): every command to a running server is answered within
//! `answered_within`.
//!
//! Not judged: commands whose server was down at any moment between the send and the bound
//! (a crash legitimately loses them), commands whose bound runs past the end of the run, and
//! peer-protocol lines a server does not answer. A `client_error` while the server stayed up is
//! a violation: a running server must not drop a client, unless it refused a connection at
//! `connections_max` during the exchange (closed at once, the connection may reach its client
//! as a reset: see `well_formed`). (Clients are never partitioned from
//! servers by the scenario schema, so reachability is only about crashes.)

use std::time::Duration;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::scenario::fmt_duration;
use crate::trace::fmt_at;
use crate::trace::replay::{self, Downtime, Expected};

pub struct Answered;

impl Checker for Answered {
    fn name(&self) -> CheckerName {
        CheckerName::Answered
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let downtime = Downtime::from_trace(run.trace);
        let bound = run.checks.answered_within;
        let mut violations = Vec::new();
        let (mut answered, mut slowest) = (0usize, Duration::ZERO);
        for exchange in replay::exchanges(run.trace) {
            if replay::expected(exchange.send, run.line_bounds()) == Expected::Unjudged {
                continue;
            }
            let sent = exchange.send.at;
            let deadline = sent + bound;
            let excused = |until: Duration| downtime.down_during(exchange.server(), sent, until);
            match (exchange.reply, exchange.error) {
                (Some((_, reply)), _) => {
                    answered += 1;
                    let took = reply.at.saturating_sub(sent);
                    slowest = slowest.max(took);
                    if took > bound && !excused(reply.at) {
                        violations.push(Violation::new(
                            reply.at,
                            format!(
                                "{}: answered after {}, above answered_within {}",
                                exchange.label(),
                                fmt_at(took),
                                fmt_duration(bound)
                            ),
                        ));
                    }
                }
                (None, Some((_, error))) => {
                    // A connection closed at once at `connections_max` may reach its client as
                    // a reset: the documented answer, as `well_formed` says of no reply.
                    let refused =
                        super::well_formed::refused_at_connections_max(run, &exchange, error.at);
                    if !excused(error.at.max(sent)) && !refused {
                        violations.push(Violation::new(
                            error.at,
                            format!(
                                "{}: client error `{}` while the server was up",
                                exchange.label(),
                                exchange.error_text().unwrap_or("")
                            ),
                        ));
                    }
                }
                (None, None) => {
                    if deadline <= run.end && !excused(deadline) {
                        violations.push(Violation::new(
                            deadline,
                            format!(
                                "{}: no reply within {} to {:?}",
                                exchange.label(),
                                fmt_duration(bound),
                                crate::trace::shorten(exchange.line(), 60)
                            ),
                        ));
                    }
                }
            }
        }
        let metric = format!("{answered} answered, slowest {}", fmt_at(slowest));
        Verdict::judge(CheckerName::Answered, violations, Some(metric))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;
    use crate::trace::TraceEvent;

    const LINE: &str = "IAMAT kiwi +34.068930-118.445127 1700000000.5";
    const AT: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5\n";

    fn verdict_with(events: Vec<TraceEvent>, end_ms: u64) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.end = ms(end_ms);
        Answered.check(&run)
    }

    #[test]
    fn a_prompt_reply_passes() {
        let v = verdict_with(
            vec![
                send(0, 0, "kiwi", "Clark", LINE),
                reply(12, 0, "kiwi", "Clark", AT),
            ],
            10_000,
        );
        assert!(v.ok, "{v}");
        assert_eq!(v.metric.as_deref(), Some("1 answered, slowest 0.012s"));
    }

    #[test]
    fn a_late_reply_is_caught() {
        let v = verdict_with(
            vec![
                send(0, 0, "kiwi", "Clark", LINE),
                reply(2_500, 0, "kiwi", "Clark", AT),
            ],
            10_000,
        );
        assert!(!v.ok);
        assert!(
            v.details[0].contains("answered after 2.500s, above answered_within 2s"),
            "{v}"
        );
    }

    #[test]
    fn a_missing_reply_is_caught() {
        let v = verdict_with(vec![send(0, 0, "kiwi", "Clark", LINE)], 10_000);
        assert!(!v.ok);
        assert!(
            v.details[0].starts_with("at 2.000s: step 0 (kiwi -> Clark): no reply within 2s"),
            "{v}"
        );
    }

    #[test]
    fn a_missing_reply_from_a_crashed_server_is_excused() {
        let v = verdict_with(
            vec![
                send(0, 0, "kiwi", "Clark", LINE),
                crash(5, "Clark"),
                error(6, 0, "kiwi", "Clark", "connection reset"),
            ],
            10_000,
        );
        assert!(v.ok, "{v}");
        let v = verdict_with(
            vec![crash(0, "Clark"), send(5, 0, "kiwi", "Clark", LINE)],
            10_000,
        );
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_server_whose_disk_failed_is_down_until_it_is_restarted() {
        let failed = TraceEvent::server(
            ms(5),
            "Clark",
            server::events::Event::StoreFailed {
                error: "no space".into(),
            },
        );
        let events = vec![
            failed,
            send(6, 0, "kiwi", "Clark", LINE),
            error(7, 0, "kiwi", "Clark", "connection reset"),
            crash(500, "Clark"),
            restart(900, "Clark"),
            send(950, 1, "kiwi", "Clark", LINE),
        ];
        let v = verdict_with(events, 10_000);
        assert!(!v.ok, "{v}");
        assert_eq!(v.details.len(), 1, "{v}");
        assert!(
            v.details[0].contains("step 1"),
            "up again once restarted: {v}"
        );
    }

    #[test]
    fn a_restarted_server_is_up_once_it_listens_again() {
        let listening = |at: u64| {
            TraceEvent::server(
                ms(at),
                "Clark",
                server::events::Event::Listening {
                    addr: "Clark:10003".into(),
                },
            )
        };
        let refused = |at: u64| error(at, 0, "kiwi", "Clark", "connection refused");
        let events = vec![
            crash(0, "Clark"),
            restart(100, "Clark"),
            send(100, 0, "kiwi", "Clark", LINE),
            refused(101),
            listening(102),
        ];
        let v = verdict_with(events, 10_000);
        assert!(v.ok, "refused before the listener was back: {v}");
        let events = vec![
            crash(0, "Clark"),
            restart(100, "Clark"),
            listening(100),
            send(101, 0, "kiwi", "Clark", LINE),
            refused(102),
        ];
        let v = verdict_with(events, 10_000);
        assert!(!v.ok, "refused while listening: {v}");
    }

    #[test]
    fn a_reset_of_a_connection_refused_at_connections_max_is_excused() {
        let refused = TraceEvent::server(
            ms(3),
            "Clark",
            server::events::Event::ConnectionRefused {
                remote: "10.0.0.1:4000".into(),
                suppressed: 0,
            },
        );
        let events = vec![
            send(0, 0, "kiwi", "Clark", LINE),
            refused,
            error(6, 0, "kiwi", "Clark", "connection reset"),
        ];
        let v = verdict_with(events, 10_000);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_client_error_from_a_running_server_is_caught() {
        let v = verdict_with(
            vec![
                send(0, 0, "kiwi", "Clark", LINE),
                error(6, 0, "kiwi", "Clark", "connection reset"),
            ],
            10_000,
        );
        assert!(!v.ok);
        assert!(
            v.details[0].contains("client error `connection reset` while the server was up"),
            "{v}"
        );
    }

    #[test]
    fn a_command_sent_just_before_the_end_is_not_judged() {
        let v = verdict_with(vec![send(9_000, 0, "kiwi", "Clark", LINE)], 10_000);
        assert!(v.ok, "{v}");
    }
}
