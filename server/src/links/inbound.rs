//! The accepting side of a persistent link, entered when a connection says `PEER`: challenge,
//! check the proof, then records in, `PONG` out, and a resume point per `MARK`.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::events;
use crate::line::{Line, LineReader, shown, write_lines};
use crate::protocol::{Command, invalid_reply};
use crate::shutdown::Shutdown;
use crate::state::{ResumePoint, Shared, Source, link_key};

use super::handshake;

/// How the connection goes on after [`serve`].
pub enum Outcome {
    /// The link ran and ended (why): the connection is done.
    Ended(String),
    /// The handshake was refused and answered `? <line>`: the connection goes on as a plain
    /// client connection, where peer lines change nothing.
    Refused,
}

/// Runs the link from `peer` (which said `PEER peer epoch` on connection `conn`);
/// `on_linked` runs once the proof is taken.
#[allow(clippy::too_many_arguments)]
pub async fn serve<R, W>(
    shared: &Shared,
    peer: &str,
    epoch: u64,
    conn: u64,
    reader: &mut LineReader<R>,
    writer: &mut W,
    shutdown: &mut Shutdown,
    on_linked: impl FnOnce(),
) -> Outcome
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let limits = &shared.limits;
    let nonce = handshake::challenge(shared.seed, shared.epoch, &shared.name, conn);
    let seq = shared.resume_seq(peer, epoch);
    let hello = format!("HELLO {nonce} {} {seq}\n", shared.epoch);
    if let Err(reason) = write_lines(writer, hello.as_bytes(), limits.heartbeat_timeout).await {
        return Outcome::Ended(reason);
    }
    let line = tokio::select! {
        line = tokio::time::timeout(limits.heartbeat_timeout, reader.read_line()) => line,
        _ = shutdown.wait() => return Outcome::Ended("shutdown".into()),
    };
    let bytes = match line {
        Err(_) => return Outcome::Ended("handshake timed out".into()),
        Ok(Err(e)) => return Outcome::Ended(e.to_string()),
        Ok(Ok(None)) => return Outcome::Ended("closed during the handshake".into()),
        Ok(Ok(Some(Line::Complete(bytes)))) => bytes,
        Ok(Ok(Some(Line::TooLong { prefix }))) => prefix,
    };
    let proven = match Command::parse_line(&bytes) {
        Ok(Command::Auth { proof }) => handshake::verify(
            shared.secret.as_ref(),
            peer,
            &shared.name,
            epoch,
            &nonce,
            &proof,
        ),
        _ => false,
    };
    if !proven {
        tracing::warn!(conn, peer, reason = "no valid proof of the herd secret", line = %shown(&bytes), "{}", events::LINK_REFUSED);
        let reply = format!("{}\n", invalid_reply(&bytes));
        return match write_lines(writer, reply.as_bytes(), limits.client_write_timeout).await {
            Ok(()) => Outcome::Refused,
            Err(reason) => Outcome::Ended(reason),
        };
    }
    if let Err(reason) = write_lines(writer, b"LINKED\n", limits.heartbeat_timeout).await {
        return Outcome::Ended(reason);
    }
    on_linked();
    tracing::info!(peer, direction = "inbound", "{}", events::PEER_UP);
    let source = Source::Peer {
        name: peer.to_string(),
        link: link_key(peer, epoch),
    };
    let reason = records_in(shared, peer, epoch, &source, reader, writer, shutdown).await;
    tracing::info!(peer, direction = "inbound", reason = %reason, "{}", events::PEER_DOWN);
    Outcome::Ended(format!("link from {peer} ended"))
}

/// Records in until the link ends; returns why it ended.
async fn records_in<R, W>(
    shared: &Shared,
    peer: &str,
    epoch: u64,
    source: &Source,
    reader: &mut LineReader<R>,
    writer: &mut W,
    shutdown: &mut Shutdown,
) -> String
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let timeout = shared.limits.heartbeat_timeout;
    loop {
        let line = tokio::select! {
            _ = shutdown.wait() => return "shutdown".into(),
            line = tokio::time::timeout(timeout, reader.read_line()) => line,
        };
        let bytes = match line {
            Err(_) => return "heartbeat timeout".into(),
            Ok(Err(e)) => return e.to_string(),
            Ok(Ok(None)) => return "closed by peer".into(),
            Ok(Ok(Some(Line::TooLong { prefix }))) => {
                tracing::warn!(peer, reason = "line over line_bytes_max", line = %shown(&prefix), "{}", events::LINE_REFUSED);
                continue;
            }
            Ok(Ok(Some(Line::Complete(bytes)))) => bytes,
        };
        match Command::parse_line(&bytes) {
            Ok(Command::At(record)) => {
                if shared.too_far_ahead(record.timestamp.nanos()) {
                    tracing::warn!(peer, reason = "timestamp too far ahead of our clock", line = %shown(&bytes), "{}", events::LINE_REFUSED);
                } else {
                    shared.ingest(record, source.clone());
                }
            }
            Ok(Command::Mark(seq)) => shared.mark_resume(peer, ResumePoint { epoch, seq }),
            Ok(Command::Ping(n)) => {
                if let Err(reason) =
                    write_lines(writer, format!("PONG {n}\n").as_bytes(), timeout).await
                {
                    return reason;
                }
            }
            Ok(_) => {
                tracing::warn!(peer, reason = "not a link line", line = %shown(&bytes), "{}", events::LINE_REFUSED)
            }
            Err(e) => {
                tracing::warn!(peer, reason = %e, line = %shown(&bytes), "{}", events::LINE_REFUSED)
            }
        }
    }
}
