//! Logs rotate by size with a bounded number of files: the binary, under a load that writes
//! its log many times over, keeps at most `log_files_max` files of at most
//! `log_file_bytes_max` bytes each, and the files it kept, read oldest first, are an unbroken
//! run of the newest lines: every line whole, the client lines a contiguous run ending at the
//! last one sent, and the final table complete.

use std::path::PathBuf;

use server::events::{Event, read_log};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

mod common;
use common::{Processes, free_port, rotated_log, signal_and_wait, start, wait_listening};

const FILE_BYTES_MAX: u64 = 64 * 1024;
const FILES_MAX: usize = 3;
/// IAMATs sent: several times what the kept files hold (each writes about 1 KB of log), while
/// the final table (about 100 bytes a record) still fits in them.
const CLIENTS: usize = 800;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_written_past_its_bound_keeps_its_files_and_the_newest_lines_whole() {
    let dir: PathBuf = std::env::temp_dir().join(format!("herd-logrotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let herd = dir.join("herd.yaml");
    let herd_text = format!(
        "servers:\n  - {{ name: Bona, port: {port} }}\nlinks: []\nlimits: {{ log_file_bytes_max: {FILE_BYTES_MAX}, log_files_max: {FILES_MAX} }}\n"
    );
    std::fs::write(&herd, herd_text).expect("herd file");
    let mut processes = Processes(vec![start(&herd, "Bona", &dir, &[])]);
    wait_listening(port).await;

    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (read_half, mut write_half) = stream.into_split();
    let mut replies = BufReader::new(read_half).lines();
    for n in 0..CLIENTS {
        let line = format!("IAMAT client{n:04} +1+1 1700000000.{n:09}\n");
        write_half.write_all(line.as_bytes()).await.expect("write");
        let reply = replies.next_line().await.expect("read").expect("a reply");
        assert!(reply.starts_with("AT Bona "), "{reply}");
    }
    drop(write_half);
    signal_and_wait(&mut processes.0[0], "TERM").await;

    let mut total = 0;
    for entry in std::fs::read_dir(&dir).expect("list") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("Bona.log") {
            continue;
        }
        let bytes = std::fs::metadata(&path).expect("metadata").len();
        assert!(bytes <= FILE_BYTES_MAX, "{name} holds {bytes} bytes");
        total += 1;
    }
    assert!(
        dir.join(format!("Bona.log.{}", FILES_MAX - 1)).exists(),
        "never rotated"
    );
    assert!(total <= FILES_MAX, "{total} log files, bound {FILES_MAX}");

    let log = rotated_log(&dir, "Bona", FILES_MAX);
    let lines = read_log(&log).expect("every kept line reads whole");
    let clients: Vec<usize> = lines
        .iter()
        .filter_map(|line| match &line.event {
            Event::ClientLine { line, .. } => line
                .strip_prefix("IAMAT client")
                .and_then(|rest| rest.get(..4))
                .and_then(|n| n.parse().ok()),
            _ => None,
        })
        .collect();
    let first = *clients.first().expect("some client lines kept");
    assert!(first > 0, "the oldest lines were never dropped");
    let expected: Vec<usize> = (first..CLIENTS).collect();
    assert_eq!(
        clients, expected,
        "the kept client lines are not the newest, unbroken"
    );
    let table = lines
        .iter()
        .filter(|line| matches!(line.event, Event::TableRecord { .. }))
        .count();
    assert_eq!(table, CLIENTS, "the final table is not whole");
    let _ = std::fs::remove_dir_all(&dir);
}
