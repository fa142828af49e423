//! Real processes as the driver's [`World`]: time is the wall clock since every server
//! listened, commands go straight to the servers from tasks on this world's runtime, and
//! faults go to the fault proxy, the processes and the Places mock. Setting the processes up
//! and reading their logs back are [`super`]'s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::calendar::Calendar;
use super::procs::Processes;
use super::proxy::FaultProxy;
use crate::harness::{CLIENT_TIMEOUT, ClientCommand, Payload, SutFailure, World};
use crate::places_stub::FaultCell;
use crate::recorder::Recorder;
use crate::scenario::{Action, Step};
use crate::trace::TraceEvent;

/// The running herd of one real-mode run, as the driver sees it.
pub struct ProcessWorld {
    pub runtime: tokio::runtime::Runtime,
    /// When every server listened: the run's `0s`.
    pub start: Instant,
    pub events: Recorder,
    pub calendar: Calendar,
    /// Each server's real port.
    pub ports: BTreeMap<String, u16>,
    /// Each server's real peer port.
    pub peer_ports: BTreeMap<String, u16>,
    pub proxy: Arc<FaultProxy>,
    pub processes: Processes,
    pub places_fault: FaultCell,
    /// The herd's certificates, for hostile clients and impostors that hold some.
    pub certs: Option<Arc<crate::simcerts::SimCerts>>,
    /// Crashes so far per server: a client exchange that a crash interrupted ends as in the
    /// simulation, where a crashed host goes silent and the client gets no reply at all.
    pub crashes: BTreeMap<String, Arc<AtomicU64>>,
    pub clients: JoinSet<()>,
    /// What real mode did differently from the simulation, in words.
    pub notes: Vec<String>,
    /// Impostors listening at a killed server's port, until its restart.
    pub impostors: BTreeMap<String, tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl World for ProcessWorld {
    fn advance_to(&mut self, at: Duration) -> Result<(), SutFailure> {
        let until = self.start + at;
        // The timer is made inside the runtime, whose clock it needs.
        self.runtime
            .block_on(async move { tokio::time::sleep_until(until.into()).await });
        Ok(())
    }

    fn now(&self) -> Duration {
        self.events.now()
    }

    fn port(&self, server: &str) -> u16 {
        self.ports.get(server).copied().unwrap_or(0)
    }

    fn peer_port(&self, server: &str) -> u16 {
        self.peer_ports.get(server).copied().unwrap_or(0)
    }

    fn send(&mut self, command: ClientCommand) {
        let _entered = self.runtime.enter();
        let calendar = self.calendar;
        let (id, port, events) = (command.id, command.port, self.events.clone());
        let peer_port = command.peer_port;
        let bytes = match command.payload {
            Payload::Load(load) => {
                let clock = Arc::new(move || calendar.timestamp_text());
                self.clients
                    .spawn(crate::bulk::run_load(id, load, port, events, clock));
                return;
            }
            Payload::Hostile(hostile) => {
                let clock = Arc::new(move || calendar.timestamp_text());
                let certs = self.certs.clone();
                let run =
                    crate::bulk::run_hostile(id, hostile, (port, peer_port), events, clock, certs);
                self.clients.spawn(run);
                return;
            }
            line => line.line_bytes(|| calendar.timestamp_text()),
        };
        let crashes = self
            .crashes
            .get(&command.server)
            .cloned()
            .unwrap_or_default();
        let exchange = Exchange {
            id,
            client: command.client,
            server: command.server,
            port,
            bytes,
            crashes,
            calendar,
        };
        self.clients.spawn(exchange.run(events));
    }

    fn fault(&mut self, step: &Step) -> Result<(), SutFailure> {
        let proxy = &self.proxy;
        match &step.action {
            Action::IamAt(_)
            | Action::WhatsAt(_)
            | Action::Raw(_)
            | Action::Load(_)
            | Action::Hostile(_) => {}
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
                if let Some(count) = self.crashes.get(server) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                proxy.crash(server);
                self.processes.kill(server);
            }
            Action::Restart(server) => {
                if let Some(impostor) = self.impostors.remove(server) {
                    // It leaves as silently as a crash: its connections say no goodbye.
                    proxy.crash(server);
                    impostor.abort();
                    // The port is free again once the aborted task has dropped its listener.
                    let _ = self.runtime.block_on(impostor);
                }
                let started = self.runtime.block_on(self.processes.start(server));
                if let Err(e) = started {
                    return Err(SutFailure {
                        at: self.events.now(),
                        message: format!("restart: {e:#}"),
                    });
                }
            }
            Action::Impostor(impostor) => {
                let server = &impostor.server;
                let port = self.peer_port(server);
                let (certs, events) = (self.certs.clone(), self.events.clone());
                let certificate = impostor.certificate.clone();
                let run = crate::attacker::impostor(server.clone(), port, certs, certificate, events);
                let task = self.runtime.spawn(run);
                self.impostors.insert(server.clone(), task);
            }
            Action::Tamper(t) => proxy.tamper(&t.from, &t.to, &t.mode),
            Action::Skew(skew) => {
                let offset = self.calendar.offset_flag(skew.by.nanos());
                self.processes.set_clock_offset(&skew.server, offset);
                if !step.at.is_zero() {
                    self.notes.push(format!(
                        "skew of {} at {}: a process's clock offset is set as it starts, so it applies from {}'s next restart",
                        skew.server,
                        crate::scenario::fmt_duration(step.at),
                        skew.server
                    ));
                }
            }
            Action::Disk(disk) => self.notes.push(format!(
                "disk fault {} on {} at {}: not injected, a real disk cannot be made to flip a bit, fail a sync or fill on cue",
                disk.fault.as_str(),
                disk.server,
                crate::scenario::fmt_duration(step.at)
            )),
            Action::Places(fault) => {
                if let Ok(mut current) = self.places_fault.lock() {
                    *current = fault.clone();
                }
            }
        }
        Ok(())
    }
}

fn pairs<'a>(a: &'a [String], b: &'a [String]) -> Vec<(&'a str, &'a str)> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| (x.as_str(), y.as_str())))
        .collect()
}

/// One client command on its own connection: write, half-close, read everything.
struct Exchange {
    id: u64,
    client: String,
    server: String,
    port: u16,
    bytes: Vec<u8>,
    /// The server's crash count: one that moves during the exchange means the reply (or its
    /// end) came from the kernel closing a killed process's socket, not from the server.
    crashes: Arc<AtomicU64>,
    /// The clients' clock: their events carry it, so checkers can bound the server's clock
    /// at receipt by what the client saw.
    calendar: Calendar,
}

impl Exchange {
    async fn run(self, events: Recorder) {
        let bytes = self.bytes;
        events.push(
            TraceEvent::client_send(events.now(), self.id, &self.client, &self.server, &bytes)
                .with_wall_clock(self.calendar.now()),
        );
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
        events.push(event.with_wall_clock(self.calendar.now()));
    }
}
