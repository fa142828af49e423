//! A clean stop keeps what it acknowledged: SIGTERM on a server under load, and every record
//! it answered `AT` for is at its neighbour afterwards.

use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;
use common::{
    Processes, acknowledged, final_table, free_port, signal_and_wait, start, wait_listening,
    write_until,
};

/// Writers on the stopped server at once.
const WRITERS: usize = 4;
/// How long the writers run before the stop.
const LOAD_BEFORE_STOP: Duration = Duration::from_millis(1500);

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
            "servers:\n  - {{ name: Origin, port: {origin_port}, peer_port: {} }}\n  - {{ name: Neighbour, port: {neighbour_port}, peer_port: {} }}\nlinks:\n  - {{ between: [Origin, Neighbour] }}\nlimits:\n  link_batch_max: 1\n",
            free_port(),
            free_port()
        ),
    )
    .expect("herd file");
    let mut origin = start(&herd, "Origin", &dir, &[]);
    let neighbour = start(&herd, "Neighbour", &dir, &[]);
    let mut processes = Processes(vec![neighbour]);
    wait_listening(origin_port).await;
    wait_listening(neighbour_port).await;

    let until = Instant::now() + LOAD_BEFORE_STOP + Duration::from_secs(10);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_until(origin_port, w, until)))
        .collect();
    tokio::time::sleep(LOAD_BEFORE_STOP).await;
    signal_and_wait(&mut origin, "TERM").await;
    let acknowledged = acknowledged(writers).await;
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
