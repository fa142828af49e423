//! The fault proxy: one loopback listener per directed link (a server dialling a neighbour, or
//! the Places mock), forwarding to the real port, where network faults happen the way turmoil
//! makes them: a cut drops bytes silently (connections stay open, heartbeats find the cut), a
//! hold buffers them until release, latency delays each chunk, and a crash silences every
//! connection of the crashed server without a FIN or reset reaching the other side. The
//! attacker of `tamper` steps sits here too: it injects, replays or alters a chunk as the
//! simulation's does ([`Tampering`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::scenario::TamperMode;
use crate::simnet::tamper::Tampering;

/// Bytes read from one side at a time (a "chunk": the proxy's message).
const CHUNK_BYTES_MAX: usize = 16 * 1024;
/// Bytes a hold keeps per direction of a connection; beyond it the proxy stops reading, so the
/// sender feels TCP back-pressure instead of the harness buffering without bound.
const HOLD_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Connections per link at once; one more is closed at once.
const CONNECTIONS_PER_LINK_MAX: usize = 256;

/// What one direction of a link does to the bytes on it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    /// Bytes (and FINs) are dropped.
    pub cut: bool,
    /// Bytes are buffered until the hold ends.
    pub held: bool,
    /// Each chunk waits a time drawn from `min..=max`.
    pub latency: (Duration, Duration),
}

/// The proxy of one run. Dropping it closes every listener and connection.
pub struct FaultProxy {
    /// (from, to) -> the state of that direction; created on first use.
    states: Mutex<BTreeMap<(String, String), watch::Sender<LinkState>>>,
    /// Server -> incarnation, bumped by a crash: a connection made before it goes silent.
    incarnations: Mutex<BTreeMap<String, watch::Sender<u64>>>,
    default_latency: (Duration, Duration),
    seed: u64,
    /// The attacker on the links' path (`None` when no `tamper` step exists).
    tampering: Option<Tampering>,
    tasks: Mutex<JoinSet<()>>,
}

impl FaultProxy {
    pub fn new(
        default_latency: (Duration, Duration),
        seed: u64,
        tampering: Option<Tampering>,
    ) -> Arc<FaultProxy> {
        Arc::new(FaultProxy {
            states: Mutex::default(),
            incarnations: Mutex::default(),
            default_latency,
            seed,
            tampering,
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    /// A `tamper` step: `mode` happens to the next chunk `from` sends `to`.
    pub fn tamper(&self, from: &str, to: &str, mode: &TamperMode) {
        if let Some(tampering) = &self.tampering {
            tampering.arm(from, to, mode);
        }
    }

    fn state(&self, from: &str, to: &str) -> watch::Receiver<LinkState> {
        let mut states = self.states.lock().expect("proxy state lock");
        states
            .entry((from.to_string(), to.to_string()))
            .or_insert_with(|| {
                watch::channel(LinkState {
                    cut: false,
                    held: false,
                    latency: self.default_latency,
                })
                .0
            })
            .subscribe()
    }

    /// Changes the state of the direction `from -> to`.
    pub fn update(&self, from: &str, to: &str, change: impl Fn(&mut LinkState)) {
        let _ = self.state(from, to);
        if let Some(sender) = self
            .states
            .lock()
            .expect("proxy state lock")
            .get(&(from.to_string(), to.to_string()))
        {
            sender.send_modify(|s| change(s));
        }
    }

    fn incarnation(&self, host: &str) -> Incarnation {
        let mut all = self.incarnations.lock().expect("proxy incarnation lock");
        let sender = all
            .entry(host.to_string())
            .or_insert_with(|| watch::channel(0).0);
        let rx = sender.subscribe();
        let at_start = *rx.borrow();
        Incarnation { rx, at_start }
    }

    /// `server` crashed: every connection it had goes silent from now on.
    pub fn crash(&self, server: &str) {
        let _ = self.incarnation(server);
        if let Some(sender) = self
            .incarnations
            .lock()
            .expect("proxy incarnation lock")
            .get(server)
        {
            sender.send_modify(|n| *n += 1);
        }
    }

    /// Opens the link `from -> to` (`from` dials): a loopback listener forwarding to `target`.
    /// Returns the port `from` must dial.
    pub async fn add_link(
        self: &Arc<Self>,
        from: &str,
        to: &str,
        target: std::net::SocketAddr,
    ) -> std::io::Result<u16> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        // Weak, so that dropping the last handle drops the tasks and closes everything.
        let (proxy, from, to) = (Arc::downgrade(self), from.to_string(), to.to_string());
        let seed = self.seed ^ server::backoff::stable_hash(&[&from, &to]);
        self.tasks
            .lock()
            .expect("proxy tasks lock")
            .spawn(accept_loop(proxy, listener, from, to, target, seed));
        Ok(port)
    }
}

async fn accept_loop(
    proxy: std::sync::Weak<FaultProxy>,
    listener: TcpListener,
    from: String,
    to: String,
    target: std::net::SocketAddr,
    seed: u64,
) {
    let mut connections = JoinSet::new();
    let mut count: u64 = 0;
    loop {
        let Ok((downstream, _)) = listener.accept().await else {
            // Out of descriptors, say: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Some(proxy) = proxy.upgrade() else {
            return;
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= CONNECTIONS_PER_LINK_MAX {
            continue;
        }
        count += 1;
        let ends = (proxy.incarnation(&from), proxy.incarnation(&to));
        let states = (proxy.state(&from, &to), proxy.state(&to, &from));
        let rng = Rng(seed ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        // Only the dialler's bytes: the connection `from` dials carries its records to `to`.
        let tap = proxy
            .tampering
            .clone()
            .map(|t| Tap(t, from.clone(), to.clone()));
        connections.spawn(async move {
            // Refused upstream (the server is down): close the dialler's connection.
            let Ok(upstream) = TcpStream::connect(target).await else {
                return;
            };
            let _ = (downstream.set_nodelay(true), upstream.set_nodelay(true));
            connect(downstream, upstream, ends, states, rng, tap).await;
        });
    }
}

/// One server's life as a connection saw it: silent once the incarnation moves on.
#[derive(Clone)]
struct Incarnation {
    rx: watch::Receiver<u64>,
    at_start: u64,
}

impl Incarnation {
    fn alive(&self) -> bool {
        *self.rx.borrow() == self.at_start
    }
}

/// How a direction of a connection ended.
enum Pumped {
    /// The source closed and the destination was told: the other direction may go on.
    Closed,
    /// The whole connection is over (a survivor hung up on a crashed peer, or a write failed).
    Abort,
}

async fn connect(
    downstream: TcpStream,
    upstream: TcpStream,
    (dialler, target): (Incarnation, Incarnation),
    (forward, backward): (watch::Receiver<LinkState>, watch::Receiver<LinkState>),
    rng: Rng,
    tap: Option<Tap>,
) {
    let (down_read, down_write) = downstream.into_split();
    let (up_read, up_write) = upstream.into_split();
    let stalled = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let there = pump(
        down_read,
        up_write,
        forward,
        (dialler.clone(), target.clone()),
        (stalled.0.clone(), stalled.1.clone()),
        rng.clone(),
        tap,
    );
    let back = pump(
        up_read,
        down_write,
        backward,
        (target, dialler),
        (stalled.1, stalled.0),
        rng.fork(),
        None,
    );
    tokio::pin!(there, back);
    let (mut there_done, mut back_done) = (false, false);
    while !(there_done && back_done) {
        tokio::select! {
            done = &mut there, if !there_done => {
                if matches!(done, Pumped::Abort) { return; }
                there_done = true;
            }
            done = &mut back, if !back_done => {
                if matches!(done, Pumped::Abort) { return; }
                back_done = true;
            }
        }
    }
}

/// Moves bytes from `source` to `sink` under the direction's state.
///
/// A direction that lost bytes to a cut is *stalled* for good, as a turmoil TCP stream is: it
/// delivers segments in sequence order only, so nothing after the gap (data or FIN) ever
/// arrives, and the receiver's heartbeat must find the dead connection. When that receiver
/// then closes its socket with the gap unfilled, turmoil resets the connection; here the
/// proxy drops both sides. `stalled` is (this direction's flag, the opposite one's).
async fn pump(
    mut source: OwnedReadHalf,
    mut sink: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
    (source_end, sink_end): (Incarnation, Incarnation),
    (stalled, opposite_stalled): (Arc<AtomicBool>, Arc<AtomicBool>),
    mut rng: Rng,
    tap: Option<Tap>,
) -> Pumped {
    let mut buf = vec![0u8; CHUNK_BYTES_MAX];
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut held_bytes = 0usize;
    let mut source_open = true;
    let mut fin_held = false;
    loop {
        tokio::select! {
            read = source.read(&mut buf), if source_open && held_bytes < HOLD_BYTES_MAX => {
                let n = read.unwrap_or(0);
                let now = *state.borrow();
                if n == 0 {
                    source_open = false;
                    if !source_end.alive() || now.cut || stalled.load(Ordering::SeqCst) {
                        // The crashed side's FIN or reset, a FIN on a cut link, or a FIN
                        // behind lost bytes: lost.
                        continue;
                    }
                    if opposite_stalled.load(Ordering::SeqCst) {
                        // The source closes with lost bytes owed to it: a reset.
                        return Pumped::Abort;
                    }
                    if !sink_end.alive() {
                        return Pumped::Abort;
                    }
                    if now.held {
                        fin_held = true;
                        continue;
                    }
                    let _ = sink.shutdown().await;
                    return Pumped::Closed;
                }
                if now.cut && source_end.alive() && sink_end.alive() {
                    stalled.store(true, Ordering::SeqCst);
                }
                if !source_end.alive() || !sink_end.alive() || now.cut || stalled.load(Ordering::SeqCst) {
                    continue;
                }
                // The attacker stands before the hold and the latency, as on a wire.
                let tampered = tap.as_ref().and_then(|t| t.0.on_chunk(&t.1, &t.2, &buf[..n]));
                let chunk = tampered.as_deref().unwrap_or(&buf[..n]);
                if now.held {
                    held.push(chunk.to_vec());
                    held_bytes += chunk.len();
                    continue;
                }
                let delay = rng.between(now.latency);
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if source_end.alive() && sink_end.alive() && sink.write_all(chunk).await.is_err() {
                    return Pumped::Abort;
                }
            }
            changed = state.changed() => {
                if changed.is_err() {
                    return Pumped::Abort;
                }
                let now = *state.borrow_and_update();
                if now.held || (held.is_empty() && !fin_held) {
                    continue;
                }
                for chunk in held.drain(..) {
                    if now.cut && source_end.alive() && sink_end.alive() {
                        stalled.store(true, Ordering::SeqCst);
                    }
                    if now.cut || !source_end.alive() || !sink_end.alive() {
                        break;
                    }
                    if sink.write_all(&chunk).await.is_err() {
                        return Pumped::Abort;
                    }
                }
                held_bytes = 0;
                if std::mem::take(&mut fin_held) && !now.cut && !stalled.load(Ordering::SeqCst) {
                    let _ = sink.shutdown().await;
                    return Pumped::Closed;
                }
            }
        }
    }
}

/// The attacker on one direction of a connection: (the attacker, from, to).
struct Tap(Tampering, String, String);

/// A small seeded generator for per-chunk latency (splitmix64).
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fork(&self) -> Rng {
        let mut other = self.clone();
        Rng(other.next())
    }

    fn between(&mut self, (min, max): (Duration, Duration)) -> Duration {
        let span = max.saturating_sub(min).as_micros() as u64;
        let extra = if span == 0 {
            0
        } else {
            self.next() % (span + 1)
        };
        min + Duration::from_micros(extra)
    }
}
