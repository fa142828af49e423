//! A clean stop keeps what it acknowledged: SIGTERM on a server under load, and every record
//! it answered `AT` for is at its neighbour afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::events::{Event, read_log};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Writers on the stopped server at once.
const WRITERS: usize = 4;
/// How long the writers run before the stop.
const LOAD_BEFORE_STOP: Duration = Duration::from_millis(1500);
/// IAMATs one writer sends at most (a bound on the load, whatever the machine's speed).
const WRITES_PER_WRITER_MAX: usize = 200_000;
/// IAMATs a writer sends before it reads their replies.
const PIPELINE: usize = 50;

/// Kills every process it started, even when an assertion fails.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start(herd: &Path, name: &str, log_dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .arg(name)
        .arg("--herd")
        .arg(herd)
        .arg("--log-dir")
        .arg(log_dir)
        .env_remove("PLACES_API_KEY")
        .env("HERD_SECRET", "stop test secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server binary")
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "no server came up on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends IAMATs for fresh clients, pipelined [`PIPELINE`] at a time, until the connection ends
/// or `until`; returns the AT lines it got back (each one an acknowledged record).
async fn write_until(port: u16, writer: usize, until: Instant) -> Vec<String> {
    let mut acknowledged = Vec::new();
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return acknowledged;
    };
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read).lines();
    let mut n = 0;
    while n < WRITES_PER_WRITER_MAX && Instant::now() < until {
        let mut lines = String::new();
        for i in n..n + PIPELINE {
            lines.push_str(&format!("IAMAT w{writer}.{i} +1.5-2.5 1700000000.{i:09}\n"));
        }
        n += PIPELINE;
        if write.write_all(lines.as_bytes()).await.is_err() {
            break;
        }
        for _ in 0..PIPELINE {
            match tokio::time::timeout(Duration::from_secs(5), replies.next_line()).await {
                Ok(Ok(Some(reply))) if reply.starts_with("AT ") => acknowledged.push(reply),
                _ => return acknowledged,
            }
        }
    }
    acknowledged
}

/// Sends `signal` to `child` and waits for it to exit.
async fn signal_and_wait(child: &mut Child, signal: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("send the signal");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait for the server") {
            assert!(status.success(), "a graceful stop exits 0, got {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no stop within 20 s of SIG{signal}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The final table a stopped server logged, as AT lines.
fn final_table(log_dir: &Path, name: &str) -> std::collections::BTreeSet<String> {
    let log = std::fs::read_to_string(log_dir.join(format!("{name}.log"))).unwrap_or_default();
    read_log(&log)
        .expect("every line of a real log reads as a typed event")
        .into_iter()
        .filter_map(|line| match line.event {
            Event::TableRecord { record } => Some(record.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_loses_no_acknowledged_record() {
    let dir: PathBuf = std::env::temp_dir().join(format!("herd-stop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (origin_port, neighbour_port) = (free_port(), free_port());
    let herd = dir.join("pair.yaml");
    // Small link batches make the link lag behind the writers, so a stop always finds
    // changes the neighbour has not been sent yet.
    std::fs::write(
        &herd,
        format!(
            "servers:\n  - {{ name: Origin, port: {origin_port} }}\n  - {{ name: Neighbour, port: {neighbour_port} }}\nlinks:\n  - {{ between: [Origin, Neighbour] }}\nlimits:\n  link_batch_max: 1\n"
        ),
    )
    .expect("herd file");
    let mut origin = start(&herd, "Origin", &dir);
    let neighbour = start(&herd, "Neighbour", &dir);
    let mut processes = Processes(vec![neighbour]);
    wait_listening(origin_port).await;
    wait_listening(neighbour_port).await;

    let until = Instant::now() + LOAD_BEFORE_STOP + Duration::from_secs(10);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_until(origin_port, w, until)))
        .collect();
    tokio::time::sleep(LOAD_BEFORE_STOP).await;
    signal_and_wait(&mut origin, "TERM").await;
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("a writer task"));
    }
    assert!(
        acknowledged.len() > 100,
        "load reached the origin: {}",
        acknowledged.len()
    );

    let mut neighbour = processes.0.remove(0);
    signal_and_wait(&mut neighbour, "TERM").await;
    let held = final_table(&dir, "Neighbour");
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|at| !held.contains(*at))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged records never reached the neighbour, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        lost.first()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
