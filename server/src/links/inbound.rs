//! The accepting side of a persistent link, entered when a connection says `PEER`: challenge,
//! check the proof, then records in, `PONG` out, and a resume point per `MARK`.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::events::{ConnectionEnd, Direction, Event, LineRefusal, LinkEnd, LinkRefusal};
use crate::line::{Line, LineReader, shown, write_lines};
use crate::protocol::{Command, invalid_reply};
use crate::shutdown::Shutdown;
use crate::state::{ResumePoint, Shared, Source, link_key};

use super::handshake;

/// How the connection goes on after [`serve`].
pub enum Outcome {
    /// The link ran and ended, or the handshake broke off (why): the connection is done.
    Ended(ConnectionEnd),
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
        return Outcome::Ended(reason.into());
    }
    let line = tokio::select! {
        line = tokio::time::timeout(limits.heartbeat_timeout, reader.read_line()) => line,
        _ = shutdown.wait() => return Outcome::Ended(ConnectionEnd::Shutdown),
    };
    let bytes = match line {
        Err(_) => return Outcome::Ended(ConnectionEnd::HandshakeTimedOut),
        Ok(Err(e)) => return Outcome::Ended(ConnectionEnd::Io(e.to_string())),
        Ok(Ok(None)) => return Outcome::Ended(ConnectionEnd::ClosedDuringHandshake),
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
        Event::LinkRefused {
            conn,
            peer: peer.to_string(),
            reason: LinkRefusal::NoValidProof,
            line: shown(&bytes),
        }
        .emit();
        let reply = format!("{}\n", invalid_reply(&bytes));
        return match write_lines(writer, reply.as_bytes(), limits.client_write_timeout).await {
            Ok(()) => Outcome::Refused,
            Err(reason) => Outcome::Ended(reason.into()),
        };
    }
    if let Err(reason) = write_lines(writer, b"LINKED\n", limits.heartbeat_timeout).await {
        return Outcome::Ended(reason.into());
    }
    on_linked();
    Event::PeerUp {
        peer: peer.to_string(),
        direction: Direction::Inbound,
    }
    .emit();
    let source = Source::Peer {
        name: peer.to_string(),
        link: link_key(peer, epoch),
    };
    let reason = records_in(shared, peer, epoch, &source, reader, writer, shutdown).await;
    Event::PeerDown {
        peer: peer.to_string(),
        direction: Direction::Inbound,
        reason,
    }
    .emit();
    Outcome::Ended(ConnectionEnd::LinkEnded(peer.to_string()))
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
) -> LinkEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let timeout = shared.limits.heartbeat_timeout;
    loop {
        let line = tokio::select! {
            _ = shutdown.wait() => return LinkEnd::Shutdown,
            line = tokio::time::timeout(timeout, reader.read_line()) => line,
        };
        let bytes = match line {
            Err(_) => return LinkEnd::HeartbeatTimeout,
            Ok(Err(e)) => return LinkEnd::Io(e.to_string()),
            Ok(Ok(None)) => return LinkEnd::ClosedByPeer,
            Ok(Ok(Some(Line::TooLong { prefix }))) => {
                refused(peer, LineRefusal::TooLong, &prefix);
                continue;
            }
            Ok(Ok(Some(Line::Complete(bytes)))) => bytes,
        };
        match Command::parse_line(&bytes) {
            Ok(Command::At(record)) => {
                if let Some(refusal) = shared.refusal(&record) {
                    refused(peer, refusal, &bytes);
                } else {
                    shared.ingest(record, source.clone());
                }
            }
            Ok(Command::Mark(seq)) => shared.mark_resume(peer, ResumePoint { epoch, seq }),
            Ok(Command::Ping(n)) => {
                if let Err(reason) =
                    write_lines(writer, format!("PONG {n}\n").as_bytes(), timeout).await
                {
                    return reason.into();
                }
            }
            Ok(_) => refused(peer, LineRefusal::NotALinkLine, &bytes),
            Err(e) => refused(peer, LineRefusal::Invalid(e.to_string()), &bytes),
        }
    }
}

/// Says that a line from `peer` was refused.
fn refused(peer: &str, reason: LineRefusal, line: &[u8]) {
    Event::LineRefused {
        peer: Some(peer.to_string()),
        conn: None,
        reason,
        line: shown(line),
    }
    .emit();
}
