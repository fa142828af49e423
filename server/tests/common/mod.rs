//! What the binary tests of acknowledged records share: starting servers, writing IAMATs
//! under load and keeping the acknowledgements, stopping by signal, and reading the final
//! table a server logged.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::events::{Event, read_log};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// IAMATs one writer sends at most (a bound on the load, whatever the machine's speed).
pub const WRITES_PER_WRITER_MAX: usize = 200_000;
/// IAMATs a writer sends before it reads their replies.
pub const PIPELINE: usize = 50;

/// Kills every process it started, even when an assertion fails.
pub struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts server `name` of `herd`, logging under `log_dir`, with `extra` flags.
pub fn start(herd: &Path, name: &str, log_dir: &Path, extra: &[&std::ffi::OsStr]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .arg(name)
        .arg("--herd")
        .arg(herd)
        .arg("--log-dir")
        .arg(log_dir)
        .args(extra)
        .env_remove("PLACES_API_KEY")
        .env("HERD_SECRET", "acknowledged test secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server binary")
}

pub async fn wait_listening(port: u16) {
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
pub async fn write_until(port: u16, writer: usize, until: Instant) -> Vec<String> {
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
pub async fn signal_and_wait(child: &mut Child, signal: &str) {
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

/// A server's whole log: every file its rotation kept, oldest first.
pub fn rotated_log(log_dir: &Path, name: &str, files_max: usize) -> String {
    server::events::log_file_names(name, files_max)
        .iter()
        .filter_map(|file| std::fs::read_to_string(log_dir.join(file)).ok())
        .collect()
}

/// The final table a stopped server logged last, as AT lines (its log holds every life).
pub fn final_table(log_dir: &Path, name: &str) -> std::collections::BTreeSet<String> {
    let files_max = server::config::Limits::default().log_files_max;
    let log = rotated_log(log_dir, name, files_max);
    let mut table = std::collections::BTreeSet::new();
    let lines: Vec<&str> = log.lines().collect();
    for (i, text) in lines.iter().enumerate() {
        let Ok(mut read) = read_log(text) else {
            // A SIGKILL may cut a life's last line in half (and the next life's first line
            // may run on from it): a later life (its `listening`) or the end of the log
            // follows. Anywhere else a line that does not read fails. What came before was
            // that killed life's.
            let listening = |next: &&str| {
                read_log(next)
                    .is_ok_and(|r| r.iter().any(|l| matches!(l.event, Event::Listening { .. })))
            };
            // The next life's `listening` may be on this very line, run on from the cut.
            let runs_on = text
                .rfind("{\"ts\"")
                .is_some_and(|at| at > 0 && listening(&&text[at..]));
            let cut_by_a_kill =
                runs_on || i + 1 == lines.len() || lines[i + 1..].iter().any(listening);
            assert!(
                cut_by_a_kill,
                "line {} of {name}'s log does not read: {text}",
                i + 1
            );
            table.clear();
            continue;
        };
        let Some(line) = read.pop() else { continue };
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

/// Every AT line the writer tasks got back: the records the herd acknowledged.
pub async fn acknowledged(writers: Vec<tokio::task::JoinHandle<Vec<String>>>) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("a writer task"));
    }
    acknowledged
}
