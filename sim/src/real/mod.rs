//! Real mode: a scenario run against real `server` processes on loopback, judged by the same
//! checkers as the simulation.
//!
//! - [`procs`]: the binary, free ports, starting and killing processes, no orphans;
//! - [`proxy`]: the fault proxy on every peer link and every server's way to Places;
//! - [`places_mock`]: Places on wiremock, with the scenario's `places` faults;
//! - [`logs`]: the servers' log files read back into the typed trace;
//! - [`calendar`]: the herd's clocks and the clients' timestamps on the scenario's `start`;
//! - [`compare`]: the two modes' verdicts side by side;
//! - [`files`]: `--real` and `--compare` on files, several at once;
//! - [`swarm`]: `sim swarm --real` and `sim swarm --compare`;
//! - [`world`]: the processes as the driver's world ([`crate::harness::World`]): the same
//!   driver as the simulation's hands them the scenario's steps.
//!
//! The timeline is real: a step at `2s` happens two wall-clock seconds after every server
//! listens, and every time in the trace is real time since then. The herd's clocks read the
//! scenario's calendar ([`calendar`]), as the simulation's do. Client commands go straight
//! to the servers, each on its own connection, as the simulation's client loop sends them.

pub mod calendar;
pub mod compare;
pub mod files;
pub mod logs;
pub mod places_mock;
pub mod procs;
pub mod proxy;
pub mod swarm;
pub mod world;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use server::config::Herd;
use tokio::task::JoinSet;

use crate::harness::{self, Run, SutFailure};
use crate::hosts::PLACES_HOST;
use crate::places_stub::FaultCell;
use crate::recorder::Recorder;
use crate::report::{self, Judged};
use crate::scenario::{Action, Scenario};
use crate::trace::Trace;
use crate::trace::replay::Downtime;
use calendar::Calendar;
use world::ProcessWorld;

/// What a real-mode run needs besides the scenario.
#[derive(Debug, Clone)]
pub struct RealOptions {
    /// The `server` binary ([`procs::server_binary`]).
    pub binary: PathBuf,
    /// Print each process as it starts (pid, port, log file) on stderr.
    pub announce: bool,
    /// The command line's flags, for reproduce lines.
    pub invocation: report::Invocation,
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
    if let Some(canary) = scenario.canary {
        anyhow::bail!(
            "canary `{canary}` runs only in the simulation: the server binary has no canaries"
        );
    }
    drive(scenario, options)
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

/// The simulation's report with `mode: real` after its header, and real mode's notes; its
/// reproduce line says `--real`.
pub fn human_report(
    path: &Path,
    scenario: &Scenario,
    judged: &Judged,
    real: &RealRun,
    show_timeline: bool,
    invocation: &report::Invocation,
) -> String {
    let invocation = invocation.in_mode(Some("--real"));
    let text = report::human_report(path, scenario, judged, show_timeline, &invocation);
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
    out
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

/// The herd file one process reads: every server on loopback at its real client and peer
/// ports, except its neighbours, which are at the proxy ports of its links to them (the peer
/// port for a persistent link, the client port for a classic one).
fn herd_file(
    herd: &Herd,
    (ports, peer_ports): (&BTreeMap<String, u16>, &BTreeMap<String, u16>),
    tls: bool,
) -> String {
    let servers: Vec<serde_json::Value> = herd
        .servers
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "host": "127.0.0.1",
                "port": ports[&s.name],
                "peer_port": peer_ports[&s.name],
            })
        })
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
    // The herd's certificates, written from the scenario's seed as the simulation makes them.
    if tls {
        file["tls_dir"] = serde_json::json!(procs::TLS_DIR);
    }
    file.to_string()
}

/// Sets the run up on `runtime`: free ports, the Places mock, the fault proxy on every link,
/// a herd file per process, the calendar, and every server started and listening.
async fn set_up(
    scenario: &Scenario,
    options: &RealOptions,
    dir: &Path,
    events: &Recorder,
) -> anyhow::Result<(Parts, wiremock::MockServer)> {
    let mut herd = scenario.herd.clone();
    herd.limits = scenario.effective_limits();
    let names = scenario.server_names();
    let mut ports = BTreeMap::new();
    let mut peer_ports = BTreeMap::new();
    // Held until the servers start, so the proxy's own binds below cannot land on them.
    let mut reserved = Vec::new();
    for name in &names {
        for map in [&mut ports, &mut peer_ports] {
            let (port, listener) = procs::reserve_port()?;
            map.insert(name.clone(), port);
            reserved.push(listener);
        }
    }

    let certs =
        (!scenario.unauthenticated).then(|| crate::simcerts::SimCerts::new(scenario.seed, &names));
    if let Some(certs) = &certs {
        certs.write(&dir.join(procs::TLS_DIR))?;
    }
    let places_fault: FaultCell = Arc::default();
    let mock = places_mock::start(places_fault.clone(), events.clone()).await;
    let latency = scenario.network.latency;
    let tampering = crate::simnet::tamper::Tampering::for_scenario(scenario, events);
    let proxy = proxy::FaultProxy::new((latency.min, latency.max), scenario.seed, tampering);
    let mut launches = BTreeMap::new();
    for name in &names {
        let (mut seen, mut seen_peer) = (ports.clone(), peer_ports.clone());
        for neighbour in herd.neighbours(name) {
            // A persistent link dials the neighbour's peer port, a classic one its client port.
            let real = if neighbour.classic {
                &mut seen
            } else {
                &mut seen_peer
            };
            let target = ([127, 0, 0, 1], real[&neighbour.name]).into();
            let port = proxy.add_link(name, &neighbour.name, target).await?;
            real.insert(neighbour.name.clone(), port);
        }
        let places_port = proxy.add_link(name, PLACES_HOST, *mock.address()).await?;
        let herd_path = dir.join(format!("{name}.herd.yaml"));
        let file = herd_file(&herd, (&seen, &seen_peer), certs.is_some());
        std::fs::write(&herd_path, file)?;
        launches.insert(
            name.clone(),
            procs::Launch {
                herd_file: herd_path,
                places_base: format!("http://127.0.0.1:{places_port}/{name}"),
                places_api: scenario.places_api,
                clock_offset: "0s".into(),
            },
        );
    }

    drop(reserved);
    let mut processes = procs::Processes::new(&options.binary, dir, launches);
    let calendar = Calendar::starting_at(scenario.start);
    for name in &names {
        processes.set_clock_offset(name, calendar.offset_flag(0));
    }
    // A skew at the start is the process's clock offset from its first instant.
    for step in scenario.steps.iter().take_while(|s| s.at.is_zero()) {
        if let Action::Skew(skew) = &step.action {
            processes.set_clock_offset(&skew.server, calendar.offset_flag(skew.by.nanos()));
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
    let parts = Parts {
        calendar,
        ports,
        peer_ports,
        proxy,
        processes,
        places_fault,
        certs,
    };
    Ok((parts, mock))
}

/// What [`set_up`] hands to the [`ProcessWorld`].
struct Parts {
    calendar: Calendar,
    ports: BTreeMap<String, u16>,
    peer_ports: BTreeMap<String, u16>,
    proxy: Arc<proxy::FaultProxy>,
    processes: procs::Processes,
    places_fault: FaultCell,
    /// The herd's certificates (`None`: an `unauthenticated` scenario, links in clear).
    certs: Option<Arc<crate::simcerts::SimCerts>>,
}

/// Runs `scenario` against real processes on a runtime of its own, through the one driver
/// ([`harness::drive`]), then stops the servers and reads their logs back as the trace.
fn drive(scenario: &Scenario, options: &RealOptions) -> anyhow::Result<RealRun> {
    let started_wall = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = run_dir(scenario)?;
    let events = Recorder::default();
    let (parts, mock) = runtime.block_on(async {
        procs::install_interrupt_handler();
        set_up(scenario, options, &dir, &events).await
    })?;
    let start = Instant::now();
    events.start_real_time(start);
    let start_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let names = scenario.server_names();
    let mut world = ProcessWorld {
        runtime,
        start,
        events: events.clone(),
        calendar: parts.calendar,
        crashes: names.iter().map(|n| (n.clone(), Arc::default())).collect(),
        ports: parts.ports,
        peer_ports: parts.peer_ports,
        proxy: parts.proxy,
        processes: parts.processes,
        places_fault: parts.places_fault,
        certs: parts.certs,
        clients: JoinSet::new(),
        notes: Vec::new(),
        impostors: BTreeMap::new(),
    };
    let (end, mut sut_failure) = harness::drive(scenario, &mut world, &events);
    let end = end.max(events.now());
    events.close();
    world.clients.abort_all();
    let exited = world.runtime.block_on(world.processes.stop_all());
    {
        // The proxy's and the mock's tasks end with them, on their runtime.
        let _entered = world.runtime.enter();
        drop(world.proxy);
        drop(mock);
    }
    if let Some((name, status)) = exited.first() {
        sut_failure.get_or_insert(SutFailure {
            at: end,
            message: format!("{name} exited on its own ({status})"),
        });
    }

    let mut all = events.take().events;
    let files_max = scenario.herd.limits.log_files_max;
    let logs_read = logs::read_all(
        &dir.join("logs"),
        &names,
        files_max,
        start_epoch,
        end,
        &mut all,
    );
    let tables = match logs_read {
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
        pids: world.processes.started.clone(),
        dir,
        notes: world.notes,
    })
}
