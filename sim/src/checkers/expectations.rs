//! `expectations` (safety): each step's `expect` holds for the reply its client read.
//!
//! A hostile step's reply is judged as a whole: with `invalid: true` every line of it is a
//! `? ` line, and `replies` counts its lines (`0`: closed without a word).
//!
//! The scenario author states what the story demands (`origin: Clark` while partitioned,
//! `invalid: true` for a bad line, `status: OVER_QUERY_LIMIT` under a Places fault). A step
//! with an expectation and no reply fails here too: the story expected an answer, unless its
//! server went down before a reply came (a crash loses the commands in flight; `answered`
//! judges those).

use std::collections::BTreeMap;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::scenario::Expect;
use crate::trace::SimEvent;
use crate::trace::replay::{self, Exchange};

pub struct Expectations;

impl Checker for Expectations {
    fn name(&self) -> CheckerName {
        CheckerName::Expectations
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let exchanges: BTreeMap<u64, Exchange> = replay::exchanges(run.trace)
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let downtime = replay::Downtime::from_trace(run.trace);
        let mut violations = Vec::new();
        let hostile_replies: BTreeMap<u64, (std::time::Duration, &str)> = run
            .trace
            .sim_events()
            .filter_map(|(event, sim)| match sim {
                SimEvent::HostileReply { id, text, .. } => Some((*id, (event.at, text.as_str()))),
                _ => None,
            })
            .collect();
        for (id, expect) in &run.expectations {
            if let Some((at, text)) = hostile_replies.get(id) {
                for problem in hostile_problems(expect, text) {
                    violations.push(Violation::new(*at, format!("hostile step {id}: {problem}")));
                }
                continue;
            }
            let Some(exchange) = exchanges.get(id) else {
                violations.push(Violation::new(
                    run.end,
                    format!(
                        "step {id}: never sent, so `expect {}` is unmet",
                        expect.describe()
                    ),
                ));
                continue;
            };
            let Some(text) = exchange.reply_text() else {
                // A crash (or a stop after a store failure) loses the commands in flight:
                // `answered` judges that; there is no reply here to hold to the story.
                let gone_at = exchange.error.map_or(run.end, |(_, e)| e.at);
                if downtime.down_during(exchange.server(), exchange.send.at, gone_at) {
                    continue;
                }
                let why = exchange
                    .error_text()
                    .map_or_else(|| "no reply".to_string(), |e| format!("client error: {e}"));
                violations.push(Violation::new(
                    exchange.send.at,
                    format!(
                        "{}: expected a reply ({}), got {why}",
                        exchange.label(),
                        expect.describe()
                    ),
                ));
                continue;
            };
            let at = exchange.reply.map_or(exchange.send.at, |(_, e)| e.at);
            for problem in problems(expect, text) {
                violations.push(Violation::new(
                    at,
                    format!("{}: {problem}", exchange.label()),
                ));
            }
        }
        Verdict::judge(
            CheckerName::Expectations,
            violations,
            Some(format!("{} expectations", run.expectations.len())),
        )
    }
}

/// Everything in a hostile step's `expect` that its whole reply `text` does not show.
fn hostile_problems(expect: &Expect, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    if expect.invalid == Some(true)
        && let Some(line) = lines.iter().find(|line| !line.starts_with("? "))
    {
        out.push(format!(
            "expected only `?` lines, got {:?}",
            crate::trace::shorten(line, 80)
        ));
    }
    if let Some(wanted) = expect.replies
        && wanted != lines.len()
    {
        out.push(format!(
            "expected {wanted} reply lines, got {}: {:?}",
            lines.len(),
            crate::trace::shorten(text, 120)
        ));
    }
    out
}

/// Everything in `expect` that `text` does not show.
fn problems(expect: &Expect, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let invalid = text.starts_with("? ") || text == "?\n";
    let first = replay::split_reply(text).0;
    match expect.invalid {
        Some(true) if !invalid => out.push(format!(
            "expected a `?` reply, got {:?}",
            crate::trace::digest_reply(text)
        )),
        Some(false) if invalid => out.push(format!("expected a valid reply, got {first:?}")),
        _ => {}
    }
    let wants_record = expect.origin.is_some()
        || expect.location.is_some()
        || expect.timestamp.is_some()
        || expect.time_diff.is_some();
    if wants_record {
        match replay::at_line(first) {
            None => out.push(format!(
                "expected an AT line ({}), got {first:?}",
                expect.describe()
            )),
            Some(record) => {
                let checks = [
                    ("origin", &expect.origin, record.origin.as_str()),
                    ("location", &expect.location, record.location.as_str()),
                    ("timestamp", &expect.timestamp, record.timestamp.as_str()),
                    ("time_diff", &expect.time_diff, record.time_diff.as_str()),
                ];
                for (key, wanted, got) in checks {
                    if let Some(wanted) = wanted
                        && wanted != got
                    {
                        out.push(format!("expected {key} {wanted}, got {got} in {first:?}"));
                    }
                }
            }
        }
    }
    if expect.results.is_some() || expect.status.is_some() {
        let body = replay::split_reply(text).1.trim_end_matches('\n');
        match serde_json::from_str::<serde_json::Value>(body) {
            Err(_) => out.push(format!(
                "expected Places JSON ({}), got none",
                expect.describe()
            )),
            Ok(json) => {
                let results = json.get("results").and_then(|r| r.as_array()).map(Vec::len);
                if let Some(wanted) = expect.results
                    && results != Some(wanted)
                {
                    out.push(format!(
                        "expected {wanted} results, got {}",
                        results.map_or("none".to_string(), |n| n.to_string())
                    ));
                }
                let status = json.get("status").and_then(|s| s.as_str());
                if let Some(wanted) = &expect.status
                    && status != Some(wanted.as_str())
                {
                    out.push(format!(
                        "expected status {wanted}, got {}",
                        status.unwrap_or("none")
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;

    const CLARK: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";

    fn verdict(events: Vec<crate::trace::TraceEvent>, expect: Expect) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.expectations.insert(1, expect);
        Expectations.check(&run)
    }

    fn whatsat(text: &str) -> Vec<crate::trace::TraceEvent> {
        vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
            reply(20, 1, "kiwi", "Bailey", text),
        ]
    }

    #[test]
    fn no_reply_breaks_an_expectation_unless_the_server_went_down_first() {
        let expect = || Expect {
            origin: Some("Clark".into()),
            ..Expect::default()
        };
        let sent = || send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5");
        let v = verdict(vec![sent()], expect());
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("got no reply"), "{v}");
        let v = verdict(vec![sent(), crash(500, "Bailey")], expect());
        assert!(v.ok, "crashed with the command in flight: {v}");
    }

    #[test]
    fn met_expectations_pass() {
        let expect = Expect {
            origin: Some("Clark".into()),
            results: Some(2),
            status: Some("OK".into()),
            ..Expect::default()
        };
        let v = verdict(whatsat(&whatsat_reply(CLARK, 2)), expect);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_reply_from_the_wrong_origin_is_caught() {
        let expect = Expect {
            origin: Some("Bona".into()),
            ..Expect::default()
        };
        let v = verdict(whatsat(&whatsat_reply(CLARK, 2)), expect);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("expected origin Bona, got Clark"),
            "{v}"
        );
    }

    #[test]
    fn a_record_with_another_time_difference_is_caught() {
        let time_diff = CLARK.split(' ').nth(2).expect("an AT line").to_string();
        let expect = Expect {
            time_diff: Some(time_diff),
            ..Expect::default()
        };
        let v = verdict(whatsat(&whatsat_reply(CLARK, 1)), expect);
        assert!(v.ok, "{v}");
        let expect = Expect {
            time_diff: Some("+10.509999999".into()),
            ..Expect::default()
        };
        let v = verdict(whatsat(&whatsat_reply(CLARK, 1)), expect);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("expected time_diff +10.509999999"),
            "{v}"
        );
    }

    #[test]
    fn a_valid_reply_where_a_question_mark_was_expected_is_caught() {
        let expect = Expect {
            invalid: Some(true),
            ..Expect::default()
        };
        let v = verdict(whatsat(&whatsat_reply(CLARK, 0)), expect);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn a_wrong_places_status_is_caught() {
        let expect = Expect {
            status: Some("OVER_QUERY_LIMIT".into()),
            ..Expect::default()
        };
        let v = verdict(whatsat(&whatsat_reply(CLARK, 1)), expect);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("expected status OVER_QUERY_LIMIT, got OK"),
            "{v}"
        );
    }

    #[test]
    fn a_step_without_a_reply_fails_its_expectation() {
        let expect = Expect {
            invalid: Some(false),
            ..Expect::default()
        };
        let v = verdict(
            vec![
                send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
                error(15, 1, "kiwi", "Bailey", "connection reset"),
            ],
            expect,
        );
        assert!(!v.ok);
        assert!(
            v.details[0].contains("client error: connection reset"),
            "{v}"
        );
    }

    fn hostile_reply(text: &str) -> Vec<crate::trace::TraceEvent> {
        let reply = crate::trace::SimEvent::HostileReply {
            id: 1,
            server: "Clark".into(),
            text: text.into(),
        };
        vec![crate::trace::TraceEvent::harness(ms(30), reply)]
    }

    #[test]
    fn a_hostile_link_taken_where_only_question_marks_were_expected_is_caught() {
        let expect = Expect {
            invalid: Some(true),
            replies: Some(2),
            ..Expect::default()
        };
        let refused = "? PEER Bailey 1\n? AT Bailey +0.000000000 f +1+1 1700000000\n";
        let v = verdict(hostile_reply(refused), expect.clone());
        assert!(v.ok, "{v}");
        let v = verdict(hostile_reply("HELLO 00ff 5 0\nLINKED\n"), expect);
        assert!(!v.ok);
        assert!(
            v.details[0]
                .contains("hostile step 1: expected only `?` lines, got \"HELLO 00ff 5 0\""),
            "{v}"
        );
    }

    #[test]
    fn a_hostile_reply_with_another_line_count_is_caught() {
        let expect = Expect {
            replies: Some(0),
            ..Expect::default()
        };
        assert!(verdict(hostile_reply(""), expect.clone()).ok);
        let v = verdict(hostile_reply("? WHATSAT kiwi 10 1\n"), expect);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("expected 0 reply lines, got 1"),
            "{v}"
        );
    }
}
