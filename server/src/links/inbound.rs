//! The accepting side of a persistent link, entered when a connection says `PEER`: challenge,
//! check the proof within `peer_handshake_timeout` (unless a newer handshake evicts this one),
//! take a link slot, then records in, `PONG` out, and a resume point per `MARK`.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::digest;

use crate::events::{ConnectionEnd, Direction, Event, LineRefusal, LinkEnd, LinkRefusal};
use crate::line::{Line, LineReader, shown, write_lines};
use crate::protocol::{Command, invalid_reply};
use crate::shutdown::Shutdown;
use crate::state::{FillGuard, ResumePoint, Shared, Via, link_key};

use super::admission::{Admission, Pending};
use super::handshake;

/// A handshake pending at [`Admission`], until its proof is taken.
pub struct Handshake<'a> {
    pub pending: Pending,
    pub admission: &'a Admission,
}

/// How the connection goes on after [`serve`].
pub enum AfterLink {
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
    handshake: Handshake<'_>,
    reader: &mut LineReader<R>,
    writer: &mut W,
    shutdown: &mut Shutdown,
    on_linked: impl FnOnce(),
) -> AfterLink
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let limits = &shared.limits;
    let nonce = handshake::challenge(shared.seed, shared.epoch, &shared.name, conn);
    let seq = shared.resume_seq(peer, epoch);
    // Only a challenge: this server's life and what it holds are said once the proof holds.
    let hello = format!("HELLO {nonce}\n");
    if let Err(reason) = write_lines(writer, hello.as_bytes(), limits.heartbeat_timeout).await {
        return AfterLink::Ended(reason.into());
    }
    let line = tokio::select! {
        line = tokio::time::timeout(limits.peer_handshake_timeout, reader.read_line()) => line,
        _ = handshake.pending.evicted() => {
            return AfterLink::Ended(ConnectionEnd::HandshakeEvicted);
        }
        _ = shutdown.wait() => return AfterLink::Ended(ConnectionEnd::Shutdown),
    };
    let bytes = match line {
        Err(_) => return AfterLink::Ended(ConnectionEnd::HandshakeTimedOut),
        Ok(Err(e)) => return AfterLink::Ended(ConnectionEnd::Io(e.to_string())),
        Ok(Ok(None)) => return AfterLink::Ended(ConnectionEnd::ClosedDuringHandshake),
        Ok(Ok(Some(Line::Complete(bytes)))) => bytes,
        Ok(Ok(Some(Line::TooLong { prefix }))) => prefix,
    };
    let auth = match Command::parse_line(&bytes) {
        Ok(Command::Auth {
            proof,
            head,
            challenge,
        }) => handshake::verify(
            shared.secret.as_ref(),
            peer,
            &shared.name,
            epoch,
            &nonce,
            &proof,
        )
        .then_some((head, challenge)),
        _ => None,
    };
    // Proven (or refused): the handshake is no longer pending. Only a proven link takes a slot.
    drop(handshake.pending);
    let proven = auth.is_some();
    let slot = auth.and_then(|auth| Some((auth, handshake.admission.link_slot()?)));
    if proven && slot.is_none() {
        shared.metrics.refused("peer_links_max");
        return AfterLink::Ended(ConnectionEnd::NoLinkSlot);
    }
    let Some(((catch_up_head, challenge), _slot)) = slot else {
        shared.metrics.refused("link_without_proof");
        Event::LinkRefused {
            conn,
            peer: peer.to_string(),
            reason: LinkRefusal::NoValidProof,
            line: shown(&bytes),
        }
        .emit();
        let reply = format!("{}\n", invalid_reply(&bytes));
        return match write_lines(writer, reply.as_bytes(), limits.client_write_timeout).await {
            Ok(()) => AfterLink::Refused,
            Err(reason) => AfterLink::Ended(reason.into()),
        };
    };
    if seq == 0 {
        // The dialler will compare our whole table with its own: if another neighbour is
        // filling it now (we restarted, or hold little), let that finish first, so this one
        // sends only what that one did not bring.
        tokio::select! {
            _ = tokio::time::timeout(limits.fill_wait(), shared.fills_done()) => {}
            _ = shutdown.wait() => return AfterLink::Ended(ConnectionEnd::Shutdown),
        }
    }
    let (digest, fill) = {
        let store = shared.store();
        let digest = (seq == 0).then(|| store.digest(digest::buckets_for(limits.line_bytes_max)));
        // Said with the table locked, so the trace shows which table the digest is of.
        Event::PeerUp {
            peer: peer.to_string(),
            direction: Direction::Inbound,
        }
        .emit();
        shared.metrics.link_up(peer, Direction::Inbound, true);
        // From here until its catch-up is in, another whole-table comparison waits for it.
        let fill = (seq == 0 && catch_up_head > 0).then(|| shared.fill_started());
        (digest, fill)
    };
    let proof = handshake::answer(
        shared.secret.as_ref(),
        peer,
        &shared.name,
        shared.epoch,
        &challenge,
    );
    let linked = Command::Linked {
        epoch: shared.epoch,
        seq,
        digest,
        proof,
    };
    let linked = format!("{linked}\n");
    if let Err(reason) = write_lines(writer, linked.as_bytes(), limits.heartbeat_timeout).await {
        Event::PeerDown {
            peer: peer.to_string(),
            direction: Direction::Inbound,
            reason: reason.into(),
        }
        .emit();
        shared.metrics.link_up(peer, Direction::Inbound, false);
        return AfterLink::Ended(ConnectionEnd::LinkEnded(peer.to_string()));
    }
    on_linked();
    shared.linked_in(peer);
    let source = Via::Peer {
        name: peer.to_string(),
        link: link_key(peer, epoch),
    };
    let link = Link {
        peer,
        epoch,
        source: &source,
        catch_up_head,
    };
    let reason = records_in(shared, &link, fill, reader, writer, shutdown).await;
    Event::PeerDown {
        peer: peer.to_string(),
        direction: Direction::Inbound,
        reason,
    }
    .emit();
    shared.metrics.link_up(peer, Direction::Inbound, false);
    AfterLink::Ended(ConnectionEnd::LinkEnded(peer.to_string()))
}

/// One running inbound link.
struct Link<'a> {
    peer: &'a str,
    /// The dialler's life.
    epoch: u64,
    source: &'a Via,
    /// The dialler's change head when it proved itself (its `AUTH`): its catch-up covers at
    /// least this much, so a `MARK` reaching it means the catch-up is in.
    catch_up_head: u64,
}

/// Records in until the link ends; returns why it ended. `fill` is held while a catch-up
/// comparing our whole table runs, until a `MARK` reaches its head, and never longer than
/// `fill_wait` (a dialler may name any head: it does not hold everyone else back for good).
async fn records_in<R, W>(
    shared: &Shared,
    link: &Link<'_>,
    mut fill: Option<FillGuard<'_>>,
    reader: &mut LineReader<R>,
    writer: &mut W,
    shutdown: &mut Shutdown,
) -> LinkEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let timeout = shared.limits.heartbeat_timeout;
    let &Link {
        peer,
        epoch,
        source,
        catch_up_head,
    } = link;
    let fill_until = tokio::time::Instant::now() + shared.limits.fill_wait();
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
                refused(shared, peer, LineRefusal::TooLong, &prefix);
                continue;
            }
            Ok(Ok(Some(Line::Complete(bytes)))) => bytes,
        };
        // Lines come at least every heartbeat, so this is checked often enough.
        if fill.is_some() && tokio::time::Instant::now() >= fill_until {
            drop(fill.take());
        }
        match Command::parse_line(&bytes) {
            Ok(Command::At(record)) => {
                if let Some(refusal) = shared.refusal(&record) {
                    refused(shared, peer, refusal, &bytes);
                } else {
                    // With a durable store, a full write queue holds the link back.
                    let room = shared.room_for(&record).await;
                    shared.ingest_in(record, source.clone(), room);
                }
            }
            Ok(Command::Mark(seq)) => {
                shared.mark_resume(peer, ResumePoint { epoch, seq });
                if seq >= catch_up_head {
                    // The catch-up is in: a link waiting to compare our table may go on.
                    drop(fill.take());
                }
            }
            Ok(Command::Ping(n)) => {
                if let Err(reason) =
                    write_lines(writer, format!("PONG {n}\n").as_bytes(), timeout).await
                {
                    return reason.into();
                }
            }
            Ok(_) => refused(shared, peer, LineRefusal::NotALinkLine, &bytes),
            Err(e) => refused(shared, peer, LineRefusal::Invalid(e.to_string()), &bytes),
        }
    }
}

/// Says that a line from `peer` was refused.
fn refused(shared: &Shared, peer: &str, reason: LineRefusal, line: &[u8]) {
    shared
        .metrics
        .refused(crate::metrics::line_refusal_reason(&reason));
    Event::LineRefused {
        peer: Some(peer.to_string()),
        conn: None,
        reason,
        line: shown(line),
    }
    .emit();
}
