//! The `server` processes of a real-mode run: finding the binary, free loopback ports, starting
//! a server, killing it (a crash), stopping it politely (the end of a run), and never leaving
//! one behind: a guard kills on drop (also on panic) and an interrupt handler kills every live
//! child before the harness exits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A server gets this long to log `listening` after it is started.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// A server gets this long to stop after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often a log file or a child's status is polled while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Attempts at a free port before giving up.
const FREE_PORT_ATTEMPTS_MAX: usize = 64;
/// Ports a free port must avoid: the default herd's, which the binary's own tests use.
const RESERVED_PORTS: std::ops::RangeInclusive<u16> = 10000..=10004;

/// The directory of the herd's certificates in a run's directory (the herd files name it).
pub const TLS_DIR: &str = "tls";
/// The Places key every real-mode server sends to the mock (never a real key).
pub const PLACES_KEY: &str = "real-mode-dummy-key";

/// Every child pid alive in this process, for the interrupt handler: a process-wide list
/// because a signal arrives with no reference to whichever run is under way.
static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Set by the first interrupt handler to act.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// SIGKILLs every live child; the interrupt handler's last act. Safe to call twice.
pub fn kill_every_live_child() {
    let pids: Vec<u32> = LIVE
        .lock()
        .map(|l| l.iter().copied().collect())
        .unwrap_or_default();
    for &pid in &pids {
        signal(pid, libc::SIGKILL);
    }
    // Reaped before the harness exits, so none is left even as a zombie. SIGKILL cannot be
    // caught, so each wait ends at once (ECHILD if a `Child::wait` got there first).
    for pid in pids {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: waitpid(2) on a child of this process, with no status pointer.
            unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// Ctrl-C (and SIGTERM) kill every live child, then exit 130: no orphan survives an
/// interrupted run. Installed once per runtime; must be called from within a tokio runtime.
pub fn install_interrupt_handler() {
    tokio::spawn(async {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    term.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        // Several handlers may be installed at once (parallel runs); the first one ends it all.
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        kill_every_live_child();
        eprintln!("real: interrupted; every server process was killed");
        std::process::exit(130);
    });
}

fn signal(pid: u32, signal: i32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a pid this process started; no memory is shared.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Whether a process with this pid still runs (a zombie counts as gone): for tests that
/// check nothing was left behind.
pub fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The `server` binary to run: `explicit` if given; else the one next to this executable in
/// the target directory; else built with `cargo build -p server`. The text says which.
pub fn server_binary(explicit: Option<&Path>) -> anyhow::Result<(PathBuf, String)> {
    if let Some(path) = explicit {
        if !path.is_file() {
            bail!("--server-bin {}: no such file", path.display());
        }
        return Ok((path.to_path_buf(), format!("using {}", path.display())));
    }
    let exe = std::env::current_exe().context("where is this executable")?;
    // `target/debug/sim`, or `target/debug/deps/TEST-hash` for a test.
    for dir in exe.ancestors().skip(1).take(2) {
        let candidate = dir.join("server");
        if candidate.is_file() {
            return Ok((
                candidate.clone(),
                format!("using {} (next to {})", candidate.display(), exe.display()),
            ));
        }
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "-p",
            "server",
            "--bin",
            "server",
            "--message-format",
            "short",
        ])
        .stdout(Stdio::null())
        .status()
        .context("run cargo build -p server")?;
    if !status.success() {
        bail!("cargo build -p server failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let built = target.join("debug").join("server");
    if !built.is_file() {
        bail!("cargo build -p server left no {}", built.display());
    }
    Ok((
        built.clone(),
        format!("built {} with cargo build -p server", built.display()),
    ))
}

/// A loopback port nobody listens on now, held by the returned listener: drop it just before
/// the server that will use the port starts. Holding it meanwhile keeps this run's own later
/// binds (the proxy's) off it; another process could still take it in between, which shows
/// as a server that fails to start.
pub fn reserve_port() -> anyhow::Result<(u16, std::net::TcpListener)> {
    for _ in 0..FREE_PORT_ATTEMPTS_MAX {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        if !RESERVED_PORTS.contains(&port) {
            return Ok((port, listener));
        }
    }
    bail!("no free loopback port in {FREE_PORT_ATTEMPTS_MAX} attempts")
}

/// How to start one server: everything but the process itself.
#[derive(Debug, Clone)]
pub struct Launch {
    pub herd_file: PathBuf,
    pub places_base: String,
    /// `--places-api`: the scenario's `places_api`.
    pub places_api: crate::scenario::PlacesApi,
    /// `--clock-offset`, a signed duration (`-3s`): the last `skew` step's.
    pub clock_offset: String,
}

/// The running servers of one run. Dropping it kills every one of them.
pub struct Processes {
    binary: PathBuf,
    dir: PathBuf,
    launches: BTreeMap<String, Launch>,
    children: BTreeMap<String, Child>,
    /// Every pid this run started, in start order.
    pub started: Vec<u32>,
}

impl Processes {
    pub fn new(binary: &Path, dir: &Path, launches: BTreeMap<String, Launch>) -> Processes {
        Processes {
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            launches,
            children: BTreeMap::new(),
            started: Vec::new(),
        }
    }

    /// The server's log file (the binary's `--log-dir` layout: `DIR/NAME.log`).
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    /// Sets the clock offset the server gets at its next start.
    pub fn set_clock_offset(&mut self, name: &str, offset: String) {
        if let Some(launch) = self.launches.get_mut(name) {
            launch.clock_offset = offset;
        }
    }

    /// Starts `name` and returns its pid once it is listening (it logged one more `listening`
    /// event than before).
    pub async fn start(&mut self, name: &str) -> anyhow::Result<u32> {
        let launch = self
            .launches
            .get(name)
            .with_context(|| format!("{name} is not a server of this run"))?
            .clone();
        let listening_before = self.listening_count(name);
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.out")))?;
        let mut command = Command::new(&self.binary);
        let child = command
            .arg(name)
            .arg("--herd")
            .arg(&launch.herd_file)
            .arg("--log-dir")
            .arg(self.dir.join("logs"))
            .arg("--places-base")
            .arg(&launch.places_base)
            .arg("--places-api")
            .arg(launch.places_api.to_string())
            .arg(format!("--clock-offset={}", launch.clock_offset))
            .env("PLACES_API_KEY", PLACES_KEY)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .with_context(|| format!("start {} {name}", self.binary.display()))?;
        let pid = child.id();
        if let Ok(mut live) = LIVE.lock() {
            live.insert(pid);
        }
        self.started.push(pid);
        self.children.insert(name.to_string(), child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while self.listening_count(name) <= listening_before {
            if let Some(status) = self.children.get_mut(name).and_then(|c| c.try_wait().ok()?) {
                self.forget(name);
                bail!(
                    "{name} exited at start ({status}); see {}",
                    self.dir.join(format!("{name}.out")).display()
                );
            }
            if Instant::now() > deadline {
                bail!("{name} did not listen within {STARTUP_TIMEOUT:?}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Ok(pid)
    }

    fn listening_count(&self, name: &str) -> usize {
        std::fs::read_to_string(self.log_file(name))
            .map(|text| text.matches("\"event\":\"listening\"").count())
            .unwrap_or(0)
    }

    /// SIGKILL: the process is gone at once, without a goodbye of its own.
    pub fn kill(&mut self, name: &str) {
        if let Some(mut child) = self.children.remove(name) {
            let _ = child.kill();
            let _ = child.wait();
            unregister(child.id());
        }
    }

    fn forget(&mut self, name: &str) {
        if let Some(mut child) = self.children.remove(name) {
            let _ = child.wait();
            unregister(child.id());
        }
    }

    /// Ends the run: SIGTERM to every server (each logs its table and stops), SIGKILL to any
    /// still running after [`STOP_GRACE`]. Returns the servers that had already exited on
    /// their own before the end, with their status: a failure of the system under test.
    pub async fn stop_all(&mut self) -> Vec<(String, String)> {
        let mut exited_early = Vec::new();
        for (name, child) in &mut self.children {
            match child.try_wait() {
                Ok(Some(status)) => exited_early.push((name.clone(), status.to_string())),
                _ => signal(child.id(), libc::SIGTERM),
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            let running = self
                .children
                .values_mut()
                .map(|c| matches!(c.try_wait(), Ok(None)))
                .filter(|running| *running)
                .count();
            if running == 0 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        let names: Vec<String> = self.children.keys().cloned().collect();
        for name in names {
            self.kill(&name);
        }
        exited_early
    }
}

fn unregister(pid: u32) {
    if let Ok(mut live) = LIVE.lock() {
        live.remove(&pid);
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        let names: Vec<String> = self.children.keys().cloned().collect();
        for name in names {
            self.kill(&name);
        }
    }
}
