//! Group commit seen from one pipelined connection: a client that sends many IAMATs without
//! waiting gets its replies in order, and its records share syncs instead of taking one each.
//! And the durable write queue is bounded: when the disk is slower than the clients, they wait
//! for room (`durable_queue_bytes_max`); the queue, and so each append, never grows past it.
//!
//! One server on loopback, over a disk in memory whose sync takes [`SYNC_LATENCY`] (about what
//! an fsync costs on a small VM) and counts the syncs and the largest append.

#[path = "../bin/real.rs"]
mod real;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::config::{Herd, Limits, ServerSpec};
use server::net::{BoxFuture, Disk, Env};
use server::places::PlacesClient;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SYNC_LATENCY: Duration = Duration::from_millis(5);

/// Files in memory; every sync waits [`SYNC_LATENCY`] and is counted.
#[derive(Default)]
struct SlowDisk {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    syncs: AtomicUsize,
    largest_append: AtomicUsize,
}

impl SlowDisk {
    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The [`Disk`] seam over a shared [`SlowDisk`], so the test keeps a handle to count.
struct Shared(Arc<SlowDisk>);

impl Disk for Shared {
    fn list(&self) -> BoxFuture<'static, io::Result<Vec<String>>> {
        let names = self.0.files().keys().cloned().collect();
        Box::pin(async move { Ok(names) })
    }

    fn read(&self, name: &str) -> BoxFuture<'static, io::Result<Vec<u8>>> {
        let bytes = self.0.files().get(name).cloned().unwrap_or_default();
        Box::pin(async move { Ok(bytes) })
    }

    fn append(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, io::Result<()>> {
        self.0
            .largest_append
            .fetch_max(bytes.len(), Ordering::Relaxed);
        self.0
            .files()
            .entry(name.to_string())
            .or_default()
            .extend(bytes);
        Box::pin(async { Ok(()) })
    }

    fn sync(&self, _name: &str) -> BoxFuture<'static, io::Result<()>> {
        self.0.syncs.fetch_add(1, Ordering::Relaxed);
        Box::pin(slow_ok())
    }

    fn replace(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, io::Result<()>> {
        self.0.files().insert(name.to_string(), bytes);
        Box::pin(slow_ok())
    }

    fn remove(&self, name: &str) -> BoxFuture<'static, io::Result<()>> {
        self.0.files().remove(name);
        Box::pin(async { Ok(()) })
    }
}

/// What a sync costs: [`SYNC_LATENCY`], then success.
async fn slow_ok() -> io::Result<()> {
    tokio::time::sleep(SYNC_LATENCY).await;
    Ok(())
}

/// One durable server alone on a free loopback port, over `disk`; its port and its stop.
async fn start(limits: Limits, disk: Arc<SlowDisk>) -> (u16, tokio::sync::watch::Sender<bool>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let herd = Arc::new(Herd {
        servers: vec![ServerSpec {
            name: "A".into(),
            host: "127.0.0.1".into(),
            port,
            peer_port: None,
            admin_port: None,
            admin_host: "127.0.0.1".into(),
        }],
        links: Vec::new(),
        limits,
        secret_file: None,
        tls_dir: None,
        data_dir: None,
        metrics_off: true,
    });
    let env = Env {
        net: Arc::new(real::TokioNet),
        clock: Arc::new(real::SystemClock),
        places: PlacesClient::offline(),
        seed: 5,
        disk: Some(Arc::new(Shared(disk)) as Arc<dyn Disk>),
        buggify: server::buggify::Buggify::off(),
        canary: None,
        tls: None,
    };
    let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_rx.wait_for(|&s| s).await;
        };
        server::run(herd, "A", env, shutdown).await
    });
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return (port, stop);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("nothing listens on port {port}");
}

/// Sends `count` IAMATs on one connection in one write, then reads their replies: each must
/// be the `AT` for its own client, in the order sent.
async fn pipeline(port: u16, prefix: String, count: usize) {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (read, mut write) = stream.into_split();
    let text: String = (0..count)
        .map(|i| format!("IAMAT {prefix}{i} +1.5-2.5 1700000000.{i}\n"))
        .collect();
    let sending = tokio::spawn(async move {
        write.write_all(text.as_bytes()).await.expect("write");
        write
    });
    let mut lines = BufReader::new(read).lines();
    for i in 0..count {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("a reply in time")
            .expect("read")
            .expect("a reply per IAMAT");
        let client = line.split(' ').nth(3);
        assert!(line.starts_with("AT A "), "reply {i} is {line:?}");
        assert_eq!(
            client,
            Some(format!("{prefix}{i}").as_str()),
            "reply {i} out of order"
        );
    }
    drop(sending.await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelined_connection_shares_syncs() {
    let disk = Arc::new(SlowDisk::default());
    let (port, _stop) = start(Limits::default(), disk.clone()).await;
    let before = disk.syncs.load(Ordering::Relaxed);
    let count = 200;
    pipeline(port, "p".into(), count).await;
    let syncs = disk.syncs.load(Ordering::Relaxed) - before;
    // One sync per record would be `count`; group commit must put many records in each.
    assert!(
        syncs * 10 <= count,
        "{count} pipelined IAMATs took {syncs} syncs: more than one per 10 records"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_disk_makes_writers_wait_instead_of_the_queue_growing() {
    let bound = 2048;
    let limits = Limits {
        durable_queue_bytes_max: bound,
        ..Limits::default()
    };
    let disk = Arc::new(SlowDisk::default());
    let (port, _stop) = start(limits, disk.clone()).await;
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(pipeline(port, format!("w{w}-"), 150)))
        .collect();
    for writer in writers {
        writer.await.expect("a writer");
    }
    let largest = disk.largest_append.load(Ordering::Relaxed);
    // 600 records of about 180 bytes each came in faster than 5 ms syncs take them: without
    // the bound one append would carry hundreds of them.
    assert!(
        largest <= bound,
        "an append of {largest} bytes: the queue grew past durable_queue_bytes_max ({bound})"
    );
    assert!(
        largest > bound / 4,
        "appends of at most {largest} bytes: the load never filled the queue"
    );
}
