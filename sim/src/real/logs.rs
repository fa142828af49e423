//! The servers' log files as the trace: each line read by the typed reader
//! (`server::events::read_log`), stamped with its real time since the run's start, and split
//! as the simulation's recorder splits it: events up to the end are the trace, the
//! `table_record`s after it are the table each server reported as it stopped. Each event keeps
//! its line's `ts` and `level` ([`Logged`]), which `log_readback` judges.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use server::events::Event;

use crate::trace::read::rfc3339_since_epoch;
use crate::trace::{Logged, TraceEvent};

/// One server's log, read.
pub struct ServerLog {
    /// Events stamped at or before the end, in file order.
    pub events: Vec<TraceEvent>,
    /// The AT lines of the table the server reported after the end.
    pub table: Vec<String>,
}

/// The text of `server`'s log: every file the binary's rotation kept, oldest first
/// (`server::events::log_file_names`). The harness cannot judge a trace whose oldest lines a
/// rotation dropped, so a log that reached its last generation (`files_max` files) is an
/// error; with the default bounds no scenario comes near it.
pub fn read_rotated(dir: &Path, server: &str, files_max: usize) -> Result<String, String> {
    let mut text = String::new();
    for (index, name) in server::events::log_file_names(server, files_max)
        .iter()
        .enumerate()
    {
        let file = dir.join(name);
        match std::fs::read_to_string(&file) {
            Ok(_) if index == 0 && files_max > 1 => {
                return Err(format!(
                    "{}: the log rotated through all {files_max} files (log_files_max), so its oldest lines may be gone",
                    file.display()
                ));
            }
            Ok(part) => text.push_str(&part),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        }
    }
    Ok(text)
}

/// Reads the log of `server` in `dir`, kept in up to `files_max` rotated files; `start` is
/// the run's start as time since the Unix epoch. A line that does not read is an error naming
/// the log and line.
pub fn read(
    dir: &Path,
    server: &str,
    files_max: usize,
    start: Duration,
    end: Duration,
) -> Result<ServerLog, String> {
    let text = read_rotated(dir, server, files_max)?;
    let file = dir.join(server::events::log_file_name(server, 0));
    let lines = server::events::read_log(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut log = ServerLog {
        events: Vec::new(),
        table: Vec::new(),
    };
    for line in lines {
        let at = rfc3339_since_epoch(&line.ts)
            .ok_or_else(|| format!("{}: a `ts` that does not read: {}", file.display(), line.ts))?
            .saturating_sub(start);
        if at <= end || matches!(line.event, Event::Metrics { .. }) {
            let mut event = TraceEvent::server(at, line.server, line.event);
            // The line's stamp, for `log_readback` to judge as it judges the simulation's.
            event.logged = Some(Logged {
                ts: line.ts,
                level: line.level,
            });
            log.events.push(event);
        } else if let Event::TableRecord { record } = line.event {
            log.table.push(record.to_string());
        }
    }
    Ok(log)
}

/// Every server's log read, its events merged into `events`, and each server's table.
pub fn read_all(
    dir: &Path,
    servers: &[String],
    files_max: usize,
    start: Duration,
    end: Duration,
    events: &mut Vec<TraceEvent>,
) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut tables = BTreeMap::new();
    for server in servers {
        let log = read(dir, server, files_max, start, end)?;
        events.extend(log.events);
        tables.insert(server.clone(), log.table);
    }
    Ok(tables)
}
