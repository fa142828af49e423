//! The storm, restart and memory figures: batches of pipelined IAMATs (distinct clients) into
//! several servers at once, then the servers' logs until every server holds every record; one
//! server killed and restarted on its port while the herd holds the whole table.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::herd::{Herd, NAMES};
use crate::logs::{Tail, now_us};

/// Lines per write while pipelining: large enough to keep the socket full.
const LINES_PER_WRITE: usize = 256;

pub fn client_id(batch: usize, i: usize) -> String {
    format!("storm{batch}-{i:06}")
}

/// What one pipelined batch saw.
#[derive(Debug, Default)]
pub struct Batch {
    pub replies: u64,
    pub bad: u64,
    pub first_send_us: i64,
    pub last_send_us: i64,
    pub last_reply_us: i64,
    pub error: Option<String>,
}

/// Writes `count` IAMATs of distinct clients as fast as the socket takes them while reading
/// the replies on the same connection; gives up at `deadline`.
pub async fn send_batch(port: u16, batch: usize, count: usize, deadline: Instant) -> Batch {
    let mut out = Batch::default();
    let base_secs = crate::drive::unix_secs().saturating_sub(3600);
    let stream = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(format!("connect: {e}"));
            return out;
        }
    };
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut first_send_us = 0;
    let mut last_send_us = 0;
    let mut last_reply_us = 0;
    let writer = async {
        first_send_us = now_us();
        let mut buf = String::new();
        for start in (0..count).step_by(LINES_PER_WRITE) {
            buf.clear();
            for i in start..(start + LINES_PER_WRITE).min(count) {
                let client = client_id(batch, i);
                buf.push_str(&format!(
                    "IAMAT {client} +34.068930-118.445127 {base_secs}.{i:09}\n"
                ));
            }
            write.write_all(buf.as_bytes()).await?;
        }
        last_send_us = now_us();
        std::io::Result::Ok(())
    };
    let (mut replies, mut bad) = (0u64, 0u64);
    let reader = async {
        let mut read = BufReader::new(read);
        let mut line = String::new();
        while ((replies + bad) as usize) < count {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Err(std::io::Error::other("the server closed the connection"));
            }
            if line.starts_with("AT ") {
                replies += 1;
            } else {
                bad += 1;
            }
        }
        last_reply_us = now_us();
        Ok(())
    };
    let both = async { tokio::try_join!(writer, reader) };
    match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), both).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => out.error = Some(e.to_string()),
        Err(_) => out.error = Some("not every reply arrived in time".into()),
    }
    out.replies = replies;
    out.bad = bad;
    out.first_send_us = first_send_us;
    out.last_send_us = last_send_us;
    out.last_reply_us = last_reply_us;
    out
}

/// Polls the tails until every one has reached its target or `deadline` passed; reading the
/// logs costs CPU the servers share, hence the modest interval. Returns whether all reached.
pub async fn wait_reached(tails: &mut [&mut Tail], deadline: Instant) -> bool {
    loop {
        for tail in tails.iter_mut() {
            if let Err(e) = tail.poll() {
                eprintln!("reading a log: {e}");
            }
        }
        if tails.iter().all(|t| t.reached()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Keeps reading the tails for `settle`, so events that follow convergence (links still
/// reconnecting and reconciling) are counted too.
pub async fn settle(tails: &mut [&mut Tail], settle: Duration) {
    let end = Instant::now() + settle;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        for tail in tails.iter_mut() {
            let _ = tail.poll();
        }
    }
}

/// Whether every server answers `WHATSAT <client> 1 1` with an AT line for the last client of
/// every batch: a check of the log-based figure that does not depend on the log.
pub async fn last_clients_held(herd: &Herd, batches: usize, per_batch: usize) -> Vec<String> {
    let mut missing = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        for batch in 0..batches {
            let client = client_id(batch, per_batch - 1);
            let reply = ask(herd.ports[i], &format!("WHATSAT {client} 1 1\n")).await;
            if !reply.is_some_and(|r| r.starts_with("AT ")) {
                missing.push(format!("{name}:{client}"));
            }
        }
    }
    missing
}

/// How many of a sample of storm clients (every `step`-th of each batch) server `i` does not
/// answer with an AT line: a check of a log-based count that a lossy log writer may lower.
/// Asks for at most 30 s.
pub async fn sample_missing(
    herd: &Herd,
    i: usize,
    batches: usize,
    per_batch: usize,
    step: usize,
) -> (usize, usize) {
    let (mut asked, mut missing) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    for batch in 0..batches {
        for n in (step - 1..per_batch).step_by(step) {
            if Instant::now() > deadline {
                return (asked, missing);
            }
            let client = client_id(batch, n);
            let reply = ask(herd.ports[i], &format!("WHATSAT {client} 1 1\n")).await;
            asked += 1;
            if !reply.is_some_and(|r| r.starts_with("AT ")) {
                missing += 1;
            }
        }
    }
    (asked, missing)
}

async fn ask(port: u16, line: &str) -> Option<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream.write_all(line.as_bytes()).await.ok()?;
        stream.shutdown().await.ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.ok()?;
        Some(reply)
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}
