//! Bulk clients on the clients host: a load step's pipelined IAMATs and a hostile client's
//! forged lines, huge ids, held connections and links under a name that is no neighbour's. Each step leaves a few summary events in the
//! trace rather than one per command, so a load of thousands stays readable.

use std::time::Duration;

use server::net::BoxStream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::recorder::Recorder;
use crate::scenario::{Hostile, Load};
use crate::trace::{SimEvent, TraceEvent};

/// A hostile reply is kept up to this many bytes (it may echo a huge id).
const HOSTILE_REPLY_BYTES_MAX: usize = 4096;
/// Every bulk connection gives up after this long (simulated).
const BULK_TIMEOUT: Duration = Duration::from_secs(120);

/// The replies to a load connection, counted as they stream in.
#[derive(Default)]
struct Tally {
    replies: u64,
    invalid: u64,
    errors: u64,
}

/// The loopback address bulk clients dial from in real mode: the servers (and the fault
/// proxy that carries their links) use 127.0.0.1, so, as on the simulation's clients host, a
/// hostile client's address is none of the herd's.
const REAL_CLIENTS_ADDRESS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// Dials `server`: over turmoil inside the simulation; outside it (real mode, where every
/// server listens on loopback at its own port) on 127.0.0.1, from [`REAL_CLIENTS_ADDRESS`].
async fn connect(server: &str, port: u16) -> std::io::Result<BoxStream> {
    if turmoil::sim_elapsed().is_some() {
        let stream = turmoil::net::TcpStream::connect((server, port)).await?;
        Ok(Box::new(stream))
    } else {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind((REAL_CLIENTS_ADDRESS, 0).into())?;
        let stream = socket
            .connect((std::net::Ipv4Addr::LOCALHOST, port).into())
            .await?;
        Ok(Box::new(stream))
    }
}

/// The client's clock as IAMAT timestamp text, read at the moment a line is written: the
/// simulated host's clock, or the calendar real mode gives its herd.
pub type ClockText = std::sync::Arc<dyn Fn() -> String + Send + Sync>;

/// Runs a load step: `clients` IAMATs over `connections` connections to `port` on `load.server`.
/// `timestamp` gives each IAMAT its client clock text at the moment it is written.
pub async fn run_load(id: u64, load: Load, port: u16, recorder: Recorder, timestamp: ClockText) {
    let mut tasks = tokio::task::JoinSet::new();
    let connections = load.connections.max(1);
    // Each connection sends every `connections`-th client, paced to its share of the rate.
    let pause = load
        .per_second
        .map(|rate| Duration::from_secs_f64(connections as f64 / f64::from(rate.max(1))));
    for first in 0..connections {
        let (server, prefix) = (load.server.clone(), load.prefix.clone());
        let indices: Vec<usize> = (first..load.clients).step_by(connections).collect();
        let timestamp = timestamp.clone();
        tasks.spawn(async move {
            let exchange = async {
                let stream = connect(&server, port).await?;
                let (read, mut write) = tokio::io::split(stream);
                let writing = async {
                    let mut batch = String::new();
                    for n in &indices {
                        batch.push_str(&format!("IAMAT {prefix}{n} +0+0 {}\n", timestamp()));
                        if let Some(pause) = pause {
                            write.write_all(batch.as_bytes()).await?;
                            batch.clear();
                            tokio::time::sleep(pause).await;
                        }
                    }
                    write.write_all(batch.as_bytes()).await?;
                    write.shutdown().await
                };
                let (written, tally) = tokio::join!(writing, count_replies(read));
                written?;
                tally
            };
            match tokio::time::timeout(BULK_TIMEOUT, exchange).await {
                Ok(Ok(tally)) => tally,
                _ => Tally {
                    errors: 1,
                    ..Tally::default()
                },
            }
        });
    }
    let mut total = Tally::default();
    while let Some(done) = tasks.join_next().await {
        let tally = done.unwrap_or(Tally {
            errors: 1,
            ..Tally::default()
        });
        total.replies += tally.replies;
        total.invalid += tally.invalid;
        total.errors += tally.errors;
    }
    recorder.push(TraceEvent::harness(
        recorder.now(),
        SimEvent::LoadDone {
            id,
            server: load.server.clone(),
            replies: total.replies,
            invalid: total.invalid,
            errors: total.errors,
        },
    ));
}

/// Reads to EOF, counting reply lines and `? ` lines without keeping them.
async fn count_replies<R: AsyncRead + Unpin>(mut read: R) -> std::io::Result<Tally> {
    let mut tally = Tally::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut at_line_start = true;
    let mut first_of_line: Option<u8> = None;
    loop {
        let n = read.read(&mut buf).await?;
        if n == 0 {
            return Ok(tally);
        }
        for &byte in &buf[..n] {
            if at_line_start {
                first_of_line = Some(byte);
                at_line_start = false;
            }
            if byte == b'\n' {
                tally.replies += 1;
                if first_of_line == Some(b'?') {
                    tally.invalid += 1;
                }
                at_line_start = true;
            }
        }
    }
}

/// Runs a hostile step: its lines on one connection, its huge-id IAMAT on another, its link
/// under a borrowed name on a third, and its held connections, each reported in the trace.
/// `certs` are the herd's: a hostile `peer_as` presents the borrowed name's herd certificate,
/// as a member of the herd could (`None`: the herd's links run without TLS).
pub async fn run_hostile(
    id: u64,
    hostile: Hostile,
    (port, peer_port): (u16, u16),
    recorder: Recorder,
    timestamp: ClockText,
    certs: Option<std::sync::Arc<crate::simcerts::SimCerts>>,
) {
    let server = hostile.server.clone();
    if let Some(stall) = hostile.stall.clone() {
        let run = crate::attacker::stall(id, server.clone(), peer_port, stall, recorder.clone());
        tokio::spawn(run);
    }
    if hostile.hold_connections > 0 {
        let (server, recorder) = (server.clone(), recorder.clone());
        let (count, hold_for) = (hostile.hold_connections, hostile.hold_for);
        tokio::spawn(async move { hold(id, &server, port, count, hold_for, &recorder).await });
    }
    if !hostile.lines.is_empty() {
        let bytes: String = hostile.lines.iter().map(|l| format!("{l}\n")).collect();
        for line in &hostile.lines {
            recorder.push(hostile_send(recorder.now(), id, &server, line));
        }
        let to = if hostile.to_peer_port {
            peer_port
        } else {
            port
        };
        exchange(id, &server, to, bytes.into_bytes(), &recorder).await;
    }
    if let Some(bytes) = hostile.huge_id_bytes {
        let line = format!("IAMAT {} +0+0 {}", "h".repeat(bytes), timestamp());
        recorder.push(hostile_send(recorder.now(), id, &server, &line));
        exchange(
            id,
            &server,
            port,
            format!("{line}\n").into_bytes(),
            &recorder,
        )
        .await;
    }
    if let Some(name) = &hostile.peer_as {
        let forged = format!(
            "AT {name} +0.000000000 forged-by-{name} +1+1 {}",
            timestamp()
        );
        let talk = link_as(
            id,
            &server,
            peer_port,
            name,
            certs.as_deref(),
            &forged,
            &recorder,
        );
        let text = match tokio::time::timeout(BULK_TIMEOUT, talk).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => format!("<error: {e}>"),
            Err(_) => "<no reply in time>".into(),
        };
        recorder.push(TraceEvent::harness(
            recorder.now(),
            SimEvent::HostileReply { id, server, text },
        ));
    }
}

/// The epoch a borrowed name's link claims.
const BORROWED_EPOCH: u64 = 1;

/// Opens a link to `server` as `name`: `PEER`, and when the server answers `HELLO`, TLS with
/// `name`'s herd certificate (when the herd has `certs`) and `AUTH`; then the `forged` record,
/// a half-close, and every line read back until the server closes. Returns what was read, one
/// line each.
async fn link_as(
    id: u64,
    server: &str,
    port: u16,
    name: &str,
    certs: Option<&crate::simcerts::SimCerts>,
    forged: &str,
    recorder: &Recorder,
) -> std::io::Result<String> {
    use server::line::LineReader;
    use server::protocol::Command;

    let stream = connect(server, port).await?;
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = LineReader::new(read, HOSTILE_REPLY_BYTES_MAX);
    let mut reply = String::new();
    let peer = format!("PEER {name} {BORROWED_EPOCH}");
    recorder.push(hostile_send(recorder.now(), id, server, &peer));
    write.write_all(format!("{peer}\n").as_bytes()).await?;
    if let Some(first) = read_reply_line(&mut reader, &mut reply).await?
        && let Ok(Command::Hello) = Command::parse_line(&first)
    {
        let setup = certs.and_then(|c| c.with_identity(c.identity(name)?, name, id));
        if let Some(setup) = setup {
            let Some(read) = reader.into_inner() else {
                return Ok(reply);
            };
            let tls = crate::simcerts::attacker_tls(&setup)?;
            let stream = tls.connect(server, read.unsplit(write)).await?;
            let (read, w) = tokio::io::split(stream);
            (reader, write) = (LineReader::new(read, HOSTILE_REPLY_BYTES_MAX), w);
        }
        let auth = format!("AUTH 0 {BORROWED_EPOCH}");
        recorder.push(hostile_send(recorder.now(), id, server, &auth));
        write.write_all(format!("{auth}\n").as_bytes()).await?;
        read_reply_line(&mut reader, &mut reply).await?;
    }
    recorder.push(hostile_send(recorder.now(), id, server, forged));
    write.write_all(format!("{forged}\n").as_bytes()).await?;
    write.shutdown().await?;
    while read_reply_line(&mut reader, &mut reply).await?.is_some() {}
    Ok(reply)
}

/// The next line from `reader` (its prefix, when over the bound), also added to `reply`.
async fn read_reply_line<R: AsyncRead + Unpin>(
    reader: &mut server::line::LineReader<R>,
    reply: &mut String,
) -> std::io::Result<Option<Vec<u8>>> {
    use server::line::Line;
    let line = match reader.read_line().await? {
        Some(Line::Complete(bytes)) => bytes,
        Some(Line::TooLong { prefix }) => prefix,
        None => return Ok(None),
    };
    reply.push_str(&String::from_utf8_lossy(&line));
    reply.push('\n');
    Ok(Some(line))
}

fn hostile_send(at: Duration, id: u64, server: &str, line: &str) -> TraceEvent {
    TraceEvent::harness(
        at,
        SimEvent::HostileSend {
            id,
            server: server.to_string(),
            line: line.to_string(),
        },
    )
}

/// Writes `bytes`, half-closes, reads the reply (kept up to a bound) and records it.
async fn exchange(id: u64, server: &str, port: u16, bytes: Vec<u8>, recorder: &Recorder) {
    let talk = async {
        let mut stream = connect(server, port).await?;
        stream.write_all(&bytes).await?;
        stream.shutdown().await?;
        let mut reply = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            let room = HOSTILE_REPLY_BYTES_MAX.saturating_sub(reply.len());
            reply.extend_from_slice(&buf[..n.min(room)]);
        }
        Ok::<_, std::io::Error>(reply)
    };
    let text = match tokio::time::timeout(BULK_TIMEOUT, talk).await {
        Ok(Ok(reply)) => String::from_utf8_lossy(&reply).into_owned(),
        Ok(Err(e)) => format!("<error: {e}>"),
        Err(_) => "<no reply in time>".into(),
    };
    recorder.push(TraceEvent::harness(
        recorder.now(),
        SimEvent::HostileReply {
            id,
            server: server.to_string(),
            text,
        },
    ));
}

/// Opens `count` connections and holds them, silent, for `hold_for` (or for good).
async fn hold(
    id: u64,
    server: &str,
    port: u16,
    count: usize,
    hold_for: Option<Duration>,
    recorder: &Recorder,
) {
    let mut held = Vec::with_capacity(count);
    let mut failed = 0usize;
    for _ in 0..count {
        match connect(server, port).await {
            Ok(stream) => held.push(stream),
            Err(_) => failed += 1,
        }
    }
    recorder.push(TraceEvent::harness(
        recorder.now(),
        SimEvent::HostileHold {
            id,
            server: server.to_string(),
            opened: held.len() as u64,
            failed: failed as u64,
        },
    ));
    match hold_for {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending::<()>().await,
    }
    drop(held);
}
