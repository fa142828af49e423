//! A server's log file: one JSON line per event, written with its time, level and server, and
//! read back; and the names of its rotated files, in the order they are read.

use serde::{Deserialize, Serialize};

use super::Event;
use super::json::push_string;

/// One line of a server's log file, read back: when (the writer's wall clock, RFC 3339),
/// at what level, which server, and the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub ts: String,
    pub level: String,
    pub server: String,
    #[serde(flatten)]
    pub event: Event,
}

/// The log-file line for an event whose JSON is `json` (as [`Event::emit`] wrote it), without
/// the final newline: `{"ts":..,"level":..,"server":..,"event":..,fields..}`. The event's
/// JSON is spliced in as it is, not re-encoded.
pub fn log_line(ts: &str, level: &str, server: &str, json: &str) -> Option<String> {
    let mut out = String::with_capacity(64 + server.len() + json.len());
    write_log_line(&mut out, ts, level, server, json)?;
    Some(out)
}

/// Appends [`log_line`]'s line to `out`, without a map or a copy of the event's JSON beyond
/// the one into `out`: the binary writes every event this way, into a buffer it reuses.
/// `None` (and `out` unchanged) when `json` is not an object.
pub fn write_log_line(
    out: &mut String,
    ts: &str,
    level: &str,
    server: &str,
    json: &str,
) -> Option<()> {
    let fields = json.strip_prefix('{')?;
    let start = out.len();
    let mut head = || -> serde_json::Result<()> {
        out.push_str(r#"{"ts":"#);
        push_string(out, ts)?;
        out.push_str(r#","level":"#);
        push_string(out, level)?;
        out.push_str(r#","server":"#);
        push_string(out, server)
    };
    if head().is_err() {
        out.truncate(start);
        return None;
    }
    out.push(',');
    out.push_str(fields);
    Some(())
}

/// The name of server `server`'s log file of generation `generation`: `NAME.log` for the
/// one being written (0), `NAME.log.1` for the one before it, and so on. The binary rotates
/// by size and keeps `log_files_max` generations.
pub fn log_file_name(server: &str, generation: usize) -> String {
    match generation {
        0 => format!("{server}.log"),
        n => format!("{server}.log.{n}"),
    }
}

/// Every file name a log rotated with `files_max` generations may have, oldest first: the
/// order to read them in for the trace.
pub fn log_file_names(server: &str, files_max: usize) -> Vec<String> {
    (0..files_max.max(1))
        .rev()
        .map(|generation| log_file_name(server, generation))
        .collect()
}

/// Why a log line could not be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct ReadError {
    /// 1-based line number in the file.
    pub line: usize,
    pub source: serde_json::Error,
}

/// Reads one log line. Lines without an `event` key are the server's free-form diagnostics
/// (e.g. a failed `accept`) and are not part of the trace: `Ok(None)`.
pub fn read_log_line(line: &str) -> Result<Option<LogLine>, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    if value.get("event").is_none() {
        return Ok(None);
    }
    serde_json::from_value(value).map(Some)
}

/// Reads a whole log file; the first line that fails to read is an error with its number.
/// Blank lines (a file cut while writing ends in one) are skipped.
pub fn read_log(text: &str) -> Result<Vec<LogLine>, ReadError> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match read_log_line(line) {
            Ok(Some(read)) => out.push(read),
            Ok(None) => {}
            Err(source) => {
                return Err(ReadError {
                    line: index + 1,
                    source,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_with_text_to_escape_in_its_head_reads_back() {
        let event = Event::Shutdown {
            reason: "Ctrl-C".into(),
        };
        let mut json = String::new();
        event.write_json(&mut json).unwrap();
        let line = log_line("2026-11-26T05:39:38\"Z", "IN\tFO", "Bo\\na", &json).unwrap();
        let read = read_log_line(&line).unwrap().unwrap();
        assert_eq!(read.ts, "2026-11-26T05:39:38\"Z");
        assert_eq!(read.level, "IN\tFO");
        assert_eq!(read.server, "Bo\\na");
        assert_eq!(read.event, event);
    }
}
