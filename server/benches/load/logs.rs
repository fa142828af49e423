//! Reading a server's JSON log file while it grows: the counts the storm and restart figures
//! come from, and the log time at which the server first held a given number of clients.
//!
//! The log is the trace: a server holds a client from its first `record_stored` with
//! `"outcome":"new"` (a table never forgets), so counting distinct such clients tells when a
//! server holds every record without asking it 100,000 questions. Times come from each line's
//! `ts`, stamped when the event happened, so how often the benchmark polls does not change them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Read at most this much per read call, so a multi-gigabyte log never sits in memory whole.
const CHUNK: usize = 8 << 20;

#[derive(Debug, Default)]
pub struct Counts {
    /// Distinct clients stored as new.
    pub clients: HashSet<String>,
    /// Log time (µs since the epoch) of the line that made `clients` reach the target.
    pub reached_at_us: Option<i64>,
    /// Sum of the `records` field of `reconcile` events, and how many there were.
    pub reconcile_records: u64,
    pub reconciles: u64,
    pub queue_full: u64,
    pub peer_down: u64,
    pub peer_up_outbound: u64,
    /// `reply` events: compared with the replies a client received, they show whether the
    /// server's non-blocking log writer dropped lines (it does when its queue is full).
    pub replies: u64,
}

pub struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    target: usize,
    pub counts: Counts,
}

impl Tail {
    /// Reads only what is written from now on.
    pub fn from_end(path: &Path, target: usize) -> Tail {
        let offset = std::fs::metadata(path).map_or(0, |m| m.len());
        Tail {
            path: path.to_path_buf(),
            offset,
            partial: Vec::new(),
            target,
            counts: Counts::default(),
        }
    }

    /// Reads the whole file, from its first line.
    pub fn from_start(path: &Path, target: usize) -> Tail {
        Tail {
            offset: 0,
            ..Tail::from_end(path, target)
        }
    }

    pub fn reached(&self) -> bool {
        self.counts.reached_at_us.is_some()
    }

    /// Reads what was appended since the last call, up to the file's length now.
    pub fn poll(&mut self) -> std::io::Result<()> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len <= self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut left = len - self.offset;
        let mut buf = vec![0u8; CHUNK];
        while left > 0 {
            let want = (left as usize).min(CHUNK);
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            left -= n as u64;
            self.offset += n as u64;
            self.feed(&buf[..n]);
        }
        Ok(())
    }

    fn feed(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(nl);
            rest = &after[1..];
            if self.partial.is_empty() {
                self.take(line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.take(&whole);
            }
        }
        self.partial.extend_from_slice(rest);
    }

    fn take(&mut self, line: &[u8]) {
        let Ok(line) = std::str::from_utf8(line) else {
            return;
        };
        let Some(event) = field_str(line, "event") else {
            return;
        };
        let c = &mut self.counts;
        match event.as_ref() {
            "record_stored" if line.contains("\"outcome\":\"new\"") => {
                if let Some(client) = field_str(line, "client")
                    && !c.clients.contains(client.as_ref())
                {
                    c.clients.insert(client.into_owned());
                    if c.clients.len() == self.target {
                        c.reached_at_us = field_str(line, "ts")
                            .and_then(|ts| rfc3339_us(&ts))
                            .or_else(|| Some(now_us()));
                    }
                }
            }
            "reconcile" => {
                c.reconciles += 1;
                c.reconcile_records += field_u64(line, "records").unwrap_or(0);
            }
            "reply" => c.replies += 1,
            "peer_queue_full" => c.queue_full += 1,
            "peer_down" => c.peer_down += 1,
            "peer_up" if line.contains("\"direction\":\"outbound\"") => c.peer_up_outbound += 1,
            _ => {}
        }
    }
}

/// The string value of a top-level `"key":"..."`, borrowed from the line when it has no
/// escapes (the common case: logs run to gigabytes in a storm); otherwise through a JSON parser.
fn field_str<'a>(line: &'a str, key: &str) -> Option<Cow<'a, str>> {
    let pattern = format!("\"{key}\":\"");
    let start = line.find(&pattern)? + pattern.len();
    let len = line[start..].find(['"', '\\'])?;
    if line.as_bytes()[start + len] == b'"' {
        return Some(Cow::Borrowed(&line[start..start + len]));
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value.get(key)?.as_str().map(|v| Cow::Owned(v.to_string()))
}

/// The value of `"key":123` or `"key":"123"`.
fn field_u64(line: &str, key: &str) -> Option<u64> {
    let pattern = format!("\"{key}\":");
    let start = line.find(&pattern)? + pattern.len();
    let digits = line[start..].trim_start_matches('"');
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `2026-11-26T05:39:38.123456Z` (the servers' `ts`) as µs since the epoch.
pub fn rfc3339_us(ts: &str) -> Option<i64> {
    server::log_time::parse(ts).map(|t| t.as_micros() as i64)
}

/// `YYYY-MM-DD` (UTC) of a Unix time, for the report.
pub fn utc_date(unix_secs: u64) -> String {
    server::log_time::format(std::time::Duration::from_secs(unix_secs))[..10].to_string()
}

/// Checks of the parsers above, run instead of the benchmark when the bench binary is started
/// without `--bench` (as `cargo test --benches` does), so a test run stays quick.
pub fn self_check() {
    assert_eq!(rfc3339_us("1970-01-01T00:00:01.5Z"), Some(1_500_000));
    assert_eq!(
        rfc3339_us("2026-11-26T05:39:38.123456Z"),
        Some(1_795_671_578_123_456)
    );
    assert_eq!(utc_date(1_795_671_578), "2026-11-26");
    let line = r#"{"ts":"x","event":"reconcile","peer":"Bona","records":36000}"#;
    assert_eq!(field_u64(line, "records"), Some(36000));
    assert_eq!(field_str(line, "peer").as_deref(), Some("Bona"));
    let escaped = r#"{"event":"record_stored","client":"a\"b"}"#;
    assert_eq!(field_str(escaped, "client").as_deref(), Some("a\"b"));
}
