//! The accept loop and the per-connection handler: lines in, replies out, in order.
//!
//! One task per connection. Replies go out in the order the commands came, each write bounded
//! by `client_write_timeout`; IAMATs are applied as they are read while their replies wait to
//! be durable (`replies`), every other command waits for the replies before it.
//!
//! This is the client port: connections count against `connections_max`. Links from
//! persistent neighbours arrive on the peer port (`links::accept`), so connections held open by
//! clients can never keep a neighbour out; a `PEER` line here is answered `?` like any unknown
//! command, and said (`link_refused`). Classic neighbours' `AT` lines still come here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::commands;
use crate::events::{ConnectionEnd, Event, LineRefusal, LinkRefusal};
use crate::line::{Line, LineReader, shown};
use crate::listen::next_connection;
use crate::net::{BoxStream, Listener};
use crate::protocol::{Command, invalid_reply};
use crate::replies::Owing;
use crate::shutdown::Shutdown;
use crate::state::{Shared, Via};
use crate::store::Outcome;

/// Refused connections are logged at most once per this interval (with a count), so a
/// connection flood cannot turn into a log flood.
const REFUSED_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Accepts connections until shutdown, then closes the port and waits up to `grace` for the
/// handlers to finish. `conns` numbers connections, shared with the peer port's loop.
pub async fn accept_loop(
    mut listener: Box<dyn Listener>,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
    grace: Duration,
    conns: Arc<AtomicU64>,
) {
    let client_slots = Arc::new(Semaphore::new(shared.limits.connections_max));
    let mut handlers = JoinSet::new();
    let mut refused = RefusedLog::default();
    while let Some((stream, remote)) = next_connection(
        listener.as_mut(),
        &mut handlers,
        &mut shutdown,
        "accept failed",
    )
    .await
    {
        let Ok(slot) = client_slots.clone().try_acquire_owned() else {
            shared.metrics.refused("connections_max");
            refused.note(&remote);
            drop(stream);
            continue;
        };
        let conn = conns.fetch_add(1, Ordering::Relaxed) + 1;
        Event::ConnectionOpened {
            conn,
            remote: remote.to_string(),
        }
        .emit();
        shared.metrics.connection_opened();
        let handler = Handler {
            shared: shared.clone(),
            conn,
            remote: remote.to_string(),
            shutdown: shutdown.clone(),
        };
        handlers.spawn(tracing::Instrument::in_current_span(async move {
            let shared = handler.shared.clone();
            let reason = handler.run(stream, slot).await;
            Event::ConnectionClosed { conn, reason }.emit();
            shared.metrics.connection_closed();
        }));
    }
    // Closed before the handlers' grace: a connection that comes now is refused at once, not
    // left in the backlog of a port nobody accepts on any more.
    drop(listener);
    let _ = tokio::time::timeout(grace, async {
        while handlers.join_next().await.is_some() {}
    })
    .await;
}

/// Logs refused connections at most once per [`REFUSED_LOG_INTERVAL`].
#[derive(Default)]
struct RefusedLog {
    last_logged: Option<tokio::time::Instant>,
    suppressed: u64,
}

impl RefusedLog {
    fn note(&mut self, remote: &str) {
        let now = tokio::time::Instant::now();
        if self
            .last_logged
            .is_some_and(|last| now.duration_since(last) < REFUSED_LOG_INTERVAL)
        {
            self.suppressed += 1;
            return;
        }
        Event::ConnectionRefused {
            remote: remote.to_string(),
            suppressed: self.suppressed,
        }
        .emit();
        self.last_logged = Some(now);
        self.suppressed = 0;
    }
}

/// Serves one connection.
struct Handler {
    shared: Arc<Shared>,
    conn: u64,
    /// The remote end as the listener named it: a classic line is taken only from a classic
    /// neighbour's address.
    remote: String,
    shutdown: Shutdown,
}

impl Handler {
    /// Runs until EOF, an error, idleness or shutdown; returns why it stopped.
    ///
    /// An IAMAT is applied as soon as its line is read and its reply joins the replies owed
    /// ([`Owing`]); the connection goes on reading while those wait for their records to be
    /// durable, up to `replies_pending_max` of them. Any other command first waits until
    /// every reply owed is written, so replies always go in the order the commands came.
    /// `_slot` is the connection's client slot, held until it ends.
    async fn run(mut self, stream: BoxStream, _slot: OwnedSemaphorePermit) -> ConnectionEnd {
        let (read_half, mut writer) = tokio::io::split(stream);
        let limits = self.shared.limits.clone();
        let shared = self.shared.clone();
        let conn = self.conn;
        let mut reader = LineReader::new(read_half, limits.line_bytes_max);
        let idle = limits.client_idle_timeout;
        let mut owing = Owing::default();
        loop {
            if let Err(e) = owing.write_ready(&shared, conn, &mut writer).await {
                return e;
            }
            let room = owing.len() < limits.replies_pending_max;
            let front_wait = owing.front_wait();
            let line = tokio::select! {
                biased;
                _ = shared.durable_past(front_wait.unwrap_or(0)), if front_wait.is_some() => {
                    continue;
                }
                line = tokio::time::timeout(idle, reader.read_line()), if room => line,
                _ = self.shutdown.wait() => {
                    // The records are in the table: their replies still go, within the grace
                    // the accept loop gives.
                    let _ = owing.flush(&shared, conn, &mut writer).await;
                    return ConnectionEnd::Shutdown;
                }
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
                    owing.push(format!("{}\n", invalid_reply(&prefix)), None, &prefix);
                    continue;
                }
            };
            self.log_line(&bytes);
            let parsed = Command::parse_line(&bytes);
            if let Ok(Command::IAmAt {
                client,
                location,
                timestamp,
            }) = parsed
            {
                let (reply, held) =
                    commands::iamat_held(&shared, client, location, timestamp, &bytes).await;
                // Acknowledged means kept: with a durable store, the AT reply waits until the
                // record it acknowledges is synced; if the disk fails first, it becomes `?`.
                let wait = held.filter(|_| reply.starts_with("AT ") && shared.durable().is_some());
                owing.push(reply, wait, &bytes);
                continue;
            }
            if let Err(e) = owing.flush(&shared, conn, &mut writer).await {
                return e;
            }
            let reply = self.answer(parsed, &bytes).await;
            if !reply.is_empty() {
                owing.push(reply, None, &bytes);
            }
        }
        // The client half-closed: every reply is written, so finish our half too.
        if let Err(e) = owing.flush(&shared, conn, &mut writer).await {
            return e;
        }
        let _ = writer.shutdown().await;
        ConnectionEnd::ClosedByClient
    }

    /// The reply to one client line other than an IAMAT; empty when nothing is owed (a classic
    /// peer's record).
    async fn answer(
        &self,
        parsed: Result<Command, crate::protocol::ParseError>,
        line: &[u8],
    ) -> String {
        let invalid = || format!("{}\n", invalid_reply(line));
        match parsed {
            Ok(Command::WhatsAt {
                client,
                radius,
                bound,
            }) => commands::whatsat(&self.shared, &client, &radius, bound, line).await,
            Ok(Command::At(record)) => {
                let shared = &self.shared;
                let neighbour = shared.neighbours.iter().any(|n| n.name == record.origin);
                let planted = shared.canaries.takes_forged_at(
                    shared.is_herd_server(&record.origin),
                    neighbour,
                    || shared.store().get(&record.client).is_some(),
                );
                let refusal = if !self.shared.has_classic_neighbour() && !planted {
                    // No classic neighbour: an AT line on a plain connection is a client's
                    // forgery, and only ever gets `?`.
                    return invalid();
                } else if let Some(refusal) = (!planted)
                    .then(|| self.shared.classic_refusal(&self.remote, &record))
                    .flatten()
                {
                    refusal
                } else {
                    // A classic peer's record: stored and flooded, never answered. A stale one
                    // means the peer holds an old record: send it ours.
                    let client = record.client.clone();
                    let room = self.shared.room_for(&record).await;
                    let (outcome, _) = self.shared.ingest_in(record, Via::Classic, room);
                    if outcome == Outcome::Stale {
                        self.shared.resend_to_classic(&client);
                    }
                    return String::new();
                };
                self.refused(refusal, line);
                invalid()
            }
            Ok(Command::Peer { name, .. }) => {
                // Links arrive on the peer port: whoever says PEER here is told `?`.
                crate::links::inbound::refuse(
                    &self.shared,
                    self.conn,
                    &name,
                    LinkRefusal::ClientPort,
                    line,
                );
                invalid()
            }
            Ok(Command::Auth { .. }) => {
                self.shared.canaries.replayed_auth();
                invalid()
            }
            Err(e) if line.starts_with(b"AT ") && self.shared.has_classic_neighbour() => {
                self.refused(LineRefusal::Invalid(e.to_string()), line);
                invalid()
            }
            _ => invalid(),
        }
    }

    /// Says that a classic peer's line was refused.
    fn refused(&self, reason: LineRefusal, line: &[u8]) {
        let word = crate::metrics::line_refusal_reason(&reason);
        self.shared.metrics.refused(word);
        Event::LineRefused {
            peer: None,
            conn: Some(self.conn),
            reason,
            line: shown(line),
        }
        .emit();
    }

    fn log_line(&self, bytes: &[u8]) {
        Event::ClientLine {
            conn: self.conn,
            line: shown(bytes),
        }
        .emit();
    }
}
