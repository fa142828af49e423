//! Closed-loop IAMAT load: each worker sends one line, waits for its reply line and repeats until
//! the deadline, on one persistent connection or on a new connection per command, or keeps a
//! window of lines outstanding on one connection (pipelined); latencies of the replies that
//! complete after the warm-up are kept for percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A reply that takes longer than this ends its worker: the figure would be meaningless anyway.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    Persistent,
    PerCommand,
    /// One connection per worker with this many lines outstanding: a new line goes as soon as
    /// a reply comes back.
    Pipelined(usize),
}

/// What a correct reply looks like.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The herd: `AT ...`.
    At,
    /// The echo baseline: the line itself.
    Echo,
}

pub struct Plan {
    /// Workers go round-robin over these ports.
    pub ports: Vec<u16>,
    pub workers: usize,
    pub conn: Conn,
    pub check: Check,
    pub warmup: Duration,
    pub measure: Duration,
    /// Worker `i` reports as client `{prefix}-{i}`, with a newer timestamp every time, so
    /// every IAMAT is stored and flooded: a moving client, the herd's real work.
    pub client_prefix: String,
    /// Commands sent in all, over all workers: bounds the sockets a per-command run leaves in
    /// TIME_WAIT when the deadline alone would allow too many.
    pub commands_max: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Correct replies completed after the warm-up.
    pub replies: u64,
    /// Wrong replies (`? ...` or other text) completed after the warm-up.
    pub bad: u64,
    /// Workers that ended on an error or timeout, with the first such error.
    pub failed_workers: u64,
    pub first_failure: Option<String>,
    /// From the end of the warm-up to the last counted reply.
    pub secs: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Stats {
    pub fn throughput(&self) -> f64 {
        if self.secs > 0.0 {
            (self.replies + self.bad) as f64 / self.secs
        } else {
            0.0
        }
    }
}

#[derive(Default)]
struct Worker {
    latencies_us: Vec<u64>,
    replies: u64,
    bad: u64,
    last_done: Option<Instant>,
    failure: Option<String>,
}

pub async fn run(plan: &Plan) -> Stats {
    let from = Instant::now() + plan.warmup;
    let end = from + plan.measure;
    let sent = Arc::new(AtomicU64::new(0));
    let base_secs = unix_secs().saturating_sub(3600);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..plan.workers {
        let port = plan.ports[i % plan.ports.len()];
        let client = format!("{}-{i}", plan.client_prefix);
        let (conn, check, max, sent) = (plan.conn, plan.check, plan.commands_max, sent.clone());
        set.spawn(async move {
            let mut w = Worker::default();
            let limits = Limits {
                from,
                end,
                sent,
                max,
            };
            let result = match conn {
                Conn::Persistent => {
                    persistent(port, &client, base_secs, check, &limits, &mut w).await
                }
                Conn::PerCommand => {
                    per_command(port, &client, base_secs, check, &limits, &mut w).await
                }
                Conn::Pipelined(window) => {
                    let load = Pipeline {
                        port,
                        client: &client,
                        base_secs,
                        check,
                        window,
                    };
                    pipelined(&load, &limits, &mut w).await
                }
            };
            if let Err(e) = result {
                w.failure = Some(e);
            }
            w
        });
    }
    let mut workers = Vec::new();
    let hard_end = tokio::time::Instant::from_std(end + REPLY_TIMEOUT + Duration::from_secs(5));
    while let Ok(Some(done)) = tokio::time::timeout_at(hard_end, set.join_next()).await {
        if let Ok(w) = done {
            workers.push(w);
        }
    }
    set.abort_all();
    merge(workers, from)
}

struct Limits {
    from: Instant,
    end: Instant,
    sent: Arc<AtomicU64>,
    max: u64,
}

impl Limits {
    /// Whether another command may go: before the deadline and within the count.
    fn another(&self) -> bool {
        Instant::now() < self.end && self.sent.fetch_add(1, Ordering::Relaxed) < self.max
    }
}

/// The `seq`-th report of `client`: one nanosecond newer than the one before.
fn iamat(client: &str, base_secs: u64, seq: u64) -> String {
    format!(
        "IAMAT {client} +34.068930-118.445127 {}.{:09}\n",
        base_secs + seq / 1_000_000_000,
        seq % 1_000_000_000
    )
}

fn judge(check: Check, sent: &str, reply: &str, started: Instant, limits: &Limits, w: &mut Worker) {
    let done = Instant::now();
    if done < limits.from {
        return;
    }
    let ok = match check {
        Check::At => reply.starts_with("AT ") && reply.ends_with('\n'),
        Check::Echo => reply == sent,
    };
    if ok {
        w.replies += 1;
    } else {
        w.bad += 1;
    }
    w.latencies_us
        .push(done.duration_since(started).as_micros() as u64);
    w.last_done = Some(done);
}

async fn persistent(
    port: u16,
    client: &str,
    base_secs: u64,
    check: Check,
    limits: &Limits,
    w: &mut Worker,
) -> Result<(), String> {
    let stream = connect(port).await?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut reply = String::new();
    let mut seq = 0u64;
    while limits.another() {
        let line = iamat(client, base_secs, seq);
        seq += 1;
        let started = Instant::now();
        reply.clear();
        let exchange = async {
            write.write_all(line.as_bytes()).await?;
            read.read_line(&mut reply).await
        };
        match tokio::time::timeout(REPLY_TIMEOUT, exchange).await {
            Ok(Ok(0)) => return Err("the server closed the connection".into()),
            Ok(Ok(_)) => judge(check, &line, &reply, started, limits, w),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no reply within {REPLY_TIMEOUT:?}")),
        }
    }
    Ok(())
}

/// One pipelining worker's connection and load.
struct Pipeline<'a> {
    port: u16,
    client: &'a str,
    base_secs: u64,
    check: Check,
    window: usize,
}

/// Keeps `window` IAMATs outstanding: tops the window up in one write, then reads one reply,
/// which must answer the oldest line outstanding.
async fn pipelined(load: &Pipeline<'_>, limits: &Limits, w: &mut Worker) -> Result<(), String> {
    let stream = connect(load.port).await?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut outstanding: std::collections::VecDeque<(String, Instant)> = Default::default();
    let mut reply = String::new();
    let mut batch = String::new();
    let mut seq = 0u64;
    let mut sending = true;
    loop {
        batch.clear();
        while sending && outstanding.len() < load.window {
            if !limits.another() {
                sending = false;
                break;
            }
            let line = iamat(load.client, load.base_secs, seq);
            seq += 1;
            batch.push_str(&line);
            outstanding.push_back((line, Instant::now()));
        }
        if !batch.is_empty() {
            write
                .write_all(batch.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
        }
        let Some((line, started)) = outstanding.pop_front() else {
            return Ok(());
        };
        reply.clear();
        match tokio::time::timeout(REPLY_TIMEOUT, read.read_line(&mut reply)).await {
            Ok(Ok(0)) => return Err("the server closed the connection".into()),
            Ok(Ok(_)) => judge(load.check, &line, &reply, started, limits, w),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no reply within {REPLY_TIMEOUT:?}")),
        }
    }
}

async fn per_command(
    port: u16,
    client: &str,
    base_secs: u64,
    check: Check,
    limits: &Limits,
    w: &mut Worker,
) -> Result<(), String> {
    let mut reply = String::new();
    let mut seq = 0u64;
    while limits.another() {
        let line = iamat(client, base_secs, seq);
        seq += 1;
        let started = Instant::now();
        reply.clear();
        let exchange = async {
            let stream = connect(port).await?;
            let (read, mut write) = stream.into_split();
            write
                .write_all(line.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            BufReader::new(read)
                .read_line(&mut reply)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(REPLY_TIMEOUT, exchange).await {
            Ok(Ok(0)) => return Err("the server closed the connection".into()),
            Ok(Ok(_)) => judge(check, &line, &reply, started, limits, w),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(format!("no reply within {REPLY_TIMEOUT:?}")),
        }
    }
    Ok(())
}

async fn connect(port: u16) -> Result<TcpStream, String> {
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(stream)
}

fn merge(workers: Vec<Worker>, from: Instant) -> Stats {
    let mut stats = Stats::default();
    let mut all = Vec::new();
    let mut last = None;
    for w in workers {
        stats.replies += w.replies;
        stats.bad += w.bad;
        all.extend(w.latencies_us);
        last = last.max(w.last_done);
        if let Some(failure) = w.failure {
            stats.failed_workers += 1;
            stats.first_failure.get_or_insert(failure);
        }
    }
    all.sort_unstable();
    stats.secs = last.map_or(0.0, |l| l.duration_since(from).as_secs_f64());
    stats.p50_us = percentile(&all, 0.50);
    stats.p99_us = percentile(&all, 0.99);
    stats.max_us = all.last().copied().unwrap_or(0);
    stats
}

/// Nearest rank on sorted samples.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
