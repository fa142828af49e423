//! Real mode: a scenario run against real `server` processes on loopback, judged by the same
//! checkers as the simulation.
//!
//! - [`procs`]: the binary, free ports, starting and killing processes, no orphans;
//! - [`proxy`]: the fault proxy on every peer link and every server's way to Places;
//! - [`places_mock`]: Places on wiremock, with the scenario's `places` faults;
//! - [`logs`]: the servers' log files read back into the typed trace;
//! - [`compare`]: the two modes' verdicts side by side;
//! - [`files`]: `--real` and `--compare` on files, several at once;
//! - [`swarm`]: `sim swarm --real` and `sim swarm --compare`.
//!
//! The timeline is real: a step at `2s` happens two wall-clock seconds after every server
//! listens, and every time in the trace is real time since then. Client commands go straight
//! to the servers, each on its own connection, as the simulation's client loop sends them.

pub mod compare;
pub mod files;
pub mod logs;
pub mod places_mock;
pub mod procs;
pub mod proxy;
pub mod swarm;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use server::config::Herd;
use tokio::task::JoinSet;

use crate::harness::{CLIENT_TIMEOUT, Run, SutFailure};
use crate::hosts::PLACES_HOST;
use crate::places_stub::FaultCell;
use crate::recorder::Recorder;
use crate::report::{self, Judged};
use crate::scenario::{Action, Scenario};
use crate::trace::replay::Downtime;
use crate::trace::{Trace, TraceEvent};

/// What a real-mode run needs besides the scenario.
#[derive(Debug, Clone)]
pub struct RealOptions {
    /// The `server` binary ([`procs::server_binary`]).
    pub binary: PathBuf,
    /// Print each process as it starts (pid, port, log file) on stderr.
    pub announce: bool,
}

/// A finished real-mode run.
pub struct RealRun {
    pub run: Run,
    /// Every server process the run started, restarts included.
    pub pids: Vec<u32>,
    /// Herd files, logs and the servers' own output.
    pub dir: PathBuf,
    /// What real mode did differently from the simulation, in words (e.g. a skew applied at
    /// a restart), printed with the report.
    pub notes: Vec<String>,
}

/// Runs `scenario` against real processes, on a runtime of its own.
pub fn run(scenario: &Scenario, options: &RealOptions) -> anyhow::Result<RealRun> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        procs::install_interrupt_handler();
        drive(scenario, options).await
    })
}

/// Runs `scenario` against real processes and judges the run as the simulation's are
/// judged ([`Judged::judge`]).
pub fn run_and_judge(
    scenario: &Scenario,
    options: &RealOptions,
) -> anyhow::Result<(Judged, RealRun)> {
    let mut real = run(scenario, options)?;
    let run = std::mem::replace(&mut real.run, empty_run());
    Ok((Judged::judge(scenario, run), real))
}

fn empty_run() -> Run {
    Run {
        trace: Trace::new(),
        end: Duration::ZERO,
        final_tables: BTreeMap::new(),
        sut_failure: None,
        wall: Duration::ZERO,
    }
}

/// The simulation's report with `mode: real` after its header, and real mode's notes.
pub fn human_report(
    path: &Path,
    scenario: &Scenario,
    judged: &Judged,
    real: &RealRun,
    show_timeline: bool,
) -> String {
    let text = report::human_report(path, scenario, judged, show_timeline);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = lines.len().min(2);
    let mut inserted = vec![format!(
        "mode: real (processes and logs in {})",
        real.dir.display()
    )];
    inserted.extend(real.notes.iter().map(|n| format!("note: {n}")));
    lines.splice(header..header, inserted);
    let mut out = lines.join("\n");
    out.push('\n');
    out.replace(
        &format!("reproduce: cargo run -p sim -- {}", path.display()),
        &format!("reproduce: cargo run -p sim -- --real {}", path.display()),
    )
}

/// A directory of its own for one run's herd files and logs.
fn run_dir(scenario: &Scenario) -> anyhow::Result<PathBuf> {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUNS.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "sim-real-{}-{n}-seed{}",
        std::process::id(),
        scenario.seed
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

/// The herd file one process reads: every server on loopback at its real port, except its
/// neighbours, which are at the proxy ports of its links to them.
fn herd_file(herd: &Herd, ports: &BTreeMap<String, u16>) -> String {
    let servers: Vec<serde_json::Value> = herd
        .servers
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "host": "127.0.0.1", "port": ports[&s.name] }))
        .collect();
    let links: Vec<serde_json::Value> = herd
        .links
        .iter()
        .map(|l| serde_json::json!({ "between": l.between, "classic": l.classic }))
        .collect();
    let mut file = serde_json::json!({ "servers": servers, "links": links, "limits": herd.limits });
    // A durable store in real files under the run's directory (`data/<name>/`). A crash is
    // SIGKILL there: the process dies, but what it wrote survives in the OS's cache, so real
    // mode tests a process crash, not the power loss the simulation models.
    if herd.data_dir.is_some() {
        file["data_dir"] = serde_json::json!("data");
    }
    file.to_string()
}

async fn drive(scenario: &Scenario, options: &RealOptions) -> anyhow::Result<RealRun> {
    let started_wall = Instant::now();
    let dir = run_dir(scenario)?;
    let mut herd = scenario.herd.clone();
    herd.limits = scenario.effective_limits();
    let names = scenario.server_names();
    let mut ports = BTreeMap::new();
    // Held until the servers start, so the proxy's own binds below cannot land on them.
    let mut reserved = Vec::new();
    for name in &names {
        let (port, listener) = procs::reserve_port()?;
        ports.insert(name.clone(), port);
        reserved.push(listener);
    }

    let events = Recorder::default();
    let places_fault: FaultCell = Arc::default();
    let mock = places_mock::start(places_fault.clone(), events.clone()).await;
    let latency = scenario.network.latency;
    let proxy = proxy::FaultProxy::new((latency.min, latency.max), scenario.seed);
    let mut launches = BTreeMap::new();
    for name in &names {
        let mut seen = ports.clone();
        for neighbour in herd.neighbours(name) {
            let target = ([127, 0, 0, 1], ports[&neighbour.name]).into();
            let port = proxy.add_link(name, &neighbour.name, target).await?;
            seen.insert(neighbour.name.clone(), port);
        }
        let places_port = proxy.add_link(name, PLACES_HOST, *mock.address()).await?;
        let herd_path = dir.join(format!("{name}.herd.yaml"));
        std::fs::write(&herd_path, herd_file(&herd, &seen))?;
        launches.insert(
            name.clone(),
            procs::Launch {
                herd_file: herd_path,
                places_base: format!("http://127.0.0.1:{places_port}/{name}"),
                places_api: scenario.places_api,
                clock_offset: "0s".into(),
                secret: (!scenario.unauthenticated).then_some(procs::HERD_SECRET),
            },
        );
    }

    drop(reserved);
    let mut processes = procs::Processes::new(&options.binary, &dir, launches);
    let mut notes = Vec::new();
    // A skew at the start is the process's clock offset from its first instant.
    for step in scenario.steps.iter().take_while(|s| s.at.is_zero()) {
        if let Action::Skew(skew) = &step.action {
            processes.set_clock_offset(&skew.server, skew.by.to_string());
        }
    }
    for name in &names {
        let pid = processes.start(name).await?;
        if options.announce {
            eprintln!(
                "real: started {name} (pid {pid}) on 127.0.0.1:{}, log {}",
                ports[name],
                processes.log_file(name).display()
            );
        }
    }

    let start = Instant::now();
    events.start_real_time(start);
    let start_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut sut_failure = None;
    let mut clients = JoinSet::new();
    // Crashes so far per server: a client exchange that a crash interrupted ends as in the
    // simulation, where a crashed host goes silent and the client gets no reply at all.
    let crashes: BTreeMap<String, Arc<AtomicU64>> =
        names.iter().map(|n| (n.clone(), Arc::default())).collect();
    for step in &scenario.steps {
        tokio::time::sleep_until((start + step.at).into()).await;
        let now = events.now();
        if let Some(event) = TraceEvent::fault(now, step.id, &step.action) {
            events.push(event);
        }
        let client = |client: &str, server: &str, bytes: Option<Vec<u8>>| Command {
            id: step.id,
            client: client.to_string(),
            server: server.to_string(),
            port: ports[server],
            bytes,
            crashes: crashes[server].clone(),
        };
        match &step.action {
            Action::IamAt(iamat) => {
                let line = format!(
                    "IAMAT {} {} {}\n",
                    iamat.client,
                    iamat.location,
                    iamat.timestamp.clone().unwrap_or_else(clock_text)
                );
                let command = client(&iamat.client, &iamat.server, Some(line.into_bytes()));
                clients.spawn(command.run(events.clone()));
            }
            Action::WhatsAt(w) => {
                let line = format!("WHATSAT {} {} {}\n", w.client, w.radius_km, w.bound);
                let command = client(&w.client, &w.server, Some(line.into_bytes()));
                clients.spawn(command.run(events.clone()));
            }
            Action::Raw(raw) => {
                let command = client(&raw.client, &raw.server, Some(raw.bytes()));
                clients.spawn(command.run(events.clone()));
            }
            Action::Partition(cut) | Action::Repair(cut) => {
                let on = matches!(step.action, Action::Partition(_));
                for (a, b) in pairs(&cut.between, &cut.and) {
                    proxy.update(a, b, |s| s.cut = on);
                    if !cut.oneway {
                        proxy.update(b, a, |s| s.cut = on);
                    }
                }
            }
            Action::Hold(groups) | Action::Release(groups) => {
                let on = matches!(step.action, Action::Hold(_));
                for (a, b) in pairs(&groups.between, &groups.and) {
                    proxy.update(a, b, |s| s.held = on);
                    proxy.update(b, a, |s| s.held = on);
                }
            }
            Action::Latency(l) => {
                for (a, b) in pairs(&l.between, &l.and) {
                    let range = (l.latency.min, l.latency.max);
                    proxy.update(a, b, |s| s.latency = range);
                    proxy.update(b, a, |s| s.latency = range);
                }
            }
            Action::Crash(server) => {
                crashes[server].fetch_add(1, Ordering::SeqCst);
                proxy.crash(server);
                processes.kill(server);
            }
            Action::Restart(server) => {
                if let Err(e) = processes.start(server).await {
                    sut_failure = Some(SutFailure {
                        at: events.now(),
                        message: format!("restart: {e:#}"),
                    });
                    break;
                }
            }
            Action::Skew(skew) => {
                processes.set_clock_offset(&skew.server, skew.by.to_string());
                if !step.at.is_zero() {
                    notes.push(format!(
                        "skew of {} at {}: a process's clock offset is set as it starts, so it applies from {}'s next restart",
                        skew.server,
                        crate::scenario::fmt_duration(step.at),
                        skew.server
                    ));
                }
            }
            Action::Disk(disk) => notes.push(format!(
                "disk fault {} on {} at {}: not injected, a real disk cannot be made to flip a bit, fail a sync or fill on cue",
                disk.fault.as_str(),
                disk.server,
                crate::scenario::fmt_duration(step.at)
            )),
            Action::Places(fault) => {
                if let Ok(mut current) = places_fault.lock() {
                    *current = fault.clone();
                }
            }
            Action::Load(load) => {
                events.push(TraceEvent::load_sent(now, step.id, load));
                let port = ports[&load.server];
                let run =
                    crate::bulk::run_load(step.id, load.clone(), port, events.clone(), clock_text);
                clients.spawn(run);
            }
            Action::Hostile(hostile) => {
                let port = ports[&hostile.server];
                let run = crate::bulk::run_hostile(
                    step.id,
                    hostile.clone(),
                    port,
                    events.clone(),
                    clock_text,
                    procs::HERD_SECRET.as_bytes(),
                );
                clients.spawn(run);
            }
        }
    }
    tokio::time::sleep_until((start + scenario.duration).into()).await;
    let end = events.now();
    events.close();
    clients.abort_all();
    let exited = processes.stop_all().await;
    drop(proxy);
    drop(mock);
    if let Some((name, status)) = exited.first() {
        sut_failure.get_or_insert(SutFailure {
            at: end,
            message: format!("{name} exited on its own ({status})"),
        });
    }

    let mut all = events.take().events;
    let tables = match logs::read_all(&dir.join("logs"), &names, start_epoch, end, &mut all) {
        Ok(tables) => tables,
        Err(message) => {
            sut_failure.get_or_insert(SutFailure { at: end, message });
            BTreeMap::new()
        }
    };
    all.sort_by_key(|e| e.at);
    let mut trace = Trace::new();
    for event in all {
        trace.push(event);
    }
    let downtime = Downtime::from_trace(&trace);
    let final_tables = names
        .iter()
        .map(|s| {
            let table =
                (!downtime.down_at_end(s)).then(|| tables.get(s).cloned().unwrap_or_default());
            (s.clone(), table)
        })
        .collect();
    Ok(RealRun {
        run: Run {
            trace,
            end,
            final_tables,
            sut_failure,
            wall: started_wall.elapsed(),
        },
        pids: processes.started.clone(),
        dir,
        notes,
    })
}

fn pairs<'a>(a: &'a [String], b: &'a [String]) -> Vec<(&'a str, &'a str)> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| (x.as_str(), y.as_str())))
        .collect()
}

/// The real clock as IAMAT timestamp text, to the nanosecond.
fn clock_text() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// One client command on its own connection: write, half-close, read everything.
struct Command {
    id: u64,
    client: String,
    server: String,
    port: u16,
    bytes: Option<Vec<u8>>,
    /// The server's crash count: one that moves during the exchange means the reply (or its
    /// end) came from the kernel closing a killed process's socket, not from the server.
    crashes: Arc<AtomicU64>,
}

impl Command {
    async fn run(self, events: Recorder) {
        let bytes = self.bytes.unwrap_or_default();
        events.push(TraceEvent::client_send(
            events.now(),
            self.id,
            &self.client,
            &self.server,
            &bytes,
        ));
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
            crate::harness::one_exchange(stream, &bytes).await
        };
        let (id, client, server) = (self.id, &self.client, &self.server);
        let crashes_before = self.crashes.load(Ordering::SeqCst);
        let result = tokio::time::timeout(CLIENT_TIMEOUT, exchange).await;
        let event = match result {
            _ if self.crashes.load(Ordering::SeqCst) != crashes_before => TraceEvent::client_error(
                events.now(),
                id,
                client,
                server,
                "the server crashed during the exchange",
            ),
            Ok(Ok(reply)) => TraceEvent::client_reply(
                events.now(),
                id,
                client,
                server,
                &String::from_utf8_lossy(&reply),
            ),
            Ok(Err(e)) => {
                TraceEvent::client_error(events.now(), id, client, server, &e.to_string())
            }
            Err(_) => {
                TraceEvent::client_error(events.now(), id, client, server, "no reply in time")
            }
        };
        events.push(event);
    }
}
