//! The replies one connection owes, in the order its commands came: an `AT` reply waits until
//! its record is durable, and the connection reads and applies further lines meanwhile, so a
//! pipelining client's records share syncs. Bounded by `replies_pending_max` per connection.

use std::collections::VecDeque;

use tokio::io::AsyncWrite;

use crate::events::{ConnectionEnd, Event};
use crate::line::{shown, write_lines};
use crate::protocol::invalid_reply;
use crate::state::Shared;

/// One reply owed.
struct Owed {
    text: String,
    /// The change that must be durable before `text` may go; `None`: it may go now.
    wait: Option<u64>,
    /// The command's line, kept while `wait` is set: if the disk fails first, the reply is
    /// `? ` + this line instead.
    line: Vec<u8>,
    kind: &'static str,
}

/// The replies a connection owes, oldest first. Holds at most `replies_pending_max` of them
/// (the caller stops reading at that many), each at most two lines of `line_bytes_max`.
#[derive(Default)]
pub struct Owing {
    owed: VecDeque<Owed>,
}

impl Owing {
    pub fn len(&self) -> usize {
        self.owed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owed.is_empty()
    }

    /// Owes `text`, the reply to `line`; it goes once change `wait` is durable.
    pub fn push(&mut self, text: String, wait: Option<u64>, line: &[u8]) {
        let kind = crate::metrics::command_kind(line);
        let line = if wait.is_some() {
            line.to_vec()
        } else {
            Vec::new()
        };
        self.owed.push_back(Owed {
            text,
            wait,
            line,
            kind,
        });
    }

    /// The change the oldest reply waits for, if it waits.
    pub fn front_wait(&self) -> Option<u64> {
        self.owed.front().and_then(|owed| owed.wait)
    }

    /// Writes, in one write, every reply from the oldest on that may go now (none wait, or
    /// their change is durable, or the disk failed: then they are `?`).
    pub async fn write_ready<W: AsyncWrite + Unpin>(
        &mut self,
        shared: &Shared,
        conn: u64,
        writer: &mut W,
    ) -> Result<(), ConnectionEnd> {
        let mut out = String::new();
        while let Some(owed) = self.owed.front() {
            let synced = match owed.wait {
                None => true,
                Some(seq) => match shared.durable_status(seq) {
                    Some(synced) => synced,
                    None => break,
                },
            };
            let Some(owed) = self.owed.pop_front() else {
                break;
            };
            let text = if synced {
                owed.text
            } else {
                format!("{}\n", invalid_reply(&owed.line))
            };
            note(shared, conn, owed.kind, &text);
            out.push_str(&text);
        }
        if out.is_empty() {
            return Ok(());
        }
        write_lines(writer, out.as_bytes(), shared.limits.client_write_timeout)
            .await
            .map_err(ConnectionEnd::from)
    }

    /// Writes every reply owed, waiting for their changes to be durable.
    pub async fn flush<W: AsyncWrite + Unpin>(
        &mut self,
        shared: &Shared,
        conn: u64,
        writer: &mut W,
    ) -> Result<(), ConnectionEnd> {
        while !self.is_empty() {
            if let Some(seq) = self.front_wait() {
                shared.durable_past(seq).await;
            }
            self.write_ready(shared, conn, writer).await?;
        }
        Ok(())
    }
}

/// Logs and counts one reply as it is written.
pub fn note(shared: &Shared, conn: u64, kind: &'static str, text: &str) {
    let first_line = text.lines().next().unwrap_or("");
    Event::Reply {
        conn,
        line: shown(first_line.as_bytes()),
        bytes: text.len() as u64,
    }
    .emit();
    shared.metrics.command(kind, text.starts_with('?'));
}
