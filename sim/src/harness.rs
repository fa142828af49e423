//! The driver: builds a turmoil simulation from a scenario, runs the unchanged server library
//! on one host per herd server, the Places stub on `places` and one host per client, applies
//! the timed steps between `sim.step()` calls, and returns the recorded run.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use server::backoff::stable_hash;
use server::config::Herd;
use server::net::Env;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

use crate::bulk;
use crate::hosts::{CLIENTS_HOST, PLACES_HOST};
use crate::places_stub::{self, FaultCell};
use crate::recorder::{Recorder, TraceLayer};
use crate::scenario::{Action, Scenario, Step};
use crate::simnet::{SkewedClock, Skews, TurmoilNet, places_client};
use crate::trace::replay::Downtime;
use crate::trace::{Trace, TraceEvent};

/// The simulated wall clock at the start of every run: fixed, so traces never vary.
pub const EPOCH_SECS: u64 = 1_700_000_000;
/// The secret every simulated herd shares (hostile clients do not know it).
pub const SIMULATED_SECRET: &[u8] = b"simulated herd secret";
/// A client reads at most this much of one reply.
pub const REPLY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// After the run, servers get this long (simulated) to stop and report their tables.
pub const STOP_WINDOW: Duration = Duration::from_secs(5);
/// A client gives up on a reply after this long (simulated).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a run could not finish: the system under test crashed or panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SutFailure {
    pub at: Duration,
    pub message: String,
}

/// A finished run: the trace and what the driver knows about the end state.
pub struct Run {
    pub trace: Trace,
    pub end: Duration,
    pub final_tables: BTreeMap<String, Option<Vec<String>>>,
    pub sut_failure: Option<SutFailure>,
    /// Wall time the run took (reported, never snapshotted).
    pub wall: Duration,
}

/// One client command, sent from the driver to a client host.
struct ClientCommand {
    id: u64,
    client: String,
    server: String,
    port: u16,
    payload: Payload,
}

enum Payload {
    Bytes(Vec<u8>),
    Load(crate::scenario::Load),
    Hostile(crate::scenario::Hostile),
    /// An IAMAT whose timestamp, if not given, is the client's clock at send.
    IamAt {
        client: String,
        location: String,
        timestamp: Option<String>,
    },
}

/// The herd as the simulation runs it: each server's host is its turmoil host name.
pub fn simulated_herd(scenario: &Scenario) -> Herd {
    let mut herd = scenario.herd.clone();
    herd.limits = scenario.effective_limits();
    // Every simulated herd shares a secret, so links run the real, authenticated handshake.
    herd.secret = server::config::Secret::new(SIMULATED_SECRET);
    for server in &mut herd.servers {
        server.host = server.name.clone();
    }
    herd
}

/// Runs `scenario` to its end and returns the recorded run.
pub fn run(scenario: &Scenario) -> Run {
    let recorder = Recorder::default();
    // Filtered per layer so turmoil's own spans (one per host per tick) never reach the
    // registry: the recording then costs next to nothing when servers are idle.
    let subscriber = tracing_subscriber::registry().with(
        TraceLayer {
            recorder: recorder.clone(),
        }
        .with_filter(
            tracing_subscriber::filter::Targets::new().with_target("server", tracing::Level::INFO),
        ),
    );
    let started = Instant::now();
    let herd = simulated_herd(scenario);
    let (end, sut_failure) = tracing::subscriber::with_default(subscriber, || {
        let driven =
            std::panic::catch_unwind(AssertUnwindSafe(|| drive(scenario, herd, &recorder)));
        match driven {
            Ok(result) => result,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                let at = recorder.now();
                (
                    at,
                    Some(SutFailure {
                        at,
                        message: format!("panic: {message}"),
                    }),
                )
            }
        }
    });
    let sut_failure = sut_failure.or_else(|| {
        recorder
            .first_unreadable()
            .map(|(at, message)| SutFailure { at, message })
    });
    let trace = recorder.take();
    let final_tables = final_tables(&trace, &scenario.server_names(), &recorder.tables());
    Run {
        trace,
        end,
        final_tables,
        sut_failure,
        wall: started.elapsed(),
    }
}

/// A turmoil simulation with the scenario's seed, tick, latencies, length and the fixed epoch.
pub fn new_simulation(scenario: &Scenario) -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .simulation_duration(scenario.duration + STOP_WINDOW + Duration::from_secs(1))
        .tick_duration(scenario.tick)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .min_message_latency(scenario.network.latency.min)
        .max_message_latency(scenario.network.latency.max)
        .rng_seed(scenario.seed)
        .build()
}

/// Adds server `name` of `herd` as a host running the unchanged library (again after each
/// restart: turmoil calls the factory anew), on turmoil's network and skewed clock.
/// The server stops gracefully when `stop` turns true (or its sender is dropped).
pub fn add_server_host(
    sim: &mut turmoil::Sim<'_>,
    herd: &Arc<Herd>,
    name: &str,
    scenario_seed: u64,
    skews: &Skews,
    stop: &watch::Receiver<bool>,
) {
    let (herd, skews, name, stop) = (herd.clone(), skews.clone(), name.to_string(), stop.clone());
    let seed = scenario_seed ^ stable_hash(&[&name]);
    sim.host(name.clone(), move || {
        let (herd, skews, name, mut stop) =
            (herd.clone(), skews.clone(), name.clone(), stop.clone());
        async move {
            let env = Env {
                net: Arc::new(TurmoilNet),
                clock: Arc::new(SkewedClock {
                    server: name.clone(),
                    skews,
                }),
                places: places_client(&herd.limits),
                seed,
            };
            let shutdown = async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            };
            server::run(herd, &name, env, shutdown).await?;
            Ok(())
        }
    });
}

fn drive(scenario: &Scenario, herd: Herd, recorder: &Recorder) -> (Duration, Option<SutFailure>) {
    let mut sim = new_simulation(scenario);
    let herd = Arc::new(herd);
    let skews: Skews = Arc::new(Mutex::new(BTreeMap::new()));
    let (stop, stopping) = watch::channel(false);
    for spec in &herd.servers {
        add_server_host(
            &mut sim,
            &herd,
            &spec.name,
            scenario.seed,
            &skews,
            &stopping,
        );
    }

    let places_fault: FaultCell = Arc::default();
    {
        let (fault, recorder) = (places_fault.clone(), recorder.clone());
        sim.host(PLACES_HOST, move || {
            places_stub::serve(fault.clone(), recorder.clone())
        });
    }

    let (clients, commands) = mpsc::unbounded_channel();
    sim.client(CLIENTS_HOST, client_loop(commands, recorder.clone()));

    let ports: BTreeMap<String, u16> = herd
        .servers
        .iter()
        .map(|s| (s.name.clone(), s.port))
        .collect();
    let mut hosts: Vec<String> = herd.servers.iter().map(|s| s.name.clone()).collect();
    hosts.push(PLACES_HOST.to_string());
    hosts.push(CLIENTS_HOST.to_string());
    let mut driver = Driver {
        sim,
        clients,
        ports,
        hosts,
        cut: BTreeSet::new(),
        skews,
        places_fault,
        recorder: recorder.clone(),
    };
    let mut steps = scenario.steps.iter().peekable();
    loop {
        let now = driver.sim.elapsed();
        recorder.set_driver_now(now);
        while let Some(step) = steps.next_if(|s| s.at <= now) {
            driver.apply(step, now);
        }
        if now >= scenario.duration {
            stop_servers(&mut driver.sim, &herd, &stop, recorder);
            return (now, None);
        }
        if let Err(e) = driver.sim.step() {
            let at = driver.sim.elapsed();
            return (
                at,
                Some(SutFailure {
                    at,
                    message: e.to_string(),
                }),
            );
        }
    }
}

/// Ends the run: the trace is closed, every running server stops gracefully and reports the
/// table it really holds (`table_record` events), which the checkers compare with the table
/// its trace implies.
fn stop_servers(
    sim: &mut turmoil::Sim<'_>,
    herd: &Herd,
    stop: &watch::Sender<bool>,
    recorder: &Recorder,
) {
    recorder.close();
    stop.send_replace(true);
    let deadline = sim.elapsed() + STOP_WINDOW;
    while sim.elapsed() < deadline
        && herd
            .servers
            .iter()
            .any(|s| sim.is_host_running(s.name.as_str()))
    {
        if sim.step().is_err() {
            break;
        }
    }
}

/// What the driver holds while it applies steps between `sim.step()` calls.
struct Driver<'a> {
    sim: turmoil::Sim<'a>,
    clients: mpsc::UnboundedSender<ClientCommand>,
    ports: BTreeMap<String, u16>,
    /// Every host of the simulation: servers, the Places stub, the clients host.
    hosts: Vec<String>,
    /// Directed host pairs the scenario has cut, so a crash can restore them exactly.
    cut: BTreeSet<(String, String)>,
    skews: Skews,
    places_fault: FaultCell,
    recorder: Recorder,
}

impl Driver<'_> {
    fn apply(&mut self, step: &Step, now: Duration) {
        if let Some(event) = TraceEvent::fault(now, step.id, &step.action) {
            self.recorder.push(event);
        }
        match &step.action {
            Action::IamAt(iamat) => self.send(
                step.id,
                &iamat.client,
                &iamat.server,
                Payload::IamAt {
                    client: iamat.client.clone(),
                    location: iamat.location.clone(),
                    timestamp: iamat.timestamp.clone(),
                },
            ),
            Action::WhatsAt(w) => {
                let line = format!("WHATSAT {} {} {}\n", w.client, w.radius_km, w.bound);
                self.send(
                    step.id,
                    &w.client,
                    &w.server,
                    Payload::Bytes(line.into_bytes()),
                )
            }
            Action::Raw(raw) => self.send(
                step.id,
                &raw.client,
                &raw.server,
                Payload::Bytes(raw.bytes()),
            ),
            Action::Partition(cut) => {
                for (a, b) in pairs(&cut.between, &cut.and) {
                    self.cut.insert((a.clone(), b.clone()));
                    if cut.oneway {
                        self.sim.partition_oneway(a, b);
                    } else {
                        self.cut.insert((b.clone(), a.clone()));
                        self.sim.partition(a, b);
                    }
                }
            }
            Action::Repair(cut) => {
                for (a, b) in pairs(&cut.between, &cut.and) {
                    self.cut.remove(&(a.clone(), b.clone()));
                    if cut.oneway {
                        self.sim.repair_oneway(a, b);
                    } else {
                        self.cut.remove(&(b.clone(), a.clone()));
                        self.sim.repair(a, b);
                    }
                }
            }
            Action::Hold(groups) => {
                for (a, b) in pairs(&groups.between, &groups.and) {
                    self.sim.hold(a, b);
                }
            }
            Action::Release(groups) => {
                for (a, b) in pairs(&groups.between, &groups.and) {
                    self.sim.release(a, b);
                }
            }
            Action::Latency(l) => {
                for (a, b) in pairs(&l.between, &l.and) {
                    self.sim
                        .set_link_latency(a.clone(), b.clone(), l.latency.min);
                    self.sim.set_link_max_message_latency(a, b, l.latency.max);
                }
            }
            Action::Load(load) => {
                self.recorder
                    .push(TraceEvent::load_sent(now, step.id, load));
                self.send(
                    step.id,
                    &load.prefix,
                    &load.server,
                    Payload::Load(load.clone()),
                )
            }
            Action::Hostile(hostile) => self.send(
                step.id,
                crate::scenario::Hostile::CLIENT,
                &hostile.server,
                Payload::Hostile(hostile.clone()),
            ),
            Action::Crash(server) => self.crash(server),
            Action::Restart(server) => self.sim.bounce(server.as_str()),
            Action::Skew(skew) => {
                if let Ok(mut skews) = self.skews.lock() {
                    skews.insert(skew.server.clone(), skew.by.nanos());
                }
            }
            Action::Places(fault) => {
                if let Ok(mut current) = self.places_fault.lock() {
                    *current = fault.clone();
                }
            }
        }
    }

    fn send(&self, id: u64, client: &str, server: &str, payload: Payload) {
        let port = self.ports.get(server).copied().unwrap_or(0);
        let _ = self.clients.send(ClientCommand {
            id,
            client: client.to_string(),
            server: server.to_string(),
            port,
            payload,
        });
    }

    /// A crash is silent: the host falls off the network at once (what it had in flight is
    /// lost, its sockets say no goodbye), then its software is dropped, then its links come
    /// back as the scenario had them. Silence is what keeps a crash deterministic: tokio drops
    /// a runtime's tasks in an order that depends on process-global task ids, so the FINs a
    /// "clean" crash would send leave in an order that differs from run to run in one process.
    /// Peers notice by heartbeat, or by the reset their next message gets.
    fn crash(&mut self, server: &str) {
        let others: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| *h != server)
            .cloned()
            .collect();
        for other in &others {
            self.sim.partition_oneway(server, other.as_str());
        }
        self.sim.crash(server);
        for other in &others {
            if !self.cut.contains(&(server.to_string(), other.clone())) {
                self.sim.repair_oneway(server, other.as_str());
            }
        }
    }
}

fn pairs(a: &[String], b: &[String]) -> Vec<(String, String)> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| (x.clone(), y.clone())))
        .collect()
}

/// The clients' host: runs each command it is handed on its own connection, the way the
/// classic client does (write, half-close, read everything), concurrently with the others.
async fn client_loop(
    mut commands: mpsc::UnboundedReceiver<ClientCommand>,
    recorder: Recorder,
) -> turmoil::Result {
    while let Some(command) = commands.recv().await {
        let (client, recorder) = (command.client.clone(), recorder.clone());
        tokio::spawn(async move {
            let bytes = match command.payload {
                Payload::Load(load) => {
                    return bulk::run_load(
                        command.id,
                        load,
                        command.port,
                        recorder,
                        client_clock_text,
                    )
                    .await;
                }
                Payload::Hostile(hostile) => {
                    return bulk::run_hostile(
                        command.id,
                        hostile,
                        command.port,
                        recorder,
                        client_clock_text,
                    )
                    .await;
                }
                Payload::Bytes(bytes) => bytes,
                Payload::IamAt {
                    client,
                    location,
                    timestamp,
                } => {
                    let timestamp = timestamp.unwrap_or_else(client_clock_text);
                    format!("IAMAT {client} {location} {timestamp}\n").into_bytes()
                }
            };
            recorder.push(TraceEvent::client_send(
                recorder.now(),
                command.id,
                &client,
                &command.server,
                &bytes,
            ));
            let exchange = async {
                let mut stream =
                    turmoil::net::TcpStream::connect((command.server.as_str(), command.port))
                        .await?;
                stream.write_all(&bytes).await?;
                stream.shutdown().await?;
                let mut reply = Vec::new();
                (&mut stream)
                    .take(REPLY_BYTES_MAX as u64)
                    .read_to_end(&mut reply)
                    .await?;
                Ok::<_, std::io::Error>(reply)
            };
            let event = match tokio::time::timeout(CLIENT_TIMEOUT, exchange).await {
                Ok(Ok(reply)) => TraceEvent::client_reply(
                    recorder.now(),
                    command.id,
                    &client,
                    &command.server,
                    &String::from_utf8_lossy(&reply),
                ),
                Ok(Err(e)) => TraceEvent::client_error(
                    recorder.now(),
                    command.id,
                    &client,
                    &command.server,
                    &e.to_string(),
                ),
                Err(_) => TraceEvent::client_error(
                    recorder.now(),
                    command.id,
                    &client,
                    &command.server,
                    "no reply in time",
                ),
            };
            recorder.push(event);
        });
    }
    Ok(())
}

/// The client's simulated wall clock as IAMAT timestamp text, to the nanosecond.
fn client_clock_text() -> String {
    let now = turmoil::since_epoch().unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// Each server's table at the end as the server itself reported it; `None` for a server that
/// was down at the end.
fn final_tables(
    trace: &Trace,
    servers: &[String],
    reported: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Option<Vec<String>>> {
    let downtime = Downtime::from_trace(trace);
    servers
        .iter()
        .map(|s| {
            let table =
                (!downtime.down_at_end(s)).then(|| reported.get(s).cloned().unwrap_or_default());
            (s.clone(), table)
        })
        .collect()
}
