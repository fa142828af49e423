//! The attacker on the herd's network: handshake stallers, and the impostor that takes the
//! address of a server that is down. Both run in either world: over turmoil inside the
//! simulation, on 127.0.0.1 in real mode. Each leaves summary events in the trace, and the
//! impostor one event per line a server sent it (the `leak` checker reads them).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use server::line::{Line, LineReader};
use server::links::tls::LinkTls;
use server::net::BoxStream;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

use crate::recorder::Recorder;
use crate::scenario::{ImpostorCertificate, Stall};
use crate::simcerts::SimCerts;
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
/// their handshake as the accepting side does (`HELLO`, TLS when the herd runs it, then
/// `LINKED 1 0 -`), then keeps them alive (`PONG`). In a herd with TLS it shows `certificate`
/// (none, `server`'s name from another CA, or another herd server's valid one), and takes any
/// herd certificate from the dialler, so whatever a dialler would send it, it reads. Every
/// line it reads but heartbeats is recorded. Runs until dropped.
pub async fn impostor(
    server: String,
    port: u16,
    certs: Option<Arc<SimCerts>>,
    certificate: ImpostorCertificate,
    recorder: Recorder,
) -> std::io::Result<()> {
    let tls = match &certs {
        Some(certs) => impostor_tls(certs, &server, &certificate)?,
        None => None,
    };
    let mut conns = JoinSet::new();
    if turmoil::sim_elapsed().is_some() {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let answer = answer(
                Box::new(stream),
                server.clone(),
                tls.clone(),
                recorder.clone(),
            );
            conns.spawn(answer);
            while conns.try_join_next().is_some() {}
        }
    } else {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let answer = answer(
                Box::new(stream),
                server.clone(),
                tls.clone(),
                recorder.clone(),
            );
            conns.spawn(answer);
            while conns.try_join_next().is_some() {}
        }
    }
}

/// The impostor's TLS (`None`: it shows no certificate and goes on in clear): the certificate
/// it shows, its key, and the herd's CA to take the dialler's certificate with.
fn impostor_tls(
    certs: &SimCerts,
    server: &str,
    certificate: &ImpostorCertificate,
) -> std::io::Result<Option<LinkTls>> {
    let missing = || std::io::Error::other(format!("no certificate for {server}"));
    let shown = match certificate {
        ImpostorCertificate::None => return Ok(None),
        ImpostorCertificate::OtherCa => certs.foreign(server),
        ImpostorCertificate::Of(other) => certs.identity(other),
    };
    let herd_ca = certs.identity(server).ok_or_else(missing)?.ca.clone();
    let identity = server::certs::Identity {
        ca: herd_ca,
        ..shown.ok_or_else(missing)?.clone()
    };
    let setup = certs
        .with_identity(&identity, server, IMPOSTOR_SEED)
        .ok_or_else(missing)?;
    crate::simcerts::attacker_tls(&setup).map(Some)
}

/// Seeds the impostor's TLS randomness.
const IMPOSTOR_SEED: u64 = 0x1a2b;

/// One connection to the impostor, until it closes.
async fn answer(stream: BoxStream, server: String, tls: Option<LinkTls>, recorder: Recorder) {
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = LineReader::new(read, IMPOSTOR_LINE_BYTES_MAX);
    let mut reported = 0usize;
    while let Ok(Some(line)) = reader.read_line().await {
        let bytes = match line {
            Line::Complete(bytes) => bytes,
            Line::TooLong { prefix } => prefix,
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let words = text.split_ascii_whitespace().collect::<Vec<_>>();
        let reply = match words[..] {
            ["PEER", ..] => Some("HELLO".to_string()),
            ["AUTH", ..] => Some("LINKED 1 0 -".to_string()),
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
                    line: text.clone(),
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
        if let (["PEER", claimed, ..], Some(tls)) = (&words[..], &tls) {
            // TLS next, as a server does: whatever the dialler sends after it, read in clear.
            let Some(read) = reader.into_inner() else {
                return;
            };
            let Ok(stream) = tls.accept(claimed, read.unsplit(write)).await else {
                return;
            };
            let (read, w) = tokio::io::split(stream);
            (reader, write) = (LineReader::new(read, IMPOSTOR_LINE_BYTES_MAX), w);
        }
    }
}
