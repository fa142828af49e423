//! A neighbour that speaks only the classic dialect, on a link the herd file says is
//! persistent: the operator is told once, with the fix (`classic: true`), not every time the
//! link is dialled again.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use server::events::{Event, read_log};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

mod common;
use common::{Processes, free_port, signal_and_wait, wait_listening};

/// How long the server keeps dialling the classic neighbour: long enough for several redials
/// (the backoff starts at 100 ms and doubles up to 2 s).
const DIALLING: Duration = Duration::from_secs(4);

/// A classic server: every line it reads is invalid to it, answered `? ` and the line.
async fn classic_neighbour(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if write
                    .write_all(format!("? {line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_neighbour_speaking_classic_is_reported_once_with_the_fix() {
    let dir: PathBuf = std::env::temp_dir().join(format!("herd-classic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let classic = TcpListener::bind("127.0.0.1:0").await.expect("a listener");
    let classic_port = classic.local_addr().expect("its address").port();
    tokio::spawn(classic_neighbour(classic));
    let port = free_port();
    let herd = dir.join("herd.yaml");
    std::fs::write(
        &herd,
        format!(
            "servers:\n  - {{ name: Bona, port: {port}, peer_port: {} }}\n  - {{ name: Bailey, port: {}, peer_port: {classic_port} }}\nlinks:\n  - {{ between: [Bona, Bailey] }}\n",
            free_port(),
            free_port()
        ),
    )
    .expect("write the herd file");
    let stderr_path = dir.join("stderr.txt");
    let bona = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("Bona")
        .arg("--herd")
        .arg(&herd)
        .arg("--log-dir")
        .arg(&dir)
        .env_remove("PLACES_API_KEY")
        .env("HERD_SECRET", "classic hint test secret")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start the server binary");
    let mut processes = Processes(vec![bona]);
    wait_listening(port).await;
    tokio::time::sleep(DIALLING).await;
    signal_and_wait(&mut processes.0[0], "TERM").await;

    let log = std::fs::read_to_string(dir.join("Bona.log")).expect("Bona's log");
    let events: Vec<Event> = read_log(&log)
        .expect("every line of a real log reads as a typed event")
        .into_iter()
        .map(|line| line.event)
        .collect();
    let dials = events
        .iter()
        .filter(|e| matches!(e, Event::PeerDown { peer, .. } if peer == "Bailey"))
        .count();
    let reports = events
        .iter()
        .filter(|e| matches!(e, Event::PeerSpeaksClassic { .. }))
        .count();
    assert!(
        dials >= 3,
        "only {dials} dials in {DIALLING:?}: too few to judge repeats"
    );
    assert_eq!(
        reports, 1,
        "peer_speaks_classic logged {reports} times over {dials} dials"
    );
    let stderr = std::fs::read_to_string(&stderr_path).expect("stderr");
    assert!(
        stderr.contains("classic: true"),
        "the warning on stderr names the fix:\n{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "a redirected stderr holds no colour codes:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
