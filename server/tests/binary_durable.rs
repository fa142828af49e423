//! With a data directory, acknowledged means kept: five server processes under load, all
//! killed at once with SIGKILL (a power cut, as far as a process can tell), started again, and
//! every record any of them answered `AT` for is held by all five.

use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;
use common::{
    Processes, acknowledged, final_table, free_port, signal_and_wait, start, wait_listening,
    write_until,
};

/// Servers of the herd, and the two that take the load.
const SERVERS: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
const LOADED: [usize; 2] = [0, 3];
/// Writers per loaded server.
const WRITERS: usize = 2;
/// How long the writers run before every server is killed.
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_all_five_under_load_loses_no_acknowledged_record() {
    let dir: PathBuf = std::env::temp_dir().join(format!("herd-durable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data_dir = dir.join("data");
    let data_flags = [std::ffi::OsStr::new("--data-dir"), data_dir.as_os_str()];
    let ports: Vec<u16> = SERVERS.iter().map(|_| free_port()).collect();
    let mut herd_text = String::from("servers:\n");
    for (name, port) in SERVERS.iter().zip(&ports) {
        let peer = free_port();
        herd_text.push_str(&format!(
            "  - {{ name: {name}, port: {port}, peer_port: {peer} }}\n"
        ));
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
            .map(|name| start(&herd, name, &dir, &data_flags))
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
    let acknowledged = acknowledged(writers).await;
    assert!(
        acknowledged.len() > 100,
        "load reached the herd: {}",
        acknowledged.len()
    );

    processes.0 = SERVERS
        .iter()
        .map(|name| start(&herd, name, &dir, &data_flags))
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
