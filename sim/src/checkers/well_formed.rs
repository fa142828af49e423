//! `well_formed` (safety): every reply a client read has the shape docs/protocol.md owes the line
//! it sent.
//!
//! - IAMAT: `AT <that server> <sign>S.NNNNNNNNN <client> <location> <timestamp>\n`, the last
//!   three exactly as sent;
//! - WHATSAT: an AT line for the client asked about, `\n`, a JSON object in Google's layout
//!   (3-space indent, `"key" : value`, no blank line) with `html_attributions`, `results`
//!   (at most the bound) and `status`, then `\n\n`; or the `?` reply;
//! - anything else: `? ` + the line without leading and trailing white space + `\n`, or, for a
//!   line over the limit, `? ` + its first 256 bytes.
//!
//! What a line asks for is decided by the reference grammar ([`crate::oracle::spec`]), never
//! by the server's parser, so a server that accepts what docs/protocol.md refuses (`+34.-118`,
//! `1.5x`, ten fraction digits, latitude 90.5, radius 50.5) is caught here even with no
//! `expect`. An IAMAT may still get `?` where docs/protocol.md §2's bounds refuse it: its
//! timestamp further ahead of the server's clock at receipt than `timestamp_ahead_max`, its AT
//! line over the line limit, or no room in the table. Where the trace does not know the
//! server's clock at receipt (real mode), the client's clock at the send and at the reply bound
//! it, and a `?` that a bound gives at some clock between the two is fine.
//!
//! Whether the AT line's *content* is right is `time_diff`'s, `whatsat_agrees`'s and
//! `expectations`' job.

use crate::oracle::spec;

use server::events::{ConnectionEnd, Event};
use server::store::Outcome;

use super::receipt_clock::{Receipts, time_diff_text};
use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::replay::{self, Exchange, Expected};

pub struct WellFormed;

impl Checker for WellFormed {
    fn name(&self) -> CheckerName {
        CheckerName::WellFormed
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut violations = Vec::new();
        let mut judged = 0;
        let receipts = Receipts::from_run(run);
        let downtime = replay::Downtime::from_trace(run.trace);
        for exchange in replay::exchanges(run.trace) {
            let Some((_, reply)) = exchange.reply else {
                continue;
            };
            let text = exchange.reply_text().unwrap_or("");
            // A server that stopped (its disk failed) closes a connection whose line it had
            // not read yet: nothing, not a malformed reply.
            if text.is_empty()
                && downtime.down_during(exchange.server(), exchange.send.at, reply.at)
            {
                continue;
            }
            // A connection refused at `connections_max` is closed unanswered: nothing is its
            // documented answer.
            if text.is_empty() && refused_at_connections_max(run, &exchange, reply.at) {
                continue;
            }
            let problem = match replay::expected(exchange.send, run.line_bounds()) {
                Expected::IamAt {
                    client,
                    location,
                    timestamp,
                    timestamp_nanos,
                } => {
                    let at_line_bytes = |clock: i128| {
                        timestamp_nanos.map(|t| {
                            format!(
                                "AT {} {} {client} {location} {timestamp}\n",
                                exchange.server(),
                                time_diff_text(clock - t)
                            )
                            .len()
                        })
                    };
                    let refused_by_a_bound = || {
                        timestamp_nanos.is_none()
                            || receipts
                                .possible_clocks(&exchange)
                                .into_iter()
                                .any(|clock| {
                                    timestamp_nanos > Some(clock + ahead_max_nanos(run))
                                        || run.line_bytes_max.is_some_and(|max| {
                                            at_line_bytes(clock).is_some_and(|len| len > max)
                                        })
                                })
                    };
                    if text.starts_with("? ")
                        && (refused_by_a_bound()
                            || table_full(run, &exchange, &client, reply.at)
                            || store_failed(run, &exchange, reply.at))
                    {
                        invalid_problem(&exchange, text, Some(false))
                    } else {
                        iamat_problem(text, exchange.server(), &client, &location, &timestamp)
                    }
                }
                Expected::WhatsAt { client, bound } => {
                    if text.starts_with("? ") {
                        invalid_problem(&exchange, text, Some(false))
                    } else {
                        whatsat_problem(text, &client, bound)
                    }
                }
                Expected::Invalid { cut } => invalid_problem(&exchange, text, cut),
                Expected::Unjudged => continue,
            };
            judged += 1;
            if let Some(problem) = problem {
                violations.push(Violation::new(
                    reply.at,
                    format!("{}: {problem}", exchange.label()),
                ));
            }
        }
        Verdict::judge(
            CheckerName::WellFormed,
            violations,
            Some(format!("{judged} replies judged")),
        )
    }
}

/// Whether the server refused to store `client` for lack of room (`record_stored` with
/// `outcome=table_full`) while the IAMAT was in flight: then `?` is its documented answer.
fn table_full(
    run: &RunRecord,
    exchange: &Exchange,
    client: &str,
    until: std::time::Duration,
) -> bool {
    run.trace.server_events().any(|(e, event)| {
        e.host == exchange.server()
            && matches!(event, Event::RecordStored { record, outcome: Outcome::TableFull, .. } if record.client == client)
            && (exchange.send.at..=until).contains(&e.at)
    })
}

/// How far after the client saw its reply (or the connection end) a server's own log may
/// still stamp what happened on that connection: a real server logs a refused connection's
/// close after the client already read the end of it, by its own clock.
const LOG_LAG: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a server logs a refused connection at most (`connection_refused`, the rest
/// counted into its `suppressed`), as `server::server` does.
pub(crate) const REFUSED_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the server refused the exchange's connection at `connections_max`: it read the line
/// on a connection whose close was then `refused: every client slot is taken` (the line as
/// logged, cut to its first bytes, starts the line sent), or it dropped a connection at accept
/// (`connection_refused`: no neighbour could have opened a link on it, so the line was never
/// read) while the exchange was open. Events are looked for up to [`LOG_LAG`] after `until`.
/// The server logs at most one refusal per [`REFUSED_LOG_INTERVAL`] and counts the rest into
/// the next: a refusal it left out follows a logged one by less than that, so a logged
/// `connection_refused` up to that long before the exchange explains it too.
pub(crate) fn refused_at_connections_max(
    run: &RunRecord,
    exchange: &Exchange,
    until: std::time::Duration,
) -> bool {
    let in_flight = |e: &crate::trace::TraceEvent| {
        e.host == exchange.server() && (exchange.send.at..=until + LOG_LAG).contains(&e.at)
    };
    let refused_from = exchange.send.at.saturating_sub(REFUSED_LOG_INTERVAL);
    let refusal_window = |e: &crate::trace::TraceEvent| {
        e.host == exchange.server() && (refused_from..=until + LOG_LAG).contains(&e.at)
    };
    let mut reading = std::collections::BTreeSet::new();
    run.trace
        .server_events()
        .filter(|(e, event)| {
            in_flight(e) || (matches!(event, Event::ConnectionRefused { .. }) && refusal_window(e))
        })
        .any(|(_, event)| match event {
            Event::ClientLine { conn, line } => {
                if !line.is_empty() && exchange.line().starts_with(line.as_str()) {
                    reading.insert(*conn);
                }
                false
            }
            Event::ConnectionClosed { conn, reason } => {
                reading.remove(conn) && matches!(reason, ConnectionEnd::NoClientSlot)
            }
            Event::ConnectionRefused { .. } => true,
            _ => false,
        })
}

/// Whether the server's durable store failed (`store_failed`) while the IAMAT was in flight:
/// its record could not be kept, so `?` (not acknowledged) is its documented answer.
fn store_failed(run: &RunRecord, exchange: &Exchange, until: std::time::Duration) -> bool {
    run.trace.server_events().any(|(e, event)| {
        e.host == exchange.server()
            && matches!(event, Event::StoreFailed { .. })
            && (exchange.send.at..=until).contains(&e.at)
    })
}

/// `timestamp_ahead_max` in nanoseconds.
fn ahead_max_nanos(run: &RunRecord) -> i128 {
    i128::try_from(run.limits.timestamp_ahead_max.as_nanos()).unwrap_or(i128::MAX / 2)
}

/// `+0.263873386`: a sign, digits, a point and exactly 9 digits.
fn is_time_diff(text: &str) -> bool {
    let Some(body) = text.strip_prefix('+').or_else(|| text.strip_prefix('-')) else {
        return false;
    };
    let Some((secs, frac)) = body.split_once('.') else {
        return false;
    };
    !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 9
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn iamat_problem(
    text: &str,
    server: &str,
    client: &str,
    location: &str,
    timestamp: &str,
) -> Option<String> {
    let shape = format!("AT {server} <diff> {client} {location} {timestamp}");
    let Some(line) = text.strip_suffix('\n') else {
        return Some(format!(
            "IAMAT reply {text:?} does not end with one newline"
        ));
    };
    let fields: Vec<&str> = line.split(' ').collect();
    let ok = fields.len() == 6
        && fields[0] == "AT"
        && fields[1] == server
        && is_time_diff(fields[2])
        && fields[3] == client
        && fields[4] == location
        && fields[5] == timestamp;
    (!ok).then(|| format!("IAMAT reply {text:?} is not `{shape}\\n`"))
}

fn invalid_problem(exchange: &Exchange, text: &str, cut: Option<bool>) -> Option<String> {
    let line = exchange.line();
    let full = format!("? {}\n", line.trim_matches(spec::is_white_space));
    let full_ok = text == full;
    let cut_ok = is_cut_echo(text, line);
    let ok = match cut {
        Some(false) => full_ok,
        Some(true) => cut_ok,
        None => full_ok || cut_ok,
    };
    if ok {
        return None;
    }
    let wanted = match cut {
        Some(true) => "`? ` + the line's first 256 bytes".to_string(),
        _ => format!(
            "{:?}",
            crate::trace::shorten(&full, crate::trace::RENDER_CHARS_MAX)
        ),
    };
    Some(format!(
        "reply {:?} to an invalid line is not {wanted}",
        crate::trace::shorten(text, crate::trace::RENDER_CHARS_MAX)
    ))
}

/// `? ` + a non-empty start of the (trimmed) line, at most 256 bytes (+ a replacement char
/// where the cut split a UTF-8 sequence), then `\n`.
fn is_cut_echo(text: &str, line: &str) -> bool {
    let Some(echo) = text.strip_prefix("? ").and_then(|t| t.strip_suffix('\n')) else {
        return false;
    };
    let trimmed = line.trim_matches(spec::is_white_space);
    let echo_core = echo.trim_end_matches('\u{fffd}');
    !echo.is_empty()
        && echo_core.len() <= replay::LONG_LINE_ECHO_BYTES
        && (line.starts_with(echo_core) || trimmed.starts_with(echo_core))
}

fn whatsat_problem(text: &str, client: &str, bound: usize) -> Option<String> {
    let (first, rest) = replay::split_reply(text);
    let fields: Vec<&str> = first.split(' ').collect();
    match replay::at_line(first) {
        Some(record) if fields.len() == 6 && record.client == client => {}
        _ => {
            return Some(format!(
                "WHATSAT reply starts with {first:?}, not the AT line of `{client}`"
            ));
        }
    }
    let Some(body) = rest.strip_suffix("\n\n") else {
        return Some("WHATSAT reply does not end with the JSON and two newlines".into());
    };
    if body.ends_with('\n') {
        return Some("WHATSAT reply ends with more than two newlines".into());
    }
    if let Some(problem) = layout_problem(body) {
        return Some(format!("WHATSAT JSON is not in Google's layout: {problem}"));
    }
    let json: serde_json::Value = match serde_json::from_str(body) {
        Ok(json) => json,
        Err(e) => return Some(format!("WHATSAT JSON does not parse: {e}")),
    };
    let Some(object) = json.as_object() else {
        return Some("WHATSAT JSON is not an object".into());
    };
    if !object
        .get("html_attributions")
        .is_some_and(|v| v.is_array())
    {
        return Some("WHATSAT JSON has no `html_attributions` array".into());
    }
    if !object.get("status").is_some_and(|v| v.is_string()) {
        return Some("WHATSAT JSON has no `status` string".into());
    }
    match object.get("results").and_then(|v| v.as_array()) {
        None => Some("WHATSAT JSON has no `results` array".into()),
        Some(results) if results.len() > bound => Some(format!(
            "WHATSAT JSON has {} results, above the bound {bound}",
            results.len()
        )),
        Some(_) => None,
    }
}

/// Google's layout, line by line: indent is 3 spaces per open bracket, object members are
/// `"key" : value`, no blank lines, no tabs or trailing spaces. Inline `[ "a", "b" ]` and `[]`
/// are fine. Returns the first problem.
pub fn layout_problem(body: &str) -> Option<String> {
    let mut open: Vec<char> = Vec::new();
    for (index, line) in body.split('\n').enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            return Some(format!("line {number} is blank"));
        }
        if line.contains('\t') || line.ends_with(' ') {
            return Some(format!("line {number} has a tab or trailing space"));
        }
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        let closes = content.starts_with('}') || content.starts_with(']');
        let depth = open.len().saturating_sub(usize::from(closes));
        if indent != 3 * depth || (index == 0 && content != "{") {
            return Some(format!(
                "line {number} {content:?} is indented {indent}, not {}",
                3 * depth
            ));
        }
        if closes {
            open.pop();
        } else if open.last() == Some(&'{')
            && !(content.starts_with('"') && content.contains("\" : "))
        {
            return Some(format!(
                "line {number} {content:?} is not `\"key\" : value`"
            ));
        }
        if content.ends_with('{') {
            open.push('{');
        } else if content.ends_with('[') {
            open.push('[');
        }
    }
    (!open.is_empty()).then(|| "brackets are not closed".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;

    const KIWI: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";

    fn verdict(events: Vec<crate::trace::TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        WellFormed.check(&run_record(&trace, &checks))
    }

    #[test]
    fn no_reply_from_a_server_that_stopped_is_no_malformed_reply() {
        let line = "IAMAT kiwi +34.068930-118.445127 1700000000.5";
        let failed = crate::trace::TraceEvent::server(
            ms(3),
            "Clark",
            Event::StoreFailed {
                error: "sync failed".into(),
            },
        );
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", line),
            failed,
            reply(5, 0, "kiwi", "Clark", ""),
        ]);
        assert!(v.ok, "{v}");
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", line),
            reply(5, 0, "kiwi", "Clark", ""),
        ]);
        assert!(!v.ok, "an empty reply from a running server: {v}");
    }

    #[test]
    fn nothing_is_the_answer_to_a_connection_refused_at_connections_max() {
        let line = "IAMAT kiwi +34.068930-118.445127 1700000000.5";
        let server =
            |at: u64, event: Event| crate::trace::TraceEvent::server(ms(at), "Clark", event);
        let read = |conn: u64| {
            server(
                2,
                Event::ClientLine {
                    conn,
                    line: line.to_string(),
                },
            )
        };
        let closed = |conn: u64| {
            server(
                3,
                Event::ConnectionClosed {
                    conn,
                    reason: ConnectionEnd::NoClientSlot,
                },
            )
        };
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", line),
            read(7),
            closed(7),
            reply(5, 0, "kiwi", "Clark", ""),
        ]);
        assert!(v.ok, "closed for want of a client slot: {v}");
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", line),
            read(7),
            closed(8),
            reply(5, 0, "kiwi", "Clark", ""),
        ]);
        assert!(!v.ok, "another connection was refused, not this one: {v}");
        // A real server logs the close by its own clock, after the client read the end.
        let late_close = server(
            6,
            Event::ConnectionClosed {
                conn: 7,
                reason: ConnectionEnd::NoClientSlot,
            },
        );
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", line),
            read(7),
            reply(5, 0, "kiwi", "Clark", ""),
            late_close,
        ]);
        assert!(v.ok, "closed for want of a client slot, logged late: {v}");
        let dropped = server(
            1,
            Event::ConnectionRefused {
                remote: "10.0.0.1:4000".into(),
                suppressed: 0,
            },
        );
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", line),
            dropped,
            reply(5, 0, "kiwi", "Clark", ""),
        ]);
        assert!(v.ok, "dropped at accept: {v}");
    }

    #[test]
    fn good_replies_of_every_kind_pass() {
        let v = verdict(vec![
            send(
                0,
                0,
                "kiwi",
                "Clark",
                "IAMAT kiwi +34.068930-118.445127 1700000000.5",
            ),
            reply(5, 0, "kiwi", "Clark", &format!("{KIWI}\n")),
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 2"),
            reply(20, 1, "kiwi", "Bailey", &whatsat_reply(KIWI, 2)),
            send(30, 2, "raw", "Bailey", "  IAMAT kiwi +91+0 1 "),
            reply(35, 2, "raw", "Bailey", "? IAMAT kiwi +91+0 1\n"),
            send(40, 3, "kiwi", "Bona", "WHATSAT nobody 10 2"),
            reply(45, 3, "kiwi", "Bona", "? WHATSAT nobody 10 2\n"),
        ]);
        assert!(v.ok, "{v}");
        assert_eq!(v.metric.as_deref(), Some("4 replies judged"));
    }

    #[test]
    fn an_iamat_reply_naming_another_server_is_caught() {
        let v = verdict(vec![
            send(
                0,
                0,
                "kiwi",
                "Clark",
                "IAMAT kiwi +34.068930-118.445127 1700000000.5",
            ),
            reply(
                5,
                0,
                "kiwi",
                "Clark",
                "AT Bona +0.000001000 kiwi +34.068930-118.445127 1700000000.5\n",
            ),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].contains("is not `AT Clark <diff> kiwi"), "{v}");
    }

    #[test]
    fn a_time_difference_without_nine_digits_is_caught() {
        let v = verdict(vec![
            send(
                0,
                0,
                "kiwi",
                "Clark",
                "IAMAT kiwi +34.068930-118.445127 1700000000.5",
            ),
            reply(
                5,
                0,
                "kiwi",
                "Clark",
                "AT Clark 0.001 kiwi +34.068930-118.445127 1700000000.5\n",
            ),
        ]);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn an_iamat_reply_that_rewrites_the_location_is_caught() {
        let v = verdict(vec![
            send(
                0,
                0,
                "kiwi",
                "Clark",
                "IAMAT kiwi +34.068930-118.445127 1700000000.5",
            ),
            reply(
                5,
                0,
                "kiwi",
                "Clark",
                "AT Clark +0.000001000 kiwi +34.06893-118.445127 1700000000.5\n",
            ),
        ]);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn whatsat_results_above_the_bound_are_caught() {
        let v = verdict(vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 2"),
            reply(20, 1, "kiwi", "Bailey", &whatsat_reply(KIWI, 3)),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].contains("3 results, above the bound 2"), "{v}");
    }

    #[test]
    fn whatsat_json_with_a_blank_line_is_caught() {
        let text = format!(
            "{KIWI}\n{{\n   \"html_attributions\" : [],\n\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}}\n\n"
        );
        let v = verdict(vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 2"),
            reply(20, 1, "kiwi", "Bailey", &text),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].contains("blank"), "{v}");
    }

    #[test]
    fn whatsat_json_in_two_space_layout_is_caught() {
        let text = format!(
            "{KIWI}\n{{\n  \"html_attributions\" : [],\n  \"results\" : [],\n  \"status\" : \"OK\"\n}}\n\n"
        );
        let v = verdict(vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 2"),
            reply(20, 1, "kiwi", "Bailey", &text),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].contains("indented 2, not 3"), "{v}");
    }

    #[test]
    fn whatsat_json_with_compact_colons_is_caught() {
        let text = format!(
            "{KIWI}\n{{\n   \"html_attributions\": [],\n   \"results\" : [],\n   \"status\" : \"OK\"\n}}\n\n"
        );
        let v = verdict(vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 2"),
            reply(20, 1, "kiwi", "Bailey", &text),
        ]);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn whatsat_reply_with_one_final_newline_is_caught() {
        let text = whatsat_reply(KIWI, 1);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let v = verdict(vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 2"),
            reply(20, 1, "kiwi", "Bailey", text),
        ]);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn an_invalid_line_echoed_untrimmed_is_caught() {
        let v = verdict(vec![
            send(30, 2, "raw", "Bailey", "  IAMAT kiwi +91+0 1 "),
            reply(35, 2, "raw", "Bailey", "?   IAMAT kiwi +91+0 1 \n"),
        ]);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn a_huge_line_may_be_echoed_cut_to_256_bytes() {
        let line = "x".repeat(200_000);
        let cut = format!("? {}\n", &line[..256]);
        let v = verdict(vec![
            send(0, 0, "raw", "Bailey", &line),
            reply(5, 0, "raw", "Bailey", &cut),
        ]);
        assert!(v.ok, "{v}");
        let too_long = format!("? {}\n", &line[..300]);
        let v = verdict(vec![
            send(0, 0, "raw", "Bailey", &line),
            reply(5, 0, "raw", "Bailey", &too_long),
        ]);
        assert!(!v.ok, "an echo of 300 bytes is more than the first 256");
    }

    #[test]
    fn bad_utf8_is_answered_with_a_lossy_copy() {
        let trace = trace(vec![
            crate::trace::TraceEvent::client_send(
                ms(0),
                0,
                "raw",
                "Bailey",
                b"IAMAT \xff +1+1 1\n",
            ),
            reply(5, 0, "raw", "Bailey", "? IAMAT \u{fffd} +1+1 1\n"),
        ]);
        let checks = Checks::default();
        let v = WellFormed.check(&run_record(&trace, &checks));
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_question_mark_for_an_iamat_is_fine_only_when_the_table_was_full() {
        let line = "IAMAT kiwi +34.068930-118.445127 1700000000.5";
        let refused = format!("? {line}\n");
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", line),
            reply(5, 0, "kiwi", "Clark", &refused),
        ]);
        assert!(!v.ok, "an IAMAT is answered with an AT line: {v}");
        let full = stored(2, "Clark", KIWI, "table_full");
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", line),
            full,
            reply(5, 0, "kiwi", "Clark", &refused),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn peer_lines_from_a_client_are_not_judged() {
        let v = verdict(vec![
            send(0, 0, "raw", "Bailey", KIWI),
            reply(5, 0, "raw", "Bailey", "whatever\n"),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn an_at_line_for_what_spec_refuses_is_caught_without_any_expect() {
        for line in [
            "IAMAT kiwi +34.-118 1700000000",
            "IAMAT kiwi +34-118 1700000000.5x",
            "IAMAT kiwi +34-118 1700000000.0123456789",
            "IAMAT kiwi +90.5-118 1700000000",
        ] {
            let fields: Vec<&str> = line.split(' ').collect();
            let accepted = format!("AT Clark +0.000001000 kiwi {} {}\n", fields[2], fields[3]);
            let v = verdict(vec![
                send(0, 0, "raw", "Clark", line),
                reply(5, 0, "raw", "Clark", &accepted),
            ]);
            assert!(!v.ok, "{line}");
            assert!(v.details[0].contains("to an invalid line is not"), "{v}");
        }
        let v = verdict(vec![
            send(0, 0, "raw", "Clark", "WHATSAT kiwi 50.5 5"),
            reply(5, 0, "raw", "Clark", &whatsat_reply(KIWI, 1)),
        ]);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn a_question_mark_for_a_timestamp_too_far_ahead_of_the_receipt_clock_is_fine() {
        let ahead = "IAMAT kiwi +1+1 1700090000";
        let receipt = |line: &str| {
            crate::trace::TraceEvent::server(
                ms(2),
                "Clark",
                Event::ClientLine {
                    conn: 1,
                    line: line.to_string(),
                },
            )
            .with_wall_clock(std::time::Duration::from_secs(1_700_000_000))
        };
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", ahead),
            receipt(ahead),
            reply(5, 0, "kiwi", "Clark", &format!("? {ahead}\n")),
        ]);
        assert!(v.ok, "a day is 86400 s: {v}");
        let near = "IAMAT kiwi +1+1 1700080000";
        let v = verdict(vec![
            send(0, 0, "kiwi", "Clark", near),
            receipt(near),
            reply(5, 0, "kiwi", "Clark", &format!("? {near}\n")),
        ]);
        assert!(!v.ok, "less than a day ahead is served: {v}");
    }
}
