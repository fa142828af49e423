//! The accept loop and the per-connection handler: lines in, replies out, in order.
//!
//! One task per connection. Commands on a connection are handled one at a time, so replies go
//! out in the order the commands came; each reply is one write. A connection that says
//! `PEER <name>` becomes the receiving end of a neighbour's link (see `peers`).

use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

use crate::events::{ConnectionEnd, Event};
use crate::line::{Line, LineReader};
use crate::net::{BoxStream, Listener};
use crate::peers;
use crate::protocol::{Command, Record, TimeDiff, invalid_reply};
use crate::shutdown::Shutdown;
use crate::state::{Shared, Source};
use crate::store::Outcome;

/// Longest `line` field in a `client_line` event; logs stay bounded like everything else.
const LOGGED_LINE_BYTES_MAX: usize = 256;

/// Pause after a failed accept (e.g. out of file descriptors) before accepting again.
const ACCEPT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Accepts connections until shutdown; at most `connections_max` are served at once.
pub async fn accept_loop(listener: &mut dyn Listener, shared: Arc<Shared>, mut shutdown: Shutdown) {
    let permits = Arc::new(Semaphore::new(shared.limits.connections_max));
    let mut next_conn: u64 = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait() => return,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Accept errors are transient: wait a moment rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            Event::ConnectionRefused {
                remote: remote.to_string(),
            }
            .emit();
            drop(stream);
            continue;
        };
        next_conn += 1;
        let conn = next_conn;
        Event::ConnectionOpened {
            conn,
            remote: remote.to_string(),
        }
        .emit();
        let handler = Handler {
            shared: shared.clone(),
            conn,
            shutdown: shutdown.clone(),
        };
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let reason = handler.run(stream).await;
            Event::ConnectionClosed { conn, reason }.emit();
            drop(permit);
        }));
    }
}

/// Serves one connection.
struct Handler {
    shared: Arc<Shared>,
    conn: u64,
    shutdown: Shutdown,
}

impl Handler {
    /// Runs until EOF, an error, idleness or shutdown; returns why it stopped.
    async fn run(mut self, stream: BoxStream) -> ConnectionEnd {
        let (read_half, mut writer) = tokio::io::split(stream);
        let limits = self.shared.limits.clone();
        let mut reader = LineReader::new(read_half, limits.line_bytes_max);
        loop {
            let line = tokio::select! {
                line = tokio::time::timeout(limits.client_idle_timeout, reader.read_line()) => line,
                _ = self.shutdown.wait() => return ConnectionEnd::Shutdown,
            };
            let line = match line {
                Err(_) => return ConnectionEnd::IdleTimeout,
                Ok(Err(e)) => return ConnectionEnd::Io(e.to_string()),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(line))) => line,
            };
            let bytes = match line {
                Line::Complete(bytes) => bytes,
                Line::TooLong { prefix } => {
                    self.log_line(&prefix);
                    let reply = format!("{}\n", invalid_reply(&prefix));
                    if let Err(e) = self.write_reply(&mut writer, &reply).await {
                        return e;
                    }
                    continue;
                }
            };
            self.log_line(&bytes);
            match Command::parse_line(&bytes) {
                Ok(Command::Peer { name }) if self.shared.peers.is_persistent_neighbour(&name) => {
                    peers::serve_inbound(
                        &self.shared,
                        &name,
                        &mut reader,
                        &mut writer,
                        &mut self.shutdown,
                    )
                    .await;
                    return ConnectionEnd::LinkEnded(name);
                }
                Ok(Command::At(record)) => {
                    // A classic peer's record: stored and flooded, never answered.
                    self.shared.ingest(record, Source::Classic);
                }
                parsed => {
                    let reply = self.answer(parsed, &bytes).await;
                    if let Err(e) = self.write_reply(&mut writer, &reply).await {
                        return e;
                    }
                }
            }
        }
        // The client half-closed: every reply is written, so finish our half too.
        let _ = writer.shutdown().await;
        ConnectionEnd::ClosedByClient
    }

    /// The reply to one client command (everything but a peer's lines).
    async fn answer(
        &self,
        parsed: Result<Command, crate::protocol::ParseError>,
        line: &[u8],
    ) -> String {
        let invalid = || format!("{}\n", invalid_reply(line));
        match parsed {
            Ok(Command::IAmAt {
                client,
                location,
                timestamp,
            }) => {
                let received = self.shared.clock.now_nanos();
                let record = Record {
                    origin: self.shared.name.clone(),
                    time_diff: TimeDiff::between(received, &timestamp),
                    client,
                    location,
                    timestamp,
                };
                let reply = format!("{record}\n");
                match self.shared.ingest(record, Source::Client) {
                    Outcome::TableFull => invalid(),
                    _ => reply,
                }
            }
            Ok(Command::WhatsAt {
                client,
                radius,
                bound,
            }) => {
                let Some(record) = self.shared.record_for(&client).await else {
                    return invalid();
                };
                let json = self
                    .shared
                    .places
                    .nearby(&record.location, &radius, bound)
                    .await;
                format!("{record}\n{json}")
            }
            _ => invalid(),
        }
    }

    fn log_line(&self, bytes: &[u8]) {
        let shown = &bytes[..bytes.len().min(LOGGED_LINE_BYTES_MAX)];
        Event::ClientLine {
            conn: self.conn,
            line: String::from_utf8_lossy(shown).into_owned(),
        }
        .emit();
    }

    /// One reply, one write.
    async fn write_reply<W: AsyncWrite + Unpin>(
        &self,
        writer: &mut W,
        reply: &str,
    ) -> Result<(), ConnectionEnd> {
        let first_line = reply.lines().next().unwrap_or("");
        Event::Reply {
            conn: self.conn,
            line: first_line.to_string(),
            bytes: reply.len() as u64,
        }
        .emit();
        writer
            .write_all(reply.as_bytes())
            .await
            .map_err(|e| ConnectionEnd::Io(e.to_string()))?;
        writer
            .flush()
            .await
            .map_err(|e| ConnectionEnd::Io(e.to_string()))
    }
}
