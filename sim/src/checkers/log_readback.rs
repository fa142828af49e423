//! `log_readback` (safety): the log is the trace, so every server event must read back from its
//! log line as it was written: at the time it happened, at its level, under its own name.
//!
//! Every simulated event reaches the trace through the binary's own log line (see
//! `trace::read::through_log_line`), and a real run reads the servers' files; this checker
//! judges what those lines said, with oracles that owe nothing to the server's code:
//!
//! - `ts` is RFC 3339 UTC with exactly six fraction digits (`2026-11-26T05:39:38.123456Z`);
//! - in the simulation, where the host's clock is known, `ts` is that clock cut to the
//!   microsecond, as the `time` crate writes it, and the server library's reader
//!   (`server::log_time::parse`, which real mode and the load benchmark use) reads it back to
//!   that same instant; scenarios and swarm seeds start on many dates (`start`), leap days and
//!   century ends among them, so calendar arithmetic is judged, not only one afternoon;
//! - `level` is `WARN` for exactly the events docs/running.md's "Logs" section calls warnings, else
//!   `INFO`;
//! - the `event` key of the line is the name the event gives itself (`Event::name`), which
//!   the server's tracing message, diagrams and reports use;
//! - a Places failure's `kind` is one of the log's kinds, and its `detail` is not empty;
//! - a reason (why a connection or a link ended, why a line was refused) reads back as the
//!   reason it names: a transport error or parser message is never empty and never the text
//!   of one of the fixed reasons (which would mean that reason was written or read wrong,
//!   and an operator filtering on it would miss it). The fixed texts are the harness's own
//!   copy of the log's vocabulary.
//!
//! An event whose line did not read back at all never reaches the trace: the recorder reports
//! the run as a failure of the system under test instead.

use std::time::Duration;

use server::events::{ConnectionEnd, Event, LineRefusal, LinkEnd};
use time::OffsetDateTime;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;

pub struct LogReadback;

/// The events logged at `WARN`, as docs/running.md's "Logs" section lists them: what an operator
/// should look at (refused connections, lines and links, links that could not be trusted,
/// Places failures, records a stop could not send, a store that is cut or failed).
pub const WARNING_EVENTS: [&str; 11] = [
    "connection_refused",
    "line_refused",
    "link_refused",
    "peer_speaks_classic",
    "peer_auth_refused",
    "peer_answer_refused",
    "links_unauthenticated",
    "places_error",
    "link_unsent",
    "store_cut",
    "store_failed",
];

impl Checker for LogReadback {
    fn name(&self) -> CheckerName {
        CheckerName::LogReadback
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut violations = Vec::new();
        let (mut judged, mut clocks_judged) = (0usize, 0usize);
        for event in &run.trace.events {
            let (Some(server_event), Some(logged)) = (event.server_event(), &event.logged) else {
                continue;
            };
            judged += 1;
            let mut problems = Vec::new();
            if !is_rfc3339_micros(&logged.ts) {
                problems.push(format!(
                    "ts {:?} is not RFC 3339 UTC with six fraction digits",
                    logged.ts
                ));
            } else if let Some(clock) = event.wall_clock {
                clocks_judged += 1;
                let expected = to_the_microsecond(clock);
                let text = rfc3339_micros(expected);
                if logged.ts != text {
                    problems.push(format!(
                        "ts {:?}, but the host's clock read {text}",
                        logged.ts
                    ));
                }
                let read = server::log_time::parse(&logged.ts);
                if read != Some(expected) {
                    problems.push(format!(
                        "ts {:?} reads back as {read:?}, not {expected:?} since the epoch",
                        logged.ts
                    ));
                }
            } else if server::log_time::parse(&logged.ts).is_none() {
                problems.push(format!("ts {:?} does not read back", logged.ts));
            }
            // The event's own JSON key, serialized once: the level follows from it, so a wrong
            // `Event::name` cannot hide a wrong level.
            let key = event_key(server_event);
            let expected_level = expected_level(key.as_deref());
            if logged.level != expected_level {
                problems.push(format!(
                    "logged at {}, expected {expected_level}",
                    logged.level
                ));
            }
            if let Some(key) = &key
                && key != server_event.name()
            {
                problems.push(format!(
                    "its line says event {key:?} but the event calls itself {:?}",
                    server_event.name()
                ));
            }
            if let Some(problem) = reason_problem(server_event) {
                problems.push(problem);
            }
            for problem in problems {
                violations.push(Violation::new(
                    event.at,
                    format!("{} {}: {problem}", event.host, server_event.name()),
                ));
            }
        }
        let metric =
            format!("{judged} log lines read back, {clocks_judged} against the host's clock");
        Verdict::judge(CheckerName::LogReadback, violations, Some(metric))
    }
}

/// The fixed reasons' texts, as the log writes them: a connection's end, a link's end, a
/// refused line's reason. Anything else in those fields is free text (a transport's error, a
/// handshake's detail, the parser's words).
const CONNECTION_ENDS: [&str; 10] = [
    "closed by client",
    "idle timeout",
    "shutdown",
    "refused: every client slot is taken",
    "refused: link without a valid certificate",
    "handshake timed out",
    "handshake evicted by newer ones",
    "refused: every link slot is taken",
    "closed during the handshake",
    "write timed out",
];
const LINK_ENDS: [&str; 11] = [
    "shutdown",
    "server stopping",
    "heartbeat timeout",
    "closed by peer",
    "write timed out",
    "connect timed out",
    "handshake timed out",
    "closed by peer during the handshake",
    "neighbour answered ? PEER: it speaks the classic dialect (classic: true?)",
    "neighbour refused our certificate: its CA differs",
    "neighbour holds no herd certificate for its name: an impostor, or the CA differs",
];
/// The kinds of a Places failure (`places_error`'s `kind`), which an operator filters on;
/// its `detail` is free text.
const PLACES_ERROR_KINDS: [&str; 6] = [
    "timeout",
    "connect",
    "http_status",
    "too_large",
    "malformed",
    "status",
];
const LINE_REFUSALS: [&str; 6] = [
    "line over line_bytes_max",
    "timestamp too far ahead of our clock",
    "client id longer than client_id_bytes_max",
    "location, timestamp or time difference over its bound",
    "not a link line",
    "origin is not a server of the herd",
];

/// What is wrong with the event's reason as read back, if anything: free text that is empty
/// or that is a fixed reason's text.
fn reason_problem(event: &Event) -> Option<String> {
    let (free_text, fixed): (&str, &[&str]) = match event {
        Event::ConnectionClosed {
            reason: ConnectionEnd::Io(text),
            ..
        } => (text, &CONNECTION_ENDS),
        Event::PeerDown {
            reason: LinkEnd::Io(text),
            ..
        } => (text, &LINK_ENDS),
        Event::PeerDown {
            reason: LinkEnd::Handshake(text),
            ..
        } => (text, &[]),
        Event::LineRefused {
            reason: LineRefusal::Invalid(text),
            ..
        } => (text, &LINE_REFUSALS),
        // A fixed reason must be written with its own text.
        Event::ConnectionClosed { reason, .. }
            if !matches!(reason, ConnectionEnd::LinkEnded(_)) =>
        {
            return fixed_text_problem(&reason.to_string(), &CONNECTION_ENDS);
        }
        Event::PeerDown { reason, .. } => {
            return fixed_text_problem(&reason.to_string(), &LINK_ENDS);
        }
        // A classic line refused for who sent it names the address it came from.
        Event::LineRefused {
            reason:
                LineRefusal::OwnOrigin(remote)
                | LineRefusal::AuthenticatedOrigin(remote)
                | LineRefusal::NotClassicAddress(remote),
            ..
        } => (remote, &[]),
        Event::LineRefused { reason, .. } => {
            return fixed_text_problem(&reason.to_string(), &LINE_REFUSALS);
        }
        Event::PlacesError { kind, detail } => {
            if !PLACES_ERROR_KINDS.contains(&kind.as_str()) {
                return Some(format!(
                    "its kind is written {kind:?}, not one of the log's Places failure kinds"
                ));
            }
            (detail, &[])
        }
        _ => return None,
    };
    if free_text.trim().is_empty() {
        Some("its reason is empty".to_string())
    } else if fixed.contains(&free_text) {
        Some(format!(
            "its reason {free_text:?} read back as free text, not as the reason it names"
        ))
    } else {
        None
    }
}

/// A fixed reason written with a text that is not one of the fixed texts.
fn fixed_text_problem(text: &str, fixed: &[&str]) -> Option<String> {
    (!fixed.contains(&text))
        .then(|| format!("its reason is written {text:?}, not one of the log's reasons"))
}

/// `INFO`, or `WARN` for the events docs/running.md calls warnings, by the event's JSON key.
fn expected_level(key: Option<&str>) -> &'static str {
    match key {
        Some(key) if WARNING_EVENTS.contains(&key) => "WARN",
        _ => "INFO",
    }
}

/// The `event` key of the event's JSON, as the log line carries it.
fn event_key(event: &Event) -> Option<String> {
    let value = serde_json::to_value(event).ok()?;
    value.get("event")?.as_str().map(str::to_string)
}

/// `clock` cut to whole microseconds, as the log writes it.
fn to_the_microsecond(clock: Duration) -> Duration {
    Duration::new(clock.as_secs(), clock.subsec_micros() * 1_000)
}

/// `since_epoch` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, by the `time` crate's calendar.
fn rfc3339_micros(since_epoch: Duration) -> String {
    match OffsetDateTime::from_unix_timestamp_nanos(since_epoch.as_nanos() as i128) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.microsecond()
        ),
        Err(_) => format!("(beyond the calendar: {since_epoch:?} since the epoch)"),
    }
}

/// Exactly `DDDD-DD-DDTDD:DD:DD.DDDDDDZ`.
fn is_rfc3339_micros(ts: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    ts.len() == SHAPE.len()
        && ts.bytes().zip(SHAPE).all(|(b, &s)| match s {
            b'd' => b.is_ascii_digit(),
            other => b == other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::{run_record, trace};
    use crate::scenario::Checks;
    use crate::trace::read::through_log_line;
    use crate::trace::{Logged, TraceEvent};

    const LISTENING: &str = r#"{"event":"listening","addr":"Clark:10003"}"#;
    const REFUSED: &str =
        r#"{"event":"line_refused","conn":3,"reason":"line too long","line":"IAMAT"}"#;

    /// 2000-02-29T23:59:59.999999500Z: the last microsecond of a 400-year era, rounding down.
    const ERA_END: Duration = Duration::new(951_868_799, 999_999_500);

    fn logged(clock: Duration, level: &str, json: &str) -> TraceEvent {
        let mut event = through_log_line(clock, level, "Clark", json).expect("reads back");
        event.wall_clock = Some(clock);
        event
    }

    fn verdict(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        LogReadback.check(&run_record(&trace, &checks))
    }

    #[test]
    fn lines_the_binary_writes_read_back() {
        let v = verdict(vec![
            logged(ERA_END, "INFO", LISTENING),
            logged(Duration::from_secs(4_107_542_399), "INFO", LISTENING),
        ]);
        assert!(v.ok, "{v}");
        assert_eq!(
            v.metric.as_deref(),
            Some("2 log lines read back, 2 against the host's clock")
        );
        assert_eq!(
            rfc3339_micros(to_the_microsecond(ERA_END)),
            "2000-02-29T23:59:59.999999Z"
        );
    }

    #[test]
    fn a_wrong_date_or_time_is_caught() {
        let mut event = logged(ERA_END, "INFO", LISTENING);
        event.logged.as_mut().unwrap().ts = "2000-03-01T23:59:59.999999Z".into();
        let v = verdict(vec![event]);
        assert!(!v.ok);
        assert!(
            v.details
                .iter()
                .any(|d| d.contains("but the host's clock read 2000-02-29T23:59:59.999999Z")),
            "{v}"
        );
    }

    #[test]
    fn a_malformed_ts_is_caught_even_without_a_clock() {
        let mut event = logged(ERA_END, "INFO", LISTENING);
        event.wall_clock = None;
        event.logged = Some(Logged {
            ts: "2000-02-29T23:59:59.999Z".into(),
            level: "INFO".into(),
        });
        let v = verdict(vec![event]);
        assert!(!v.ok);
        assert!(v.details[0].contains("six fraction digits"), "{v}");
    }

    #[test]
    fn a_warning_logged_as_info_and_the_reverse_are_caught() {
        let v = verdict(vec![
            logged(ERA_END, "INFO", REFUSED),
            logged(ERA_END, "WARN", LISTENING),
        ]);
        assert!(!v.ok);
        assert!(
            v.details
                .iter()
                .any(|d| d.contains("line_refused: logged at INFO, expected WARN")),
            "{v}"
        );
        assert!(
            v.details
                .iter()
                .any(|d| d.contains("listening: logged at WARN, expected INFO")),
            "{v}"
        );
    }

    #[test]
    fn a_fixed_reason_read_as_free_text_or_an_empty_reason_is_caught() {
        let closed = |reason: ConnectionEnd| Event::ConnectionClosed { conn: 1, reason };
        assert_eq!(reason_problem(&closed(ConnectionEnd::ClosedByClient)), None);
        assert_eq!(
            reason_problem(&closed(ConnectionEnd::Io("connection reset".into()))),
            None
        );
        let misread = reason_problem(&closed(ConnectionEnd::Io("closed by client".into())));
        assert!(misread.unwrap().contains("read back as free text"));
        assert!(reason_problem(&closed(ConnectionEnd::Io(String::new()))).is_some());
        let down = |reason: LinkEnd| Event::PeerDown {
            peer: "Bona".into(),
            direction: server::events::Direction::Outbound,
            reason,
        };
        assert!(reason_problem(&down(LinkEnd::Io("heartbeat timeout".into()))).is_some());
        assert!(reason_problem(&down(LinkEnd::Handshake(" ".into()))).is_some());
        assert_eq!(reason_problem(&down(LinkEnd::HeartbeatTimeout)), None);
        let refused = Event::LineRefused {
            peer: None,
            conn: Some(2),
            reason: LineRefusal::Invalid("not a link line".into()),
            line: "x".into(),
        };
        assert!(reason_problem(&refused).is_some());
        let failed = |kind: &str, detail: &str| Event::PlacesError {
            kind: kind.into(),
            detail: detail.into(),
        };
        assert_eq!(reason_problem(&failed("too_large", "over 10 bytes")), None);
        assert!(reason_problem(&failed("xyzzy", "over 10 bytes")).is_some());
        assert!(reason_problem(&failed("timeout", "")).is_some());
    }

    #[test]
    fn the_shape_is_exact() {
        assert!(is_rfc3339_micros("0001-01-01T00:00:00.000000Z"));
        for bad in [
            "2000-02-29T23:59:59.999999",
            "2000-02-29 23:59:59.999999Z",
            "12000-02-29T23:59:59.999999Z",
            "2000-2-29T23:59:59.9999990Z",
        ] {
            assert!(!is_rfc3339_micros(bad), "{bad}");
        }
    }
}
