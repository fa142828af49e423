//! The driver: sets up the hosts of one run, then applies the scenario's timed steps between
//! `sim.step()` calls (commands to the workload, faults to [`Faults`]) until the run ends, and
//! stops the servers so they report their tables.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::config::Herd;
use tokio::sync::{mpsc, watch};

use super::faults::Faults;
use super::workload::{ClientCommand, Payload, client_loop};
use super::world::{STOP_WINDOW, add_server_host, new_simulation};
use crate::hosts::{CLIENTS_HOST, PLACES_HOST};
use crate::places_stub::{self, FaultCell};
use crate::recorder::Recorder;
use crate::scenario::{Action, Hostile, Scenario, Step};
use crate::simdisk::DiskFaults;
use crate::simnet::Skews;
use crate::trace::TraceEvent;

/// Why a run could not finish: the system under test crashed or panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SutFailure {
    pub at: Duration,
    pub message: String,
}

/// Runs `scenario` on `herd` to its end, recording into `recorder`; returns when it ended and
/// why it stopped early, if it did.
pub fn drive(
    scenario: &Scenario,
    herd: Herd,
    recorder: &Recorder,
) -> (Duration, Option<SutFailure>) {
    let (mut driver, herd, stop) = Driver::new(scenario, herd, recorder);
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
    faults: Faults,
    recorder: Recorder,
}

impl Driver<'static> {
    /// The simulation with its hosts: one per herd server, the Places stub and the clients'
    /// host. Also hands back the herd and the sender that stops the servers.
    fn new(
        scenario: &Scenario,
        herd: Herd,
        recorder: &Recorder,
    ) -> (Driver<'static>, Arc<Herd>, watch::Sender<bool>) {
        let mut sim = new_simulation(scenario);
        let herd = Arc::new(herd);
        let skews: Skews = Arc::new(Mutex::new(BTreeMap::new()));
        let disks: DiskFaults = Arc::default();
        let (stop, stopping) = watch::channel(false);
        for spec in &herd.servers {
            add_server_host(
                &mut sim,
                &herd,
                &spec.name,
                scenario.seed,
                scenario.places_api,
                &skews,
                &disks,
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
        let driver = Driver {
            sim,
            clients,
            ports,
            faults: Faults::new(hosts, skews, places_fault, disks),
            recorder: recorder.clone(),
        };
        (driver, herd, stop)
    }
}

impl Driver<'_> {
    /// Records the step if it is a fault, then hands it to the workload or to the faults.
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
                Hostile::CLIENT,
                &hostile.server,
                Payload::Hostile(hostile.clone()),
            ),
            fault => self.faults.apply(&mut self.sim, fault),
        }
    }

    /// Hands a command to the clients' host, addressed to `server`'s port.
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
}
