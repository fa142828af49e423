//! One reader, two sources: a simulated server's event, written as the binary's log line by
//! [`through_log_line`], and a line of a real server's log file, each read to the very same
//! typed [`TraceEvent`]. Both go through `server::events`' own `Deserialize`; a line that does not
//! read is an error with its position, never a skipped event.

use std::time::Duration;

use server::events::{LogLine, ReadError};
use server::protocol::{Command, Record};

use super::{Logged, TraceEvent};

/// A real server's log file as trace events, stamped with the wall-clock time the server
/// wrote (since the Unix epoch) and the server's name as host. Free-form diagnostic lines
/// (no `event` key) are not events and are left out.
pub fn log(text: &str) -> Result<Vec<TraceEvent>, ReadError> {
    server::events::read_log(text).map(|lines| lines.into_iter().map(from_log_line).collect())
}

/// One log line as a trace event; `Ok(None)` for a diagnostic line.
pub fn log_line(line: &str) -> Result<Option<TraceEvent>, serde_json::Error> {
    server::events::read_log_line(line).map(|read| read.map(from_log_line))
}

/// A simulated server's event as its log line: written exactly as the binary writes it (`ts`
/// from the host's simulated wall clock, `level`, the server, the event's JSON spliced in), then
/// read back by the same reader as a real server's file ([`log`]). So the simulation's trace *is* the
/// log, and a writer or reader that loses or bends an event shows up in every run, not only in
/// real mode. The error says what did not survive the round trip.
pub fn through_log_line(
    wall_clock: Duration,
    level: &str,
    server: &str,
    json: &str,
) -> Result<TraceEvent, String> {
    let ts = server::log_time::format(wall_clock);
    let line = server::events::log_line(&ts, level, server, json)
        .ok_or_else(|| format!("no log line was written for {json}"))?;
    // Read as a whole file is, by the file reader real mode uses.
    match log(&line) {
        Ok(mut events) if events.len() == 1 => {
            let event = events.remove(0);
            // What was read must say what was written: written again, the same JSON.
            let again = event.server_event().map(serde_json::to_string);
            match again {
                Some(Ok(again)) if again == json => Ok(event),
                Some(Ok(again)) => Err(format!(
                    "the log line reads back as another event: wrote {json}, read {again}"
                )),
                _ => Err(format!("the log line's event does not write again: {line}")),
            }
        }
        Ok(events) => Err(format!(
            "the log line reads as {} events: {line}",
            events.len()
        )),
        Err(error) => Err(format!("{error}: {line}")),
    }
}

fn from_log_line(line: LogLine) -> TraceEvent {
    let mut event = TraceEvent::server(
        rfc3339_since_epoch(&line.ts).unwrap_or_default(),
        line.server,
        line.event,
    );
    event.logged = Some(Logged {
        ts: line.ts,
        level: line.level,
    });
    event
}

/// `2026-11-26T05:39:38.123456Z` (as the binary writes it) as time since the Unix epoch.
pub fn rfc3339_since_epoch(ts: &str) -> Option<Duration> {
    server::log_time::parse(ts)
}

/// The record of an AT line, e.g. a reply's first line; `None` if it is not one.
pub fn at_line(line: &str) -> Option<Record> {
    match Command::parse_line(line.as_bytes()) {
        Ok(Command::At(record)) => Some(record),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_read_back_to_the_epoch_offset() {
        assert_eq!(
            rfc3339_since_epoch("1970-01-02T00:00:01.500000Z"),
            Some(Duration::from_millis(86_401_500))
        );
        assert_eq!(
            rfc3339_since_epoch("2021-05-19T22:53:47.959498Z"),
            Some(Duration::from_micros(1_621_464_827_959_498))
        );
        assert_eq!(rfc3339_since_epoch("yesterday"), None);
    }

    #[test]
    fn a_log_line_that_does_not_read_is_an_error_with_its_line_number() {
        let text = concat!(
            r#"{"ts":"2026-01-01T00:00:00.000000Z","level":"INFO","server":"Clark","event":"listening","addr":"x"}"#,
            "\n",
            r#"{"ts":"2026-01-01T00:00:00.000000Z","level":"WARN","server":"Clark","message":"accept failed"}"#,
            "\n",
            r#"{"ts":"2026-01-01T00:00:00.000000Z","level":"INFO","server":"Clark","event":"reconcile","peer":"Bona"}"#,
            "\n",
        );
        let error = log(text).expect_err("reconcile without `records` does not read");
        assert_eq!(error.line, 3, "{error}");
        assert!(error.to_string().contains("records"), "{error}");
        let first = log(text.lines().take(2).collect::<Vec<_>>().join("\n").as_str())
            .expect("a listening line and a diagnostic read");
        assert_eq!(first.len(), 1, "the diagnostic line is not an event");
    }
}
