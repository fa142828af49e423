//! `time_diff` (safety): every IAMAT reply's time difference is exactly, to the nanosecond,
//! the receiving server's clock when the line arrived minus the client's timestamp (SPEC
//! section 2). The clock comes from the simulation and the scenario's skews
//! ([`super::receipt_clock`]), the timestamp from the line as the reference grammar reads it:
//! nothing the server computed is reused, so a time difference taken through floating point
//! (`+0.009999990` for `+0.010000000`), a saturated one or a zero written `-0.000000000` is
//! caught.
//!
//! A line in flight twice at once has several receipts; the reply must match one of them. In
//! the simulation an answered IAMAT without any `client_line` at its server is a violation
//! too: without it the receipt, and the trace, are incomplete.
//! Replies whose server clock the trace does not know (a real server's log) are counted, not
//! judged.

use super::receipt_clock::{Receipts, time_diff_text};
use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::replay::{self, Expected};

pub struct TimeDiff;

impl Checker for TimeDiff {
    fn name(&self) -> CheckerName {
        CheckerName::TimeDiff
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let receipts = Receipts::from_run(run);
        // A simulated run knows every server's clock; a real server's log does not (real
        // mode's client events carry the clients' clock, which says nothing exact).
        let clocks_known = run
            .trace
            .events
            .iter()
            .any(|e| e.wall_clock.is_some() && e.server_event().is_some());
        let mut violations = Vec::new();
        let (mut judged, mut unknown) = (0usize, 0usize);
        for exchange in replay::exchanges(run.trace) {
            let Expected::IamAt {
                timestamp_nanos: Some(timestamp),
                ..
            } = replay::expected(exchange.send, run.line_bounds())
            else {
                continue;
            };
            let (Some(text), Some((_, reply))) = (exchange.reply_text(), exchange.reply) else {
                continue;
            };
            let Some(diff_text) = text.strip_prefix("AT ").and_then(|t| t.split(' ').nth(1)) else {
                continue;
            };
            let receipts_of_line = receipts.clocks(&exchange);
            if receipts_of_line.is_empty() && clocks_known {
                // The log is the trace: a line the server answered was a line it logged.
                violations.push(Violation::new(
                    reply.at,
                    format!(
                        "{}: answered, but the server logged no client_line for it, so its clock at receipt is unknown",
                        exchange.label()
                    ),
                ));
                continue;
            }
            let clocks: Vec<i128> = receipts_of_line.into_iter().flatten().collect();
            let Some(first) = clocks.first() else {
                unknown += 1;
                continue;
            };
            judged += 1;
            // The text, not its value: SPEC writes zero as `+0.000000000`, never `-0...`.
            if !clocks
                .iter()
                .any(|clock| time_diff_text(clock - timestamp) == diff_text)
            {
                violations.push(Violation::new(
                    reply.at,
                    format!(
                        "{}: time difference {diff_text} is not the server's clock at receipt minus the timestamp, {}",
                        exchange.label(),
                        time_diff_text(first - timestamp)
                    ),
                ));
            }
        }
        let metric = if unknown == 0 {
            format!("{judged} time differences judged to the nanosecond")
        } else {
            format!(
                "{judged} time differences judged to the nanosecond, {unknown} with the server's clock unknown"
            )
        };
        Verdict::judge(CheckerName::TimeDiff, violations, Some(metric))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use server::events::Event;

    use super::super::testing::*;
    use super::*;
    use crate::scenario::{Action, Checks, SignedDuration, Skew};
    use crate::trace::TraceEvent;

    const EPOCH: Duration = Duration::from_secs(1_700_000_000);
    const LINE: &str = "IAMAT kiwi +34.068930-118.445127 1700000000.019";

    /// Clark logs `line` at `at` ms, its host's wall clock then `EPOCH + wall_ms`.
    fn receipt(at: u64, wall: Duration, line: &str) -> TraceEvent {
        TraceEvent::server(
            ms(at),
            "Clark",
            Event::ClientLine {
                conn: 1,
                line: line.to_string(),
            },
        )
        .with_wall_clock(EPOCH + wall)
    }

    fn answer(diff: &str) -> TraceEvent {
        reply(
            40,
            0,
            "kiwi",
            "Clark",
            &format!("AT Clark {diff} kiwi +34.068930-118.445127 1700000000.019\n"),
        )
    }

    fn verdict(events: Vec<TraceEvent>, skews: &[(u64, i128)]) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.skew_nanos = skews.iter().copied().collect();
        TimeDiff.check(&run)
    }

    #[test]
    fn the_exact_difference_passes() {
        let v = verdict(
            vec![
                send(0, 0, "kiwi", "Clark", LINE),
                receipt(29, Duration::from_millis(29), LINE),
                answer("+0.010000000"),
            ],
            &[],
        );
        assert!(v.ok, "{v}");
        assert_eq!(
            v.metric.as_deref(),
            Some("1 time differences judged to the nanosecond")
        );
    }

    #[test]
    fn a_difference_through_floating_point_is_caught() {
        let v = verdict(
            vec![
                send(0, 0, "kiwi", "Clark", LINE),
                receipt(29, Duration::from_millis(29), LINE),
                answer("+0.009999990"),
            ],
            &[],
        );
        assert!(!v.ok);
        assert!(
            v.details[0].contains("+0.009999990 is not the server's clock at receipt minus the timestamp, +0.010000000"),
            "{v}"
        );
    }

    #[test]
    fn a_zero_difference_written_with_a_minus_is_caught() {
        let at_receipt = |diff: &str| {
            verdict(
                vec![
                    send(0, 0, "kiwi", "Clark", LINE),
                    receipt(19, Duration::from_millis(19), LINE),
                    answer(diff),
                ],
                &[],
            )
        };
        let plus = at_receipt("+0.000000000");
        assert!(plus.ok, "{plus}");
        let minus = at_receipt("-0.000000000");
        assert!(!minus.ok, "{minus}");
        assert!(minus.details[0].contains("-0.000000000 is not"), "{minus}");
    }

    #[test]
    fn an_answer_to_a_line_the_server_never_logged_is_caught_in_the_simulation() {
        let mut reply_event = answer("+0.010000000");
        reply_event.wall_clock = Some(Duration::from_millis(40));
        // Another server's event with its host's clock: the trace is the simulation's.
        let elsewhere = TraceEvent::server(
            ms(1),
            "Bona",
            Event::ClientLine {
                conn: 1,
                line: "other".to_string(),
            },
        )
        .with_wall_clock(EPOCH);
        let v = verdict(
            vec![send(0, 0, "kiwi", "Clark", LINE), elsewhere, reply_event],
            &[],
        );
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("logged no client_line"), "{v}");
    }

    #[test]
    fn a_saturated_difference_is_caught() {
        let v = verdict(
            vec![
                send(0, 0, "kiwi", "Clark", LINE),
                receipt(29, Duration::from_millis(29), LINE),
                answer("+170141183460469231731687303715.884105727"),
            ],
            &[],
        );
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn the_clock_is_the_host_clock_plus_the_last_skew_not_the_trace_time() {
        let skew = TraceEvent::fault(
            ms(1),
            7,
            &Action::Skew(Skew {
                server: "Clark".into(),
                by: SignedDuration {
                    negative: true,
                    magnitude: Duration::from_secs(3),
                },
            }),
        )
        .expect("a skew is a fault");
        // Recorded at 30 ms (moved forward a tick), read at 29 ms, 3 s behind.
        let v = verdict(
            vec![
                skew.clone(),
                send(2, 0, "kiwi", "Clark", LINE),
                receipt(30, Duration::from_millis(29), LINE),
                answer("-2.990000000"),
            ],
            &[(7, -3_000_000_000)],
        );
        assert!(v.ok, "{v}");
        let v = verdict(
            vec![
                skew,
                send(2, 0, "kiwi", "Clark", LINE),
                receipt(30, Duration::from_millis(29), LINE),
                answer("-2.989000000"),
            ],
            &[(7, -3_000_000_000)],
        );
        assert!(!v.ok, "the trace time is a tick late: {v}");
    }

    #[test]
    fn a_reply_without_a_known_clock_is_counted_not_judged() {
        let unknown = TraceEvent::server(
            ms(29),
            "Clark",
            Event::ClientLine {
                conn: 1,
                line: LINE.to_string(),
            },
        );
        let v = verdict(
            vec![
                send(0, 0, "kiwi", "Clark", LINE),
                unknown,
                answer("+9.000000000"),
            ],
            &[],
        );
        assert!(v.ok, "{v}");
        assert!(
            v.metric
                .unwrap_or_default()
                .contains("1 with the server's clock unknown")
        );
    }
}
