//! The dialling side of a persistent link: dial with jittered backoff, start TLS (the
//! neighbour's certificate must be the herd's, for its name), send what the neighbour lacks,
//! then stream new changes from a cursor with heartbeats.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{ReadHalf, WriteHalf};

use crate::backoff::{Backoff, stable_hash};
use crate::buggify::Buggify;
use crate::config::Neighbour;
use crate::digest::{DifferingBuckets, TableDigest, record_hash};
use crate::events::{Direction, Event, LinkEnd};
use crate::line::{Line, LineReader, shown, write_lines};
use crate::net::{BoxStream, Network};
use crate::protocol::Command;
use crate::shutdown::Shutdown;
use crate::state::{Shared, link_key};
use crate::store::Held;

/// Dials `neighbour` until shutdown; each connection is one session.
pub async fn run(
    neighbour: Neighbour,
    shared: Arc<Shared>,
    net: Arc<dyn Network>,
    mut shutdown: Shutdown,
) {
    let limits = &shared.limits;
    let link_seed = shared.seed ^ stable_hash(&[&shared.name, &neighbour.name]);
    let mut backoff = Backoff::new(limits.backoff_min, limits.backoff_max, link_seed);
    let mut failures_in_a_row = 0u32;
    // Answers of `? PEER` since the link was last up: the first is news for the operator, the
    // redials after it are detail.
    let mut classic_answers_in_a_row = 0u32;
    loop {
        let dial = tokio::time::timeout(
            limits.peer_connect_timeout,
            net.connect(&neighbour.host, neighbour.port),
        );
        let dialled = tokio::select! {
            dialled = dial => dialled,
            _ = shutdown.wait() => return stopped_unlinked(&neighbour.name),
        };
        let error = match dialled {
            Ok(Ok(stream)) => {
                failures_in_a_row = 0;
                let end = session(&neighbour.name, stream, &shared, &mut shutdown).await;
                if end.linked {
                    backoff.reset();
                    classic_answers_in_a_row = 0;
                }
                if matches!(end.reason, LinkEnd::SpeaksClassic) {
                    classic_answers_in_a_row += 1;
                    let classic = Event::PeerSpeaksClassic {
                        peer: neighbour.name.clone(),
                    };
                    if classic_answers_in_a_row == 1 {
                        classic.emit();
                    } else {
                        classic.emit_detail();
                    }
                }
                Event::PeerDown {
                    peer: neighbour.name.clone(),
                    direction: Direction::Outbound,
                    reason: end.reason,
                }
                .emit();
                shared
                    .metrics
                    .link_up(&neighbour.name, Direction::Outbound, false);
                if shutdown.is_triggered() {
                    if !end.linked {
                        stopped_unlinked(&neighbour.name);
                    }
                    return;
                }
                None
            }
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(LinkEnd::ConnectTimedOut.to_string()),
        };
        let delay = backoff.next_delay();
        if let Some(error) = error {
            failures_in_a_row += 1;
            let failed = Event::PeerConnectFailed {
                peer: neighbour.name.clone(),
                error,
                retry_ms: delay.as_millis() as u64,
                client: None,
            };
            // The first failure of a series is news; the retries that follow are detail.
            if failures_in_a_row == 1 {
                failed.emit();
            } else {
                failed.emit_detail();
            }
        }
        // A neighbour that links in to us is reachable: cut the delay short. (The backoff
        // keeps its count; only a session that links resets it.)
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shared.until_linked_in(&neighbour.name) => {}
            _ = shutdown.wait() => return stopped_unlinked(&neighbour.name),
        }
    }
}

/// A stop found the link down (or not yet streaming): what the neighbour lacks is not known
/// here; it gets it when a link next comes up, if this server comes back.
fn stopped_unlinked(peer: &str) {
    Event::LinkUnsent {
        peer: peer.to_string(),
        records: None,
    }
    .emit();
}

/// How a session ended: why, and whether the link had come up (a link refused at the
/// handshake keeps backing off, so a misconfigured pair does not flap).
struct SessionEnd {
    reason: LinkEnd,
    linked: bool,
}

impl SessionEnd {
    fn before_link(reason: impl Into<LinkEnd>) -> SessionEnd {
        SessionEnd {
            reason: reason.into(),
            linked: false,
        }
    }

    /// A session that got past the handshake; `linked` once its catch-up started (and the
    /// link was logged up).
    fn ended(linked: bool, reason: impl Into<LinkEnd>) -> SessionEnd {
        SessionEnd {
            reason: reason.into(),
            linked,
        }
    }
}

/// A dialled connection: handshake, catch-up, streaming; returns why it ended.
async fn session(
    peer: &str,
    stream: BoxStream,
    shared: &Shared,
    shutdown: &mut Shutdown,
) -> SessionEnd {
    let limits = &shared.limits;
    let (
        Handshaken {
            their_epoch,
            seq,
            their_digest,
        },
        (mut reader, mut writer),
    ) = match dial_handshake(peer, stream, shared, shutdown).await {
        Ok(handshaken) => handshaken,
        Err(end) => return end,
    };
    // They compare whole tables when they sent a digest. If we hold nothing while they hold
    // something, we restarted and a refill of our table is coming: compare only once it is
    // in, or we would stream to them as news what it brings. Meanwhile the link idles with
    // heartbeats, for at most `fill_wait`. (Only an empty dialler waits, and an empty dialler
    // fills no one, so two servers never wait for each other.)
    let refill_coming =
        their_digest.as_ref().is_some_and(|d| !d.is_empty()) && shared.store().is_empty();
    let settled = tokio::time::timeout(limits.fill_wait(), async move {
        if refill_coming {
            shared.refill_settled().await;
        }
    });
    tokio::pin!(settled);
    let this_life = link_key(peer, their_epoch);
    let mut catch_up: Option<CatchUp> = None;
    let mut changes = shared.watch_changes();
    let mut cursor = seq;
    // The last `MARK` sent: the neighbour's resume point for us.
    let mut marked = seq;

    let mut heartbeat = tokio::time::interval(limits.heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    let mut ping_seq: u64 = 0;
    loop {
        // A `MARK` names only changes the link has sent (or skipped).
        debug_assert!(
            marked <= cursor,
            "MARK {marked} ran ahead of the cursor {cursor}"
        );
        let head = *changes.borrow_and_update();
        let caught_up = cursor >= head;
        let streaming = catch_up.is_some();
        tokio::select! {
            _ = shutdown.wait() => {
                if let Some(catch_up) = &catch_up {
                    let place = Place { cursor, marked };
                    drain(shared, peer, catch_up, place, &mut reader, &mut writer).await;
                }
                return SessionEnd::ended(catch_up.is_some(), LinkEnd::Shutdown);
            }
            _ = &mut settled, if !streaming => {
                catch_up = Some(CatchUp::start(shared, peer, seq, &this_life, their_digest.clone()));
            }
            changed = changes.changed(), if streaming && caught_up => {
                if changed.is_err() {
                    return SessionEnd::ended(catch_up.is_some(), LinkEnd::ServerStopping);
                }
                // Let the tasks that are ready run first: the change that woke us is rarely
                // the only one coming, and under load the batch grows from one record to
                // many, so a link makes one write where it would make dozens.
                tokio::task::yield_now().await;
            }
            _ = std::future::ready(()), if streaming && !caught_up => {
                let Some(catch_up) = &catch_up else { continue };
                let mut place = Place { cursor, marked };
                if let Err(reason) = send_batch(shared, peer, catch_up, &mut place, &mut writer).await {
                    return SessionEnd::ended(true, reason);
                }
                (cursor, marked) = (place.cursor, place.marked);
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() >= limits.heartbeat_timeout {
                    return SessionEnd::ended(catch_up.is_some(), LinkEnd::HeartbeatTimeout);
                }
                ping_seq += 1;
                let mut ping = format!("PING {ping_seq}\n");
                if cursor > marked {
                    ping = format!("MARK {cursor}\n{ping}");
                    marked = cursor;
                }
                if let Err(reason) = write_lines(&mut writer, ping.as_bytes(), limits.heartbeat_timeout).await {
                    return SessionEnd::ended(catch_up.is_some(), reason);
                }
            }
            line = reader.read_line() => match line {
                Ok(Some(Line::Complete(_))) => last_heard = tokio::time::Instant::now(),
                Ok(Some(Line::TooLong { .. })) => {}
                Ok(None) => return SessionEnd::ended(catch_up.is_some(), LinkEnd::ClosedByPeer),
                Err(e) => return SessionEnd::ended(catch_up.is_some(), LinkEnd::Io(e.to_string())),
            },
        }
    }
}

/// Where a session is in the change sequence: what it has sent (`cursor`) and the last
/// `MARK` the neighbour got.
#[derive(Debug, Clone, Copy)]
struct Place {
    cursor: u64,
    marked: u64,
}

/// Sends the next batch after the cursor (records the catch-up skips left out), with its
/// `MARK`; returns how many records went.
async fn send_batch<W: tokio::io::AsyncWrite + Unpin>(
    shared: &Shared,
    peer: &str,
    catch_up: &CatchUp,
    place: &mut Place,
    writer: &mut W,
) -> Result<usize, LinkEnd> {
    let limits = &shared.limits;
    let skip = |held: Held<'_>| catch_up.skips(held);
    let batch = {
        let store = shared.store();
        let upto = shared.stream_head(&store);
        store.changes_upto(place.cursor, upto, limits.link_batch_max, skip)
    };
    for (seq, fields) in batch.fields() {
        if seq > catch_up.head {
            Event::emit_flood_sent(peer, fields);
        }
    }
    let sent = batch.records.len();
    shared.metrics.records_sent(peer, sent as u64);
    let mut out = batch.lines;
    // A `MARK` goes with every batch of records, and when the catch-up is in (the neighbour
    // may be waiting for it). A batch of only skipped records (news that came from this
    // neighbour) sends nothing: the next heartbeat carries its `MARK`.
    let catch_up_in = place.marked < catch_up.head && batch.reached >= catch_up.head;
    if !out.is_empty() || catch_up_in {
        let _ = writeln!(out, "MARK {}", batch.reached);
        shared.buggify.delay_batch().await;
        let cut = shared.buggify.short_write(&mut out);
        write_lines(writer, out.as_bytes(), limits.heartbeat_timeout).await?;
        if let Some(point) = shared.buggify.after_batch(cut) {
            return Err(LinkEnd::Io(Buggify::reason(point)));
        }
        place.marked = batch.reached;
    }
    debug_assert!(
        batch.reached >= place.cursor,
        "the cursor {} moved back to {}",
        place.cursor,
        batch.reached
    );
    place.cursor = batch.reached;
    shared.metrics.link_cursor(peer, place.cursor);
    Ok(sent)
}

/// The `PING` a drain ends with (heartbeats count from 1): its `PONG` says the neighbour has
/// read, and so stored, every line before it.
const DRAIN_PING: u64 = 0;

/// On a stop: sends every change up to the head of the change sequence, then a `PING` whose
/// `PONG` confirms the neighbour read it all (closing sooner could reset the connection and
/// lose what it had not read yet), all within `stop_grace`; then says how many went and how
/// many could not (all those of this drain, when the neighbour never confirmed).
async fn drain<R, W>(
    shared: &Shared,
    peer: &str,
    catch_up: &CatchUp,
    mut place: Place,
    reader: &mut LineReader<R>,
    writer: &mut W,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let head = shared.stream_head(&shared.store());
    let from = place.cursor;
    let mut sent = 0u64;
    let sending = async {
        while place.cursor < head {
            sent += send_batch(shared, peer, catch_up, &mut place, writer).await? as u64;
        }
        let mut last = format!("PING {DRAIN_PING}\n");
        if place.cursor > place.marked {
            last = format!("MARK {}\n{last}", place.cursor);
        }
        write_lines(writer, last.as_bytes(), shared.limits.heartbeat_timeout).await?;
        loop {
            match reader.read_line().await {
                Ok(Some(Line::Complete(line)))
                    if line == format!("PONG {DRAIN_PING}").as_bytes() =>
                {
                    return Ok(());
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err(LinkEnd::ClosedByPeer),
                Err(e) => return Err(LinkEnd::Io(e.to_string())),
            }
        }
    };
    let confirmed = matches!(
        tokio::time::timeout(shared.limits.stop_grace, sending).await,
        Ok(Ok(()))
    );
    let unsent_from = if confirmed { place.cursor } else { from };
    let unsent = shared
        .store()
        .count_after(unsent_from, |held| held.seq > head || catch_up.skips(held))
        as u64;
    if sent > 0 {
        Event::LinkDrained {
            peer: peer.to_string(),
            sent,
        }
        .emit();
    }
    if unsent > 0 {
        Event::LinkUnsent {
            peer: peer.to_string(),
            records: Some(unsent),
        }
        .emit();
    }
}

/// What the handshake learned: the neighbour's life, the last change of ours it holds (0:
/// none), and its table's digest when it compares whole tables.
struct Handshaken {
    their_epoch: u64,
    seq: u64,
    their_digest: Option<TableDigest>,
}

/// The connection's two halves, read by lines.
type Halves = (LineReader<ReadHalf<BoxStream>>, WriteHalf<BoxStream>);

/// The dialler's half of the handshake: `PEER`, the neighbour's `HELLO`, TLS (this end checks
/// that the neighbour's certificate is the herd's and for `peer`; the other end checks ours),
/// then inside it our `AUTH` with our head, and its `LINKED`: nothing is sent to a neighbour
/// whose certificate is not taken.
async fn dial_handshake(
    peer: &str,
    stream: BoxStream,
    shared: &Shared,
    shutdown: &mut Shutdown,
) -> Result<(Handshaken, Halves), SessionEnd> {
    let limits = &shared.limits;
    // The neighbour linking in to us from here on says it is up and reaches us (see below).
    let linked_in = shared.until_linked_in(peer);
    let (read_half, mut writer) = tokio::io::split(stream);
    let mut reader = LineReader::new(read_half, limits.line_bytes_max);
    let hello = format!("PEER {} {}\n", shared.name, shared.epoch);
    if let Err(reason) = write_lines(&mut writer, hello.as_bytes(), limits.heartbeat_timeout).await
    {
        return Err(SessionEnd::before_link(reason));
    }
    match read_reply(&mut reader, limits.heartbeat_timeout, shutdown).await {
        Ok(Command::Hello) => {}
        Ok(other) => {
            return Err(SessionEnd::before_link(LinkEnd::Handshake(format!(
                "expected HELLO, got {other}"
            ))));
        }
        Err(Refused::Line(line)) if line.starts_with(b"? PEER") => {
            return Err(SessionEnd::before_link(LinkEnd::SpeaksClassic));
        }
        Err(refused) => return Err(SessionEnd::before_link(refused.reason())),
    }
    let (mut reader, mut writer) = match &shared.tls {
        Some(tls) => start_tls(peer, tls, reader, writer, shared, shutdown).await?,
        None => (reader, writer),
    };
    // The head now: once a `MARK` reaches it, the neighbour knows our catch-up is in. And our
    // epoch again, under TLS this time: the `PEER` line said it in clear.
    let auth = Command::Auth {
        head: shared.stream_head(&shared.store()),
        epoch: shared.epoch,
    };
    if let Err(reason) = write_lines(
        &mut writer,
        format!("{auth}\n").as_bytes(),
        limits.heartbeat_timeout,
    )
    .await
    {
        return Err(SessionEnd::before_link(reason));
    }
    // The neighbour may hold `LINKED` back while a refill of its table comes in, so
    // the wait allows `fill_wait` more than an answer's `heartbeat_timeout`. Once it has
    // linked in to us, it is up and reaches us: an `AUTH` it has left unanswered for
    // `heartbeat_timeout` was swallowed by a cut, or reached a life of it that has since
    // crashed; redialling then links at once, where waiting out the rest could not.
    let asked = tokio::time::Instant::now();
    let linked_timeout = limits.heartbeat_timeout + limits.fill_wait();
    let reached_us = async {
        linked_in.await;
        tokio::time::sleep_until(asked + limits.heartbeat_timeout).await;
    };
    let reply = tokio::select! {
        biased;
        reply = read_reply(&mut reader, linked_timeout, shutdown) => reply,
        () = reached_us => Err(Refused::Other(LinkEnd::HandshakeTimedOut)),
    };
    let handshaken = match reply {
        Ok(Command::Linked { epoch, seq, digest }) => Handshaken {
            their_epoch: epoch,
            seq,
            their_digest: digest,
        },
        Ok(other) => {
            return Err(SessionEnd::before_link(LinkEnd::Handshake(format!(
                "expected LINKED, got {other}"
            ))));
        }
        Err(refused) => return Err(SessionEnd::before_link(refused.reason())),
    };
    Ok((handshaken, (reader, writer)))
}

/// TLS on the connection, as the client: within `heartbeat_timeout`, the neighbour's
/// certificate chains to the herd's CA and names `peer`, and it takes ours.
async fn start_tls(
    peer: &str,
    tls: &super::tls::LinkTls,
    reader: LineReader<ReadHalf<BoxStream>>,
    writer: WriteHalf<BoxStream>,
    shared: &Shared,
    shutdown: &mut Shutdown,
) -> Result<Halves, SessionEnd> {
    let limits = &shared.limits;
    // The neighbour sends nothing after `HELLO` until our TLS hello: bytes here are not its.
    let Some(read_half) = reader.into_inner() else {
        return Err(SessionEnd::before_link(LinkEnd::Handshake(
            "bytes after HELLO before TLS".into(),
        )));
    };
    let stream = read_half.unsplit(writer);
    let connected = tokio::select! {
        connected = tokio::time::timeout(limits.heartbeat_timeout, tls.connect(peer, stream)) => {
            connected
        }
        _ = shutdown.wait() => return Err(SessionEnd::before_link(LinkEnd::Shutdown)),
    };
    match connected {
        Err(_) => Err(SessionEnd::before_link(LinkEnd::HandshakeTimedOut)),
        Ok(Err(e)) if super::tls::alert_received(&e) => {
            Event::PeerAuthRefused {
                peer: peer.to_string(),
            }
            .emit();
            Err(SessionEnd::before_link(LinkEnd::AuthRefused))
        }
        Ok(Err(_)) => {
            Event::PeerAnswerRefused {
                peer: peer.to_string(),
            }
            .emit();
            Err(SessionEnd::before_link(LinkEnd::AnswerRefused))
        }
        Ok(Ok(stream)) => {
            let (read_half, writer) = tokio::io::split(stream);
            Ok((LineReader::new(read_half, limits.line_bytes_max), writer))
        }
    }
}

/// What a session's catch-up sends, fixed when it starts: every change after what the
/// neighbour holds of this life up to `head`, less the buckets where its digest equals ours
/// (it holds those records, or newer ones: what was in its table when it linked stays there
/// or is replaced by something newer). Records it sent us in its current life are skipped (it
/// has them, or something newer). After the catch-up, records it sent in any life are
/// skipped: a newer life than the one this session knows means it restarted and sent them
/// since, and this session is about to fail anyway.
struct CatchUp {
    head: u64,
    /// The neighbour in the life this session knows.
    this_life: Arc<str>,
    /// `"<neighbour> "`: the start of its name in any life.
    any_life: String,
    /// Where the tables differ, when the neighbour compares whole tables.
    differing: Option<DifferingBuckets>,
}

impl CatchUp {
    /// Fixes the catch-up now and says so: the link is up, with this many records to send.
    fn start(
        shared: &Shared,
        peer: &str,
        seq: u64,
        this_life: &Arc<str>,
        their_digest: Option<TableDigest>,
    ) -> CatchUp {
        let store = shared.store();
        let catch_up = CatchUp {
            head: shared.stream_head(&store),
            this_life: this_life.clone(),
            any_life: format!("{peer} "),
            differing: their_digest.map(|theirs| {
                let ours = store.digest(theirs.buckets());
                debug_assert_eq!(
                    ours.buckets(),
                    theirs.buckets(),
                    "digests compared bucket by bucket"
                );
                ours.differing(&theirs)
            }),
        };
        let records =
            store.count_after(seq, |held| held.seq > catch_up.head || catch_up.skips(held));
        Event::PeerUp {
            peer: peer.to_string(),
            direction: Direction::Outbound,
        }
        .emit();
        Event::Reconcile {
            peer: peer.to_string(),
            records: records as u64,
            full: seq == 0,
        }
        .emit();
        shared.metrics.link_cursor(peer, seq);
        shared.metrics.link_up(peer, Direction::Outbound, true);
        shared.metrics.reconciled(peer);
        catch_up
    }

    /// Does the link leave this record out?
    fn skips(&self, held: Held<'_>) -> bool {
        let from_them = held.from.is_some_and(|from| {
            from == &*self.this_life || (held.seq > self.head && from.starts_with(&self.any_life))
        });
        let they_hold = held.seq <= self.head
            && self
                .differing
                .as_ref()
                .is_some_and(|differing| !differing.holds(record_hash(held.text)));
        from_them || they_hold
    }
}

/// Why a handshake reply was not what we wanted.
enum Refused {
    /// A line that is not a link command (e.g. `? PEER ...` from a classic server).
    Line(Vec<u8>),
    Other(LinkEnd),
}

impl Refused {
    fn reason(self) -> LinkEnd {
        match self {
            Refused::Line(line) => {
                LinkEnd::Handshake(format!("unexpected line {:?}", shown(&line)))
            }
            Refused::Other(reason) => reason,
        }
    }
}

/// The neighbour's next handshake line, within `timeout`.
async fn read_reply<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut LineReader<R>,
    timeout: Duration,
    shutdown: &mut Shutdown,
) -> Result<Command, Refused> {
    let line = tokio::select! {
        line = tokio::time::timeout(timeout, reader.read_line()) => line,
        _ = shutdown.wait() => return Err(Refused::Other(LinkEnd::Shutdown)),
    };
    match line {
        Err(_) => Err(Refused::Other(LinkEnd::HandshakeTimedOut)),
        Ok(Err(e)) => Err(Refused::Other(LinkEnd::Io(e.to_string()))),
        Ok(Ok(None)) => Err(Refused::Other(LinkEnd::ClosedDuringHandshake)),
        Ok(Ok(Some(Line::TooLong { prefix }))) => Err(Refused::Line(prefix)),
        Ok(Ok(Some(Line::Complete(bytes)))) => {
            Command::parse_line(&bytes).map_err(|_| Refused::Line(bytes))
        }
    }
}

#[cfg(test)]
mod tests;
