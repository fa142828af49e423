//! With a data directory, acknowledged means kept: five server processes under load, all
//! killed at once with SIGKILL (a power cut, as far as a process can tell), started again, and
//! every record any of them answered `AT` for is held by all five.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::events::{Event, read_log};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Servers of the herd, and the two that take the load.
const SERVERS: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
const LOADED: [usize; 2] = [0, 3];
/// Writers per loaded server.
const WRITERS: usize = 2;
/// How long the writers run before every server is killed.
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);
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
        .arg("--data-dir")
        .arg(log_dir.join("data"))
        .env_remove("PLACES_API_KEY")
        .env("HERD_SECRET", "durable test secret")
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

/// The final table a stopped server logged last, as AT lines (its log holds every life).
fn final_table(log_dir: &Path, name: &str) -> std::collections::BTreeSet<String> {
    let log = std::fs::read_to_string(log_dir.join(format!("{name}.log"))).unwrap_or_default();
    let mut table = std::collections::BTreeSet::new();
    for line in read_log(&log).expect("every line of a real log reads as a typed event") {
        match line.event {
            Event::Listening { .. } => table.clear(),
            Event::TableRecord { record } => {
                table.insert(record.to_string());
            }
            _ => {}
        }
    }
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_all_five_under_load_loses_no_acknowledged_record() {
    let dir: PathBuf = std::env::temp_dir().join(format!("herd-durable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ports: Vec<u16> = SERVERS.iter().map(|_| free_port()).collect();
    let mut herd_text = String::from("servers:\n");
    for (name, port) in SERVERS.iter().zip(&ports) {
        herd_text.push_str(&format!("  - {{ name: {name}, port: {port} }}\n"));
    }
    herd_text.push_str("links:\n");
    for [a, b] in [[0, 1], [0, 2], [1, 2], [1, 3], [2, 4], [3, 4]] {
        herd_text.push_str(&format!(
            "  - {{ between: [{}, {}] }}\n",
            SERVERS[a], SERVERS[b]
        ));
    }
    let herd = dir.join("herd.yaml");
    std::fs::write(&herd, herd_text).expect("herd file");
    let mut processes = Processes(
        SERVERS
            .iter()
            .map(|name| start(&herd, name, &dir))
            .collect(),
    );
    for port in &ports {
        wait_listening(*port).await;
    }

    let until = Instant::now() + LOAD_BEFORE_KILL + Duration::from_secs(10);
    let mut writers = Vec::new();
    for (w, server) in LOADED
        .iter()
        .flat_map(|s| std::iter::repeat_n(*s, WRITERS))
        .enumerate()
    {
        writers.push(tokio::spawn(write_until(ports[server], w, until)));
    }
    tokio::time::sleep(LOAD_BEFORE_KILL).await;
    for child in &mut processes.0 {
        let _ = child.kill();
    }
    for child in &mut processes.0 {
        let _ = child.wait();
    }
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("a writer task"));
    }
    assert!(
        acknowledged.len() > 100,
        "load reached the herd: {}",
        acknowledged.len()
    );

    processes.0 = SERVERS
        .iter()
        .map(|name| start(&herd, name, &dir))
        .collect();
    for port in &ports {
        wait_listening(*port).await;
    }
    // Time to resume every link by cursor and send what a neighbour lacks.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for child in &mut processes.0 {
        signal_and_wait(child, "TERM").await;
    }
    for name in SERVERS {
        let held = final_table(&dir, name);
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|at| !held.contains(*at))
            .collect();
        assert!(
            lost.is_empty(),
            "{name} lacks {} of {} acknowledged records, e.g. {:?}",
            lost.len(),
            acknowledged.len(),
            lost.first()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
