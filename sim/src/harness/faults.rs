//! The fault actions, applied to the running simulation: partitions and repairs, held links,
//! link latency, crashes and restarts, clock skew, the Places stub's behaviour, and the
//! attacker's tampering on a live link.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::places_stub::FaultCell;
use crate::scenario::Action;
use crate::simdisk::DiskFaults;
use crate::simnet::Skews;
use crate::simnet::tamper::Tampering;

/// The servers an impostor holds the address of, with the certificate it shows.
pub type Taken = Arc<Mutex<BTreeMap<String, crate::scenario::ImpostorCertificate>>>;

/// What the fault actions change besides the simulation itself, kept so that a crash can
/// restore the links the scenario had cut and so that servers and the stub see the skews
/// and the Places behaviour in force.
pub struct Faults {
    /// Every host of the simulation: servers, the Places stub, the clients host.
    hosts: Vec<String>,
    /// Directed host pairs the scenario has cut, so a crash can restore them exactly.
    cut: BTreeSet<(String, String)>,
    skews: Skews,
    places_fault: FaultCell,
    disks: DiskFaults,
    /// Servers whose address an impostor holds (their hosts run it instead of the server).
    impostors: Taken,
    /// The attacker on the links' path (`None` when no `tamper` step exists).
    tampering: Option<Tampering>,
}

impl Faults {
    pub fn new(
        hosts: Vec<String>,
        skews: Skews,
        places_fault: FaultCell,
        disks: DiskFaults,
        impostors: Taken,
    ) -> Faults {
        Faults {
            hosts,
            cut: BTreeSet::new(),
            skews,
            places_fault,
            disks,
            impostors,
            tampering: None,
        }
    }

    /// The attacker the `tamper` steps arm.
    pub fn with_tampering(mut self, tampering: Option<Tampering>) -> Faults {
        self.tampering = tampering;
        self
    }

    /// Applies a fault step to `sim`. Client commands are the workload's, not a fault: they
    /// change nothing here.
    pub fn apply(&mut self, sim: &mut turmoil::Sim<'_>, action: &Action) {
        match action {
            Action::IamAt(_)
            | Action::WhatsAt(_)
            | Action::Raw(_)
            | Action::Load(_)
            | Action::Hostile(_) => {}
            Action::Partition(cut) => {
                for (a, b) in pairs(&cut.between, &cut.and) {
                    self.cut.insert((a.clone(), b.clone()));
                    if cut.oneway {
                        sim.partition_oneway(a, b);
                    } else {
                        self.cut.insert((b.clone(), a.clone()));
                        sim.partition(a, b);
                    }
                }
            }
            Action::Repair(cut) => {
                for (a, b) in pairs(&cut.between, &cut.and) {
                    self.cut.remove(&(a.clone(), b.clone()));
                    if cut.oneway {
                        sim.repair_oneway(a, b);
                    } else {
                        self.cut.remove(&(b.clone(), a.clone()));
                        sim.repair(a, b);
                    }
                }
            }
            Action::Hold(groups) => {
                for (a, b) in pairs(&groups.between, &groups.and) {
                    sim.hold(a, b);
                }
            }
            Action::Release(groups) => {
                for (a, b) in pairs(&groups.between, &groups.and) {
                    sim.release(a, b);
                }
            }
            Action::Latency(l) => {
                for (a, b) in pairs(&l.between, &l.and) {
                    sim.set_link_latency(a.clone(), b.clone(), l.latency.min);
                    sim.set_link_max_message_latency(a, b, l.latency.max);
                }
            }
            Action::Crash(server) => self.crash(sim, server),
            Action::Restart(server) => {
                // An impostor holding the address leaves as silently as a crash.
                let impostor = self
                    .impostors
                    .lock()
                    .is_ok_and(|mut i| i.remove(server).is_some());
                if impostor {
                    self.crash(sim, server);
                }
                sim.bounce(server.as_str());
            }
            Action::Impostor(impostor) => {
                if let Ok(mut impostors) = self.impostors.lock() {
                    impostors.insert(impostor.server.clone(), impostor.certificate.clone());
                }
                sim.bounce(impostor.server.as_str());
            }
            Action::Tamper(t) => {
                if let Some(tampering) = &self.tampering {
                    tampering.arm(&t.from, &t.to, &t.mode);
                }
            }
            Action::Skew(skew) => {
                if let Ok(mut skews) = self.skews.lock() {
                    skews.insert(skew.server.clone(), skew.by.nanos());
                }
            }
            Action::Disk(step) => self.disk(step),
            Action::Places(fault) => {
                if let Ok(mut current) = self.places_fault.lock() {
                    *current = fault.clone();
                }
            }
        }
    }

    /// A crash is silent: the host falls off the network at once (what it had in flight is
    /// lost, its sockets say no goodbye), then its software is dropped, then its links come
    /// back as the scenario had them. Silence is what keeps a crash deterministic: tokio drops
    /// a runtime's tasks in an order that depends on process-global task ids, so the FINs a
    /// "clean" crash would send leave in an order that differs from run to run in one process.
    /// Peers notice by heartbeat, or by the reset their next message gets.
    fn crash(&self, sim: &mut turmoil::Sim<'_>, server: &str) {
        // A failed sync is an error of the disk at work: power loss ends one that no sync met
        // (a full disk stays full, a flipped bit stays flipped).
        if let Ok(mut disks) = self.disks.lock()
            && let Some(disk) = disks.get_mut(server)
        {
            disk.fail_sync = false;
        }
        let others: Vec<&String> = self.hosts.iter().filter(|h| *h != server).collect();
        for other in &others {
            sim.partition_oneway(server, other.as_str());
        }
        sim.crash(server);
        for other in &others {
            if !self.cut.contains(&(server.to_string(), other.to_string())) {
                sim.repair_oneway(server, other.as_str());
            }
        }
    }
}

impl Faults {
    /// A disk fault: the server's simulated disk (`simdisk`) acts on it at its next write,
    /// sync or read.
    fn disk(&self, step: &crate::scenario::DiskStep) {
        use crate::scenario::DiskFaultKind;
        let Ok(mut disks) = self.disks.lock() else {
            return;
        };
        let disk = disks.entry(step.server.clone()).or_default();
        match step.fault {
            DiskFaultKind::FlipBit => disk.flip = Some(disk.flip.unwrap_or(0) + 1),
            DiskFaultKind::FailSync => disk.fail_sync = true,
            DiskFaultKind::Full => disk.full = true,
            DiskFaultKind::Freed => disk.full = false,
        }
    }
}

/// Every pair of one host of `a` and one of `b`, in order.
fn pairs(a: &[String], b: &[String]) -> Vec<(String, String)> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| (x.clone(), y.clone())))
        .collect()
}
