//! The accepting side of a persistent link, entered when a connection says `PEER`: `HELLO`,
//! TLS (the dialler's certificate must be the herd's and for the name it claimed) and its
//! `AUTH`, all within `peer_handshake_timeout` (unless a newer handshake evicts this one), a
//! link slot, then records in, `PONG` out, and a resume point per `MARK`.

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::time::Instant;

use crate::digest;

use crate::events::{ConnectionEnd, Direction, Event, LineRefusal, LinkEnd, LinkRefusal};
use crate::line::{Line, LineReader, shown, write_lines};
use crate::net::BoxStream;
use crate::protocol::{Command, invalid_reply};
use crate::shutdown::Shutdown;
use crate::state::{FillGuard, ResumePoint, Shared, Via, link_key};

use super::admission::{Admission, Pending};
use super::tls::LinkTls;

/// A handshake pending at [`Admission`], until its certificate and `AUTH` are taken.
pub struct Handshake<'a> {
    pub pending: Pending,
    pub admission: &'a Admission,
}

/// The connection's two halves, read by lines.
pub type Halves = (LineReader<ReadHalf<BoxStream>>, WriteHalf<BoxStream>);

/// Runs the link from `peer` (which said `PEER peer epoch` on connection `conn`) until it
/// ends; `on_linked` runs once the handshake is taken. Returns why the connection ended.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    shared: &Shared,
    peer: &str,
    epoch: u64,
    conn: u64,
    handshake: Handshake<'_>,
    (reader, mut writer): Halves,
    shutdown: &mut Shutdown,
    on_linked: impl FnOnce(),
) -> ConnectionEnd {
    let limits = &shared.limits;
    let deadline = Instant::now() + limits.peer_handshake_timeout;
    let seq = shared.resume_seq(peer, epoch);
    // Nothing more: this server's life and what it holds are said once the link is proven.
    if let Err(reason) = write_lines(&mut writer, b"HELLO\n", limits.heartbeat_timeout).await {
        return reason.into();
    }
    let (mut reader, mut writer) = match &shared.tls {
        Some(tls) => {
            let halves = (reader, writer);
            let accepted = accept_tls(shared, peer, conn, tls, &handshake, deadline, halves);
            match accepted.await {
                Ok(halves) => halves,
                Err(end) => return end,
            }
        }
        None => (reader, writer),
    };
    let bytes = match handshake_line(&mut reader, deadline, &handshake.pending, shutdown).await {
        Ok(bytes) => bytes,
        Err(end) => return end,
    };
    // The `PEER` line came in clear: its epoch holds only if the `AUTH` line, under TLS, says
    // the same. Otherwise someone on the path altered it, and a link taken under a life the
    // dialler does not live would resume from the wrong cursor and file what it brings under
    // that life (docs/protocol.md §8.1).
    let auth = match Command::parse_line(&bytes) {
        Ok(Command::Auth { head, epoch: said }) if said == epoch => Some(head),
        _ => None,
    };
    // Taken (or refused): the handshake is no longer pending. Only a taken link takes a slot.
    drop(handshake.pending);
    let proven = auth.is_some();
    let slot = auth.and_then(|head| Some((head, handshake.admission.link_slot()?)));
    if proven && slot.is_none() {
        shared.metrics.refused("peer_links_max");
        return ConnectionEnd::NoLinkSlot;
    }
    let Some((catch_up_head, _slot)) = slot else {
        refuse_link(shared, conn, peer, &bytes);
        let reply = format!("{}\n", invalid_reply(&bytes));
        let written = write_lines(&mut writer, reply.as_bytes(), limits.client_write_timeout);
        return match written.await {
            Ok(()) => ConnectionEnd::LinkWithoutProof,
            Err(reason) => reason.into(),
        };
    };
    if seq == 0 {
        // The dialler will compare our whole table with its own: if another neighbour is
        // filling it now (we restarted, or hold little), let that finish first, so this one
        // sends only what that one did not bring.
        tokio::select! {
            _ = tokio::time::timeout(limits.fill_wait(), shared.fills_done()) => {}
            _ = shutdown.wait() => return ConnectionEnd::Shutdown,
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
    let linked = Command::Linked {
        epoch: shared.epoch,
        seq,
        digest,
    };
    let linked = format!("{linked}\n");
    if let Err(reason) = write_lines(&mut writer, linked.as_bytes(), limits.heartbeat_timeout).await
    {
        Event::PeerDown {
            peer: peer.to_string(),
            direction: Direction::Inbound,
            reason: reason.into(),
        }
        .emit();
        shared.metrics.link_up(peer, Direction::Inbound, false);
        return ConnectionEnd::LinkEnded(peer.to_string());
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
    let reason = records_in(shared, &link, fill, &mut reader, &mut writer, shutdown).await;
    Event::PeerDown {
        peer: peer.to_string(),
        direction: Direction::Inbound,
        reason,
    }
    .emit();
    shared.metrics.link_up(peer, Direction::Inbound, false);
    ConnectionEnd::LinkEnded(peer.to_string())
}

/// Says that the link `peer` claimed on connection `conn` was refused (`why`: the line or the
/// TLS error).
pub(crate) fn refuse_link(shared: &Shared, conn: u64, peer: &str, why: &[u8]) {
    refuse(shared, conn, peer, LinkRefusal::NoValidProof, why)
}

/// Says that connection `conn`'s attempt at a link from `peer` was refused, and why.
pub(crate) fn refuse(shared: &Shared, conn: u64, peer: &str, reason: LinkRefusal, why: &[u8]) {
    shared.metrics.refused(reason.metric_word());
    Event::LinkRefused {
        conn,
        peer: peer.to_string(),
        reason,
        line: shown(why),
    }
    .emit();
}

/// TLS on the connection, as the server, before `deadline`: the dialler's certificate must
/// chain to the herd's CA and name `peer`.
async fn accept_tls(
    shared: &Shared,
    peer: &str,
    conn: u64,
    tls: &LinkTls,
    handshake: &Handshake<'_>,
    deadline: Instant,
    (reader, writer): Halves,
) -> Result<Halves, ConnectionEnd> {
    // The dialler sends nothing after `PEER` until our `HELLO`: bytes here are not TLS.
    let Some(read_half) = reader.into_inner() else {
        refuse_link(shared, conn, peer, b"bytes after PEER before TLS");
        return Err(ConnectionEnd::LinkWithoutProof);
    };
    let stream = read_half.unsplit(writer);
    let accepted = tokio::select! {
        accepted = tokio::time::timeout_at(deadline, tls.accept(peer, stream)) => accepted,
        _ = handshake.pending.evicted() => return Err(ConnectionEnd::HandshakeEvicted),
    };
    match accepted {
        Err(_) => Err(ConnectionEnd::HandshakeTimedOut),
        Ok(Err(e)) => {
            refuse_link(shared, conn, peer, format!("TLS: {e}").as_bytes());
            Err(ConnectionEnd::LinkWithoutProof)
        }
        Ok(Ok(stream)) => {
            let (read_half, writer) = tokio::io::split(stream);
            let limit = shared.limits.line_bytes_max;
            Ok((LineReader::new(read_half, limit), writer))
        }
    }
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

/// A handshake's next line, read by `deadline` unless a newer handshake evicts this one or the
/// server stops: the answer, or how the connection ends. A line over the limit is its prefix.
pub(super) async fn handshake_line<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut LineReader<R>,
    deadline: Instant,
    pending: &Pending,
    shutdown: &mut Shutdown,
) -> Result<Vec<u8>, ConnectionEnd> {
    let line = tokio::select! {
        line = tokio::time::timeout_at(deadline, reader.read_line()) => line,
        _ = pending.evicted() => return Err(ConnectionEnd::HandshakeEvicted),
        _ = shutdown.wait() => return Err(ConnectionEnd::Shutdown),
    };
    match line {
        Err(_) => Err(ConnectionEnd::HandshakeTimedOut),
        Ok(Err(e)) => Err(ConnectionEnd::Io(e.to_string())),
        Ok(Ok(None)) => Err(ConnectionEnd::ClosedDuringHandshake),
        Ok(Ok(Some(Line::Complete(bytes)))) => Ok(bytes),
        Ok(Ok(Some(Line::TooLong { prefix }))) => Ok(prefix),
    }
}
