//! Links to neighbours: one task per neighbour, the flooding rule, reconciliation.
//!
//! A persistent link is two TCP connections, one per direction: each server dials every
//! neighbour and only *sends* records on the connection it dialled, and only *receives* on the
//! ones it accepted. When a dialled connection comes up the dialler sends `PEER <name>` and then
//! its whole table (reconciliation), then flooded records as they come. `PING`/`PONG` every
//! `heartbeat_interval` find connections a partition left half-dead; a link silent for
//! `heartbeat_timeout` is dropped and redialled, which reconciles again. So after any partition
//! heals or any server restarts empty, every pair of connected servers has exchanged tables.
//!
//! A `classic` link speaks the classic herd dialect: one connection per AT line, nothing else,
//! and a record that cannot be delivered is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

use crate::backoff::{Backoff, stable_hash};
use crate::config::Neighbour;
use crate::events::{Direction, Event, LinkEnd};
use crate::line::{Line, LineReader};
use crate::net::{BoxStream, Network};
use crate::protocol::{Command, Record};
use crate::shutdown::Shutdown;
use crate::state::{Shared, Source};

/// Records written to a link per wake-up, so one busy link cannot starve the heartbeat.
const FLOOD_BATCH_MAX: usize = 64;

/// The sending side of every link of one server.
pub struct Peers {
    links: Vec<LinkHandle>,
}

struct LinkHandle {
    name: String,
    classic: bool,
    queue: mpsc::Sender<Record>,
    link: Arc<LinkState>,
}

/// What the flooding side and the link task share.
#[derive(Default)]
struct LinkState {
    /// The dialled connection is up. While it is down nothing is queued: reconciliation on the
    /// next connect sends the whole table anyway.
    connected: AtomicBool,
    /// The queue overflowed: drop the connection and reconnect, so reconciliation resends.
    resync: Notify,
}

/// The task that owns one link; started once the server's shared state exists.
pub struct LinkTask {
    neighbour: Neighbour,
    queue: mpsc::Receiver<Record>,
    link: Arc<LinkState>,
}

impl Peers {
    /// Creates the queues of every link; the tasks are returned to be spawned.
    pub fn new(neighbours: &[Neighbour], queue_max: usize) -> (Peers, Vec<LinkTask>) {
        let mut links = Vec::new();
        let mut tasks = Vec::new();
        for neighbour in neighbours {
            let (tx, rx) = mpsc::channel(queue_max.max(1));
            let link = Arc::new(LinkState::default());
            links.push(LinkHandle {
                name: neighbour.name.clone(),
                classic: neighbour.classic,
                queue: tx,
                link: link.clone(),
            });
            tasks.push(LinkTask {
                neighbour: neighbour.clone(),
                queue: rx,
                link,
            });
        }
        (Peers { links }, tasks)
    }

    /// Is `name` a neighbour on a persistent (non-classic) link?
    pub fn is_persistent_neighbour(&self, name: &str) -> bool {
        self.links.iter().any(|l| l.name == name && !l.classic)
    }

    /// The flooding rule: send a newly stored record to every neighbour but the one it came from.
    pub fn flood(&self, record: &Record, except: Option<&str>) {
        for link in &self.links {
            if Some(link.name.as_str()) == except {
                continue;
            }
            if !link.classic && !link.link.connected.load(Ordering::SeqCst) {
                continue;
            }
            match link.queue.try_send(record.clone()) {
                Ok(()) => Event::FloodSent {
                    peer: link.name.clone(),
                    record: record.clone(),
                }
                .emit(),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    Event::PeerQueueFull {
                        peer: link.name.clone(),
                        client: record.client.clone(),
                    }
                    .emit();
                    if !link.classic {
                        link.link.resync.notify_one();
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}

impl LinkTask {
    pub async fn run(
        self,
        shared: Arc<Shared>,
        net: Arc<dyn Network>,
        seed: u64,
        shutdown: Shutdown,
    ) {
        if self.neighbour.classic {
            self.run_classic(shared, net, shutdown).await
        } else {
            self.run_persistent(shared, net, seed, shutdown).await
        }
    }

    async fn run_persistent(
        mut self,
        shared: Arc<Shared>,
        net: Arc<dyn Network>,
        seed: u64,
        mut shutdown: Shutdown,
    ) {
        let limits = &shared.limits;
        let link_seed = seed ^ stable_hash(&[&shared.name, &self.neighbour.name]);
        let mut backoff = Backoff::new(limits.backoff_min, limits.backoff_max, link_seed);
        let mut failures_in_a_row = 0u32;
        loop {
            let dial = tokio::time::timeout(
                limits.peer_connect_timeout,
                net.connect(&self.neighbour.host, self.neighbour.port),
            );
            let dialled = tokio::select! {
                dialled = dial => dialled,
                _ = shutdown.wait() => return,
            };
            let error = match dialled {
                Ok(Ok(stream)) => {
                    backoff.reset();
                    failures_in_a_row = 0;
                    let reason = self.session(stream, &shared, &mut shutdown).await;
                    self.link.connected.store(false, Ordering::SeqCst);
                    Event::PeerDown {
                        peer: self.neighbour.name.clone(),
                        direction: Direction::Outbound,
                        reason,
                    }
                    .emit();
                    if shutdown.is_triggered() {
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
                // The first failure of a series is news; the retries that follow are detail.
                let event = Event::PeerConnectFailed {
                    peer: self.neighbour.name.clone(),
                    error,
                    retry_ms: delay.as_millis() as u64,
                    client: None,
                };
                if failures_in_a_row == 1 {
                    event.emit();
                } else {
                    event.emit_detail();
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// One dialled connection, from `PEER` + reconciliation to its end; returns why it ended.
    async fn session(
        &mut self,
        stream: BoxStream,
        shared: &Shared,
        shutdown: &mut Shutdown,
    ) -> LinkEnd {
        let limits = &shared.limits;
        let peer = self.neighbour.name.clone();
        let (read_half, mut write_half) = tokio::io::split(stream);
        let mut reader = LineReader::new(read_half, limits.line_bytes_max);

        // Order matters: mark connected, forget what was queued, then snapshot the table. A
        // record stored before the snapshot is in it; one stored after is queued.
        self.link.connected.store(true, Ordering::SeqCst);
        while self.queue.try_recv().is_ok() {}
        let mut hello = format!("PEER {}\n", shared.name);
        let mut records = 0usize;
        for record in shared.store().records() {
            hello.push_str(&record.to_string());
            hello.push('\n');
            records += 1;
        }
        if let Err(reason) =
            write_bounded(&mut write_half, hello.as_bytes(), limits.heartbeat_timeout).await
        {
            return reason;
        }
        Event::PeerUp {
            peer: peer.clone(),
            direction: Direction::Outbound,
        }
        .emit();
        Event::Reconcile {
            peer,
            records: records as u64,
        }
        .emit();

        let mut heartbeat = tokio::time::interval(limits.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut last_heard = tokio::time::Instant::now();
        let mut ping_seq: u64 = 0;
        loop {
            tokio::select! {
                _ = shutdown.wait() => return LinkEnd::Shutdown,
                _ = self.link.resync.notified() => return LinkEnd::QueueFull,
                record = self.queue.recv() => {
                    let Some(record) = record else { return LinkEnd::ServerStopping };
                    let mut out = format!("{record}\n");
                    let mut batched = 1;
                    while batched < FLOOD_BATCH_MAX {
                        let Ok(record) = self.queue.try_recv() else { break };
                        out.push_str(&format!("{record}\n"));
                        batched += 1;
                    }
                    if let Err(reason) = write_bounded(&mut write_half, out.as_bytes(), limits.heartbeat_timeout).await {
                        return reason;
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() >= limits.heartbeat_timeout {
                        return LinkEnd::HeartbeatTimeout;
                    }
                    ping_seq += 1;
                    let ping = format!("PING {ping_seq}\n");
                    if let Err(reason) = write_bounded(&mut write_half, ping.as_bytes(), limits.heartbeat_timeout).await {
                        return reason;
                    }
                }
                line = reader.read_line() => match line {
                    Ok(Some(Line::Complete(bytes))) => {
                        if let Ok(Command::Pong(_)) = Command::parse_line(&bytes) {
                            last_heard = tokio::time::Instant::now();
                        }
                    }
                    Ok(Some(Line::TooLong { .. })) => {}
                    Ok(None) => return LinkEnd::ClosedByPeer,
                    Err(e) => return LinkEnd::Io(e.to_string()),
                },
            }
        }
    }

    /// The classic dialect: a fresh connection per record; an undeliverable record is lost.
    async fn run_classic(
        mut self,
        shared: Arc<Shared>,
        net: Arc<dyn Network>,
        mut shutdown: Shutdown,
    ) {
        let peer = self.neighbour.name.clone();
        let mut reachable: Option<bool> = None;
        loop {
            let record = tokio::select! {
                record = self.queue.recv() => record,
                _ = shutdown.wait() => return,
            };
            let Some(record) = record else { return };
            let line = format!("{record}\n");
            let send = async {
                let mut stream = net
                    .connect(&self.neighbour.host, self.neighbour.port)
                    .await?;
                stream.write_all(line.as_bytes()).await?;
                stream.shutdown().await
            };
            match tokio::time::timeout(shared.limits.peer_connect_timeout, send).await {
                Ok(Ok(())) => {
                    if reachable != Some(true) {
                        Event::PeerUp {
                            peer: peer.clone(),
                            direction: Direction::Outbound,
                        }
                        .emit();
                    }
                    reachable = Some(true);
                }
                Ok(Err(e)) => {
                    classic_lost(&peer, &record, LinkEnd::Io(e.to_string()), &mut reachable);
                }
                Err(_) => classic_lost(&peer, &record, LinkEnd::ConnectTimedOut, &mut reachable),
            }
        }
    }
}

fn classic_lost(peer: &str, record: &Record, error: LinkEnd, reachable: &mut Option<bool>) {
    if *reachable != Some(false) {
        Event::PeerDown {
            peer: peer.to_string(),
            direction: Direction::Outbound,
            reason: error.clone(),
        }
        .emit();
    }
    Event::PeerConnectFailed {
        peer: peer.to_string(),
        error: error.to_string(),
        retry_ms: 0,
        client: Some(record.client.clone()),
    }
    .emit();
    *reachable = Some(false);
}

/// Writes all of `bytes`, or says why not; a peer that stops reading cannot block us forever.
async fn write_bounded<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
    bound: Duration,
) -> Result<(), LinkEnd> {
    match tokio::time::timeout(bound, writer.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(LinkEnd::Io(e.to_string())),
        Err(_) => Err(LinkEnd::WriteTimedOut),
    }
}

/// The accepting side of a persistent link, after the neighbour said `PEER <name>`: records
/// in, `PONG` out; silence for `heartbeat_timeout` ends it.
pub async fn serve_inbound<R, W>(
    shared: &Shared,
    peer: &str,
    reader: &mut LineReader<R>,
    writer: &mut W,
    shutdown: &mut Shutdown,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    Event::PeerUp {
        peer: peer.to_string(),
        direction: Direction::Inbound,
    }
    .emit();
    let timeout = shared.limits.heartbeat_timeout;
    let reason = loop {
        let line = tokio::select! {
            _ = shutdown.wait() => break LinkEnd::Shutdown,
            line = tokio::time::timeout(timeout, reader.read_line()) => line,
        };
        match line {
            Err(_) => break LinkEnd::HeartbeatTimeout,
            Ok(Err(e)) => break LinkEnd::Io(e.to_string()),
            Ok(Ok(None)) => break LinkEnd::ClosedByPeer,
            Ok(Ok(Some(Line::TooLong { .. }))) => {}
            Ok(Ok(Some(Line::Complete(bytes)))) => match Command::parse_line(&bytes) {
                Ok(Command::At(record)) => {
                    shared.ingest(record, Source::Peer(peer.to_string()));
                }
                Ok(Command::Ping(n)) => {
                    if let Err(reason) =
                        write_bounded(writer, format!("PONG {n}\n").as_bytes(), timeout).await
                    {
                        break reason;
                    }
                }
                _ => {
                    tracing::debug!(peer, line = %String::from_utf8_lossy(&bytes), "ignoring a line a neighbour sent")
                }
            },
        }
    };
    Event::PeerDown {
        peer: peer.to_string(),
        direction: Direction::Inbound,
        reason,
    }
    .emit();
}
