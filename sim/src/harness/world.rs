//! The simulated world a run happens in: the herd as the simulation runs it, the turmoil
//! simulation with the scenario's seed, tick and latencies, one host per herd server running
//! the unchanged server library, and [`TurmoilWorld`], the driver's [`World`] on it: time
//! advances by `sim.step()`, commands go to the clients' host, faults to [`Faults`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use server::backoff::stable_hash;
use server::config::Herd;
use server::net::Env;
use tokio::sync::{mpsc, watch};

use super::driver::{SutFailure, World};
use super::faults::{Faults, Taken};
use super::workload::{ClientCommand, client_loop};
use crate::hosts::{CLIENTS_HOST, PLACES_HOST};
use crate::places_stub::{self, FaultCell};
use crate::recorder::Recorder;
use crate::scenario::{PlacesApi, Scenario, Step};
use crate::simcerts::SimCerts;
use crate::simdisk::{DiskFaults, TurmoilDisk};
use crate::simnet::tamper::Tampering;
use crate::simnet::{SkewedClock, Skews, TurmoilNet, places_client};

/// After the run, servers get this long (simulated) to stop and report their tables.
pub const STOP_WINDOW: Duration = Duration::from_secs(5);
/// The simulated disks' block: a write in flight at power loss keeps a prefix of whole blocks.
/// Smaller than most log appends, so power loss tears them.
pub const DISK_BLOCK_BYTES: u64 = 64;
/// The herd as the simulation runs it: each server's host is its turmoil host name.
pub fn simulated_herd(scenario: &Scenario) -> Herd {
    let mut herd = scenario.herd.clone();
    herd.limits = scenario.effective_limits();
    for server in &mut herd.servers {
        server.host = server.name.clone();
    }
    herd
}

/// A turmoil simulation with the scenario's seed, tick, latencies, length and start date.
pub fn new_simulation(scenario: &Scenario) -> turmoil::Sim<'static> {
    let mut builder = turmoil::Builder::new();
    if scenario.herd.data_dir.is_some() {
        // Power loss tears the writes in flight at this granularity (a prefix survives).
        builder.fs().block_size(DISK_BLOCK_BYTES);
    }
    builder
        .simulation_duration(scenario.duration + STOP_WINDOW + Duration::from_secs(1))
        .tick_duration(scenario.tick)
        .epoch(UNIX_EPOCH + scenario.start)
        .min_message_latency(scenario.network.latency.min)
        .max_message_latency(scenario.network.latency.max)
        .rng_seed(scenario.seed)
        .build()
}

/// Adds server `name` of `herd` as a host running the unchanged library (again after each
/// restart: turmoil calls the factory anew), on turmoil's network and skewed clock.
/// The server stops gracefully when `stop` turns true (or its sender is dropped).
#[allow(clippy::too_many_arguments)]
pub fn add_server_host(
    sim: &mut turmoil::Sim<'_>,
    herd: &Arc<Herd>,
    name: &str,
    scenario_seed: u64,
    places_api: PlacesApi,
    skews: &Skews,
    disks: &DiskFaults,
    stop: &watch::Receiver<bool>,
    buggify: Option<&crate::scenario::buggify::BuggifySettings>,
    canary: Option<server::canary::Canary>,
) {
    let host = ServerHost {
        scenario_seed,
        places_api,
        skews: skews.clone(),
        disks: disks.clone(),
        stop: stop.clone(),
        impostors: None,
        tampering: None,
        buggify: buggify.cloned(),
        canary,
        certs: Some(SimCerts::new(scenario_seed, &herd_names(herd))),
    };
    add_host(sim, herd, name, host);
}

/// The servers taken over by an impostor (the `impostor` step), with the recorder it reports
/// to: while a server's name is in the set, its host runs the impostor instead of the server.
#[derive(Clone)]
pub struct Impostors {
    pub taken: Taken,
    pub recorder: Recorder,
}

/// What a server's host is built from, besides the herd and its name.
struct ServerHost {
    scenario_seed: u64,
    places_api: PlacesApi,
    skews: Skews,
    disks: DiskFaults,
    stop: watch::Receiver<bool>,
    impostors: Option<Impostors>,
    /// The attacker on the links' path, when a `tamper` step names one.
    tampering: Option<Tampering>,
    buggify: Option<crate::scenario::buggify::BuggifySettings>,
    canary: Option<server::canary::Canary>,
    /// The herd's certificates: links run over TLS; `None` runs them in plain text.
    certs: Option<Arc<SimCerts>>,
}

/// Adds server `name`'s host; after a restart it runs the server again, or the impostor
/// when one took its address.
fn add_host(sim: &mut turmoil::Sim<'_>, herd: &Arc<Herd>, name: &str, host: ServerHost) {
    let (herd, name) = (herd.clone(), name.to_string());
    let ServerHost {
        scenario_seed,
        places_api,
        skews,
        disks,
        stop,
        impostors,
        tampering,
        buggify,
        canary,
        certs,
    } = host;
    let seed = scenario_seed ^ stable_hash(&[&name]);
    // An impostor stands where the server's links arrive: its peer port.
    let port = herd
        .server(&name)
        .map_or(0, |s| s.peer_port().unwrap_or(s.port));
    sim.host(name.clone(), move || {
        let (herd, skews, name, mut stop, certs) = (
            herd.clone(),
            skews.clone(),
            name.clone(),
            stop.clone(),
            certs.clone(),
        );
        let tampering = tampering.clone();
        let buggify = super::buggify::dice(buggify.as_ref(), scenario_seed, &name);
        // With a data directory, the store writes to this host's simulated disk.
        let disk = herd.data_dir.is_some().then(|| {
            Arc::new(TurmoilDisk::new(&name, disks.clone())) as Arc<dyn server::net::Disk>
        });
        let impostor = impostors.as_ref().and_then(|i| {
            let certificate = i.taken.lock().ok()?.get(&name).cloned()?;
            Some((i.recorder.clone(), certificate))
        });
        async move {
            if let Some((recorder, certificate)) = impostor {
                crate::attacker::impostor(name, port, certs, certificate, recorder).await?;
                return Ok(());
            }
            let env = Env {
                net: Arc::new(TurmoilNet {
                    me: name.clone(),
                    tampering,
                }),
                clock: Arc::new(SkewedClock {
                    server: name.clone(),
                    skews,
                }),
                places: places_client(&herd.limits, places_api),
                seed,
                disk,
                buggify,
                canary,
                tls: certs.as_ref().and_then(|c| c.setup(&name, seed)),
            };
            let shutdown = async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            };
            match server::run(herd, &name, env, shutdown).await {
                // A server whose disk failed stops on purpose (a `disk` step's doing): the
                // trace says so (`store_failed`); it is not the system crashing.
                Ok(()) | Err(server::ServerError::StoreFailed { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    });
}

/// The turmoil simulation as the driver's world: the herd's hosts, the Places stub, the
/// clients' host, and the fault model.
pub struct TurmoilWorld {
    sim: turmoil::Sim<'static>,
    herd: Arc<Herd>,
    clients: mpsc::UnboundedSender<ClientCommand>,
    ports: BTreeMap<String, u16>,
    peer_ports: BTreeMap<String, u16>,
    faults: Faults,
    recorder: Recorder,
    /// Turns true when the run ends: the servers stop gracefully.
    stop: watch::Sender<bool>,
}

impl TurmoilWorld {
    /// The simulation with its hosts: one per herd server, the Places stub and the clients'
    /// host.
    pub fn new(scenario: &Scenario, herd: Herd, recorder: &Recorder) -> TurmoilWorld {
        let mut sim = new_simulation(scenario);
        let herd = Arc::new(herd);
        let skews: Skews = Arc::new(Mutex::new(BTreeMap::new()));
        let disks: DiskFaults = Arc::default();
        let (stop, stopping) = watch::channel(false);
        let tampering = Tampering::for_scenario(scenario, recorder);
        let impostors = Impostors {
            taken: Arc::default(),
            recorder: recorder.clone(),
        };
        let certs =
            (!scenario.unauthenticated).then(|| SimCerts::new(scenario.seed, &herd_names(&herd)));
        for spec in &herd.servers {
            let host = ServerHost {
                scenario_seed: scenario.seed,
                places_api: scenario.places_api,
                skews: skews.clone(),
                disks: disks.clone(),
                stop: stopping.clone(),
                impostors: Some(impostors.clone()),
                tampering: tampering.clone(),
                buggify: scenario.buggify.clone(),
                canary: scenario.canary,
                certs: certs.clone(),
            };
            add_host(&mut sim, &herd, &spec.name, host);
        }

        let places_fault: FaultCell = Arc::default();
        {
            let (fault, recorder) = (places_fault.clone(), recorder.clone());
            sim.host(PLACES_HOST, move || {
                places_stub::serve(fault.clone(), recorder.clone())
            });
        }

        let (clients, commands) = mpsc::unbounded_channel();
        sim.client(CLIENTS_HOST, client_loop(commands, certs, recorder.clone()));

        let ports = herd
            .servers
            .iter()
            .map(|s| (s.name.clone(), s.port))
            .collect();
        let peer_ports = herd
            .servers
            .iter()
            .map(|s| (s.name.clone(), s.peer_port().unwrap_or(s.port)))
            .collect();
        let mut hosts: Vec<String> = herd.servers.iter().map(|s| s.name.clone()).collect();
        hosts.push(PLACES_HOST.to_string());
        hosts.push(CLIENTS_HOST.to_string());
        TurmoilWorld {
            sim,
            herd,
            clients,
            ports,
            peer_ports,
            faults: Faults::new(hosts, skews, places_fault, disks, impostors.taken)
                .with_tampering(tampering),
            recorder: recorder.clone(),
            stop,
        }
    }

    /// Ends the run: the trace is closed, every running server stops gracefully and reports
    /// the table it really holds (`table_record` events), which the checkers compare with the
    /// table its trace implies.
    pub fn stop_servers(&mut self) {
        self.recorder.close();
        self.stop.send_replace(true);
        let deadline = self.sim.elapsed() + STOP_WINDOW;
        while self.sim.elapsed() < deadline
            && self
                .herd
                .servers
                .iter()
                .any(|s| self.sim.is_host_running(s.name.as_str()))
        {
            if self.sim.step().is_err() {
                break;
            }
        }
    }
}

impl World for TurmoilWorld {
    fn advance_to(&mut self, at: Duration) -> Result<(), SutFailure> {
        loop {
            let now = self.sim.elapsed();
            self.recorder.set_driver_now(now);
            if now >= at {
                return Ok(());
            }
            if let Err(e) = self.sim.step() {
                let at = self.sim.elapsed();
                return Err(SutFailure {
                    at,
                    message: e.to_string(),
                });
            }
        }
    }

    fn now(&self) -> Duration {
        self.sim.elapsed()
    }

    fn port(&self, server: &str) -> u16 {
        self.ports.get(server).copied().unwrap_or(0)
    }

    fn peer_port(&self, server: &str) -> u16 {
        self.peer_ports.get(server).copied().unwrap_or(0)
    }

    fn send(&mut self, command: ClientCommand) {
        let _ = self.clients.send(command);
    }

    fn fault(&mut self, step: &Step) -> Result<(), SutFailure> {
        self.faults.apply(&mut self.sim, &step.action);
        Ok(())
    }
}

/// The herd's server names, in file order.
fn herd_names(herd: &Herd) -> Vec<String> {
    herd.servers.iter().map(|s| s.name.clone()).collect()
}
