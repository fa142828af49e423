//! The herd under test: five `server` processes of the release binary on free loopback ports,
//! and the guard that kills every one of them when the benchmark ends, returns early or panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The default herd's servers and links (docs/protocol.md §13), on other ports.
pub const NAMES: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
const LINKS: [(&str, &str); 6] = [
    ("Bailey", "Bona"),
    ("Bailey", "Campbell"),
    ("Bona", "Campbell"),
    ("Bona", "Clark"),
    ("Campbell", "Jaquez"),
    ("Clark", "Jaquez"),
];

/// Outbound link sessions of a fully connected herd: both ends of every link dial.
pub const OUTBOUND_LINKS: u64 = 2 * LINKS.len() as u64;
/// Each server's `log_file_bytes_max` in the benchmark: 1 TiB, more than any run writes, so a
/// log never rotates under the tail that reads it (production keeps the default bound).
const BENCH_LOG_FILE_BYTES_MAX: u64 = 1 << 40;

/// Links in clear rather than over TLS (`--plain-links`), to measure what TLS costs against
/// the same build in the same conditions.
pub static PLAIN_LINKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `n` distinct ports the kernel calls free right now. All are bound at once (so they differ),
/// then released for the servers to take. Never the default herd's 10000-10004, so a running
/// herd or the binary test cannot collide with the benchmark.
pub fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("bind a free loopback port")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// Five server processes of one herd file, in a directory of their own.
pub struct Herd {
    pub log_dir: PathBuf,
    herd_file: PathBuf,
    pub ports: Vec<u16>,
    children: Vec<Option<Child>>,
    /// `--log-level` for every server; `None`: the binary's default.
    log_level: Option<String>,
    /// `--data-dir` for every server (a durable store); `None`: tables in memory.
    data_dir: Option<PathBuf>,
    /// Started with `--no-metrics`: counting nothing, to measure what metrics cost.
    no_metrics: bool,
}

impl Herd {
    /// Writes a herd file with free ports into `dir` and starts every server.
    pub fn start(dir: &Path, log_level: Option<&str>) -> anyhow::Result<Herd> {
        Herd::start_with(dir, log_level, None, false)
    }

    /// [`Herd::start`], each server keeping its table in `data_dir` when one is given, and
    /// started with `--no-metrics` when `no_metrics`.
    pub fn start_with(
        dir: &Path,
        log_level: Option<&str>,
        data_dir: Option<PathBuf>,
        no_metrics: bool,
    ) -> anyhow::Result<Herd> {
        let log_dir = dir.join("logs");
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("create {}", log_dir.display()))?;
        let ports = free_ports(NAMES.len())?;
        let mut yaml = String::from("servers:\n");
        for (name, port) in NAMES.iter().zip(&ports) {
            yaml.push_str(&format!("  - {{ name: {name}, port: {port} }}\n"));
        }
        yaml.push_str("links:\n");
        for (a, b) in LINKS {
            yaml.push_str(&format!("  - {{ between: [{a}, {b}] }}\n"));
        }
        // The benchmark tails each `NAME.log` as it grows, so no log may rotate during a run.
        yaml.push_str(&format!(
            "limits: {{ log_file_bytes_max: {BENCH_LOG_FILE_BYTES_MAX} }}\n"
        ));
        let herd_file = dir.join("herd.yaml");
        std::fs::write(&herd_file, &yaml)
            .with_context(|| format!("write {}", herd_file.display()))?;
        if !PLAIN_LINKS.load(std::sync::atomic::Ordering::Relaxed) {
            // Links over TLS, as a real deployment runs them: `server certs` writes the herd's
            // certificates and the herd file names them.
            let status = Command::new(env!("CARGO_BIN_EXE_server"))
                .arg("certs")
                .arg("--herd")
                .arg(&herd_file)
                .arg("--out")
                .arg(dir.join("tls"))
                .stdout(Stdio::null())
                .status()
                .context("server certs")?;
            anyhow::ensure!(status.success(), "server certs failed");
            std::fs::write(&herd_file, format!("tls_dir: tls\n{yaml}"))
                .with_context(|| format!("write {}", herd_file.display()))?;
        }
        let mut herd = Herd {
            log_dir,
            herd_file,
            ports,
            children: NAMES.iter().map(|_| None).collect(),
            log_level: log_level.map(str::to_string),
            data_dir,
            no_metrics,
        };
        for i in 0..NAMES.len() {
            herd.spawn(i)?;
        }
        Ok(herd)
    }

    /// Whether the servers write the whole trace (`peer_up`, `record_stored`, ...): at the
    /// default level and at `debug`.
    pub fn logs_trace(&self) -> bool {
        matches!(self.log_level.as_deref(), None | Some("info" | "debug"))
    }

    /// Starts server `i` (again), on its port, appending to its log file. `RUST_LOG` is
    /// removed so the server logs at its built-in default level, as in production, unless
    /// the herd was started with a level; without `PLACES_API_KEY` WHATSAT answers from the
    /// offline place set and never leaves the machine.
    pub fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        if let Some(level) = &self.log_level {
            command.arg("--log-level").arg(level);
        }
        if let Some(data_dir) = &self.data_dir {
            command.arg("--data-dir").arg(data_dir);
        }
        if self.no_metrics {
            command.arg("--no-metrics");
        }
        let child = command
            .arg("--herd")
            .arg(&self.herd_file)
            .arg("--log-dir")
            .arg(&self.log_dir)
            .arg(NAMES[i])
            .env_remove("PLACES_API_KEY")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", env!("CARGO_BIN_EXE_server")))?;
        self.children[i] = Some(child);
        Ok(())
    }

    /// SIGKILL: the server gets no chance to flush or say goodbye, like a crash.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.log_dir.join(format!("{}.log", NAMES[i]))
    }

    /// Resident memory of server `i`, from `/proc/PID/status` (`VmRSS`, in KiB).
    pub fn rss_kib(&self, i: usize) -> Option<u64> {
        let pid = self.children[i].as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    /// Waits until server `i` accepts connections; fails if it exited (a port taken in the
    /// meantime, a bad herd file) or `within` passed.
    pub async fn wait_listening(&mut self, i: usize, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(child) = self.children[i].as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("{} exited at start-up: {status}", NAMES[i]);
            }
            let connect = tokio::net::TcpStream::connect(("127.0.0.1", self.ports[i]));
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), connect).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} is not listening on port {}", NAMES[i], self.ports[i]);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Herd {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}
