//! The attacker on the herd's network: handshake stallers, and the impostor that takes the
//! address of a server that is down. Both run in either world: over turmoil inside the
//! simulation, on 127.0.0.1 in real mode. Each leaves summary events in the trace, and the
//! impostor one event per line a server sent it (the `leak` checker reads them).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use server::line::{Line, LineReader};
use server::net::BoxStream;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;

use crate::recorder::Recorder;
use crate::scenario::Stall;
use crate::trace::{SimEvent, TraceEvent};

/// The impostor reads lines of at most this many bytes (a record line is far shorter).
const IMPOSTOR_LINE_BYTES_MAX: usize = 64 * 1024;
/// The impostor reports at most this many lines per connection: enough to show a leak.
const IMPOSTOR_LINES_MAX: usize = 64;
/// The epoch a staller claims.
const STALLER_EPOCH: u64 = 1;

/// Dials `server` at `port`: over turmoil in the simulation, on 127.0.0.1 outside it.
async fn connect(server: &str, port: u16) -> std::io::Result<BoxStream> {
    if turmoil::sim_elapsed().is_some() {
        Ok(Box::new(
            turmoil::net::TcpStream::connect((server, port)).await?,
        ))
    } else {
        Ok(Box::new(
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await?,
        ))
    }
}

/// Opens `per_second` connections a second to `server` for the stall's length, each saying
/// `PEER <as> 1` and then nothing; each is held until the server closes it or the stall
/// ends. Records one `hostile_stall` event when it is over.
pub async fn stall(id: u64, server: String, port: u16, stall: Stall, recorder: Recorder) {
    let count = u64::from(stall.per_second) * stall.stall_for.as_millis() as u64 / 1000;
    let every = Duration::from_secs(1) / stall.per_second;
    let end = tokio::time::Instant::now() + stall.stall_for;
    let opened = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let line = format!("PEER {} {STALLER_EPOCH}\n", stall.name);
    let mut stallers = JoinSet::new();
    let mut tick = tokio::time::interval(every);
    for _ in 0..count {
        tick.tick().await;
        let (server, line) = (server.clone(), line.clone());
        let (opened, failed) = (opened.clone(), failed.clone());
        stallers.spawn(async move {
            let held = async {
                let mut stream = connect(&server, port).await?;
                stream.write_all(line.as_bytes()).await?;
                opened.fetch_add(1, Ordering::Relaxed);
                // Read (and drop) whatever the server says until it closes.
                let mut sink = tokio::io::sink();
                tokio::io::copy(&mut stream, &mut sink).await
            };
            if let Ok(Err(_)) = tokio::time::timeout_at(end, held).await
                && opened.load(Ordering::Relaxed) == 0
            {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        });
        while stallers.try_join_next().is_some() {}
    }
    tokio::time::sleep_until(end).await;
    stallers.shutdown().await;
    recorder.push(TraceEvent::harness(
        recorder.now(),
        SimEvent::HostileStall {
            id,
            server,
            opened: opened.load(Ordering::Relaxed),
            failed: failed.load(Ordering::Relaxed),
        },
    ));
}

/// The impostor at `server`'s address: it accepts the links dialled to `server` and answers
/// their handshake as the accepting side does (`HELLO`, then `LINKED 1 0 - -`), proving nothing,
/// then keeps them alive (`PONG`). Every line it reads but heartbeats is recorded. Runs until
/// dropped.
pub async fn impostor(server: String, port: u16, recorder: Recorder) -> std::io::Result<()> {
    let mut conns = JoinSet::new();
    if turmoil::sim_elapsed().is_some() {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            conns.spawn(answer(stream, server.clone(), recorder.clone()));
            while conns.try_join_next().is_some() {}
        }
    } else {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            conns.spawn(answer(stream, server.clone(), recorder.clone()));
            while conns.try_join_next().is_some() {}
        }
    }
}

/// One connection to the impostor, until it closes.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(stream: S, server: String, recorder: Recorder) {
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = LineReader::new(read, IMPOSTOR_LINE_BYTES_MAX);
    let mut reported = 0usize;
    while let Ok(Some(line)) = reader.read_line().await {
        let bytes = match line {
            Line::Complete(bytes) => bytes,
            Line::TooLong { prefix } => prefix,
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let reply = match text.split_ascii_whitespace().collect::<Vec<_>>()[..] {
            ["PEER", ..] => Some("HELLO 00".to_string()),
            ["AUTH", ..] => Some("LINKED 1 0 - -".to_string()),
            ["PING", n] => Some(format!("PONG {n}")),
            _ => None,
        };
        let heartbeat = text.starts_with("PING ") || text.starts_with("MARK ");
        if !heartbeat && reported < IMPOSTOR_LINES_MAX {
            reported += 1;
            recorder.push(TraceEvent::harness(
                recorder.now(),
                SimEvent::ImpostorGot {
                    server: server.clone(),
                    line: text,
                },
            ));
        }
        if let Some(reply) = reply
            && write
                .write_all(format!("{reply}\n").as_bytes())
                .await
                .is_err()
        {
            return;
        }
    }
}
