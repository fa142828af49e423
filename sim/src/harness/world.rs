//! The simulated world a run happens in: the herd as the simulation runs it, the turmoil
//! simulation with the scenario's seed, tick and latencies, and one host per herd server
//! running the unchanged server library.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use server::backoff::stable_hash;
use server::config::Herd;
use server::net::Env;
use tokio::sync::watch;

use crate::scenario::{PlacesApi, Scenario};
use crate::simdisk::{DiskFaults, TurmoilDisk};
use crate::simnet::{SkewedClock, Skews, TurmoilNet, places_client};

/// The secret every simulated herd shares (hostile clients do not know it).
pub const SIMULATED_SECRET: &[u8] = b"simulated herd secret";
/// After the run, servers get this long (simulated) to stop and report their tables.
pub const STOP_WINDOW: Duration = Duration::from_secs(5);
/// The simulated disks' block: a write in flight at power loss keeps a prefix of whole blocks.
/// Smaller than most log appends, so power loss tears them.
pub const DISK_BLOCK_BYTES: u64 = 64;
/// The herd as the simulation runs it: each server's host is its turmoil host name.
pub fn simulated_herd(scenario: &Scenario) -> Herd {
    let mut herd = scenario.herd.clone();
    herd.limits = scenario.effective_limits();
    // A simulated herd shares a secret, so links run the real, authenticated handshake,
    // unless the scenario runs it unauthenticated.
    herd.secret = if scenario.unauthenticated {
        None
    } else {
        server::config::Secret::new(SIMULATED_SECRET)
    };
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
) {
    let (herd, skews, name, stop) = (herd.clone(), skews.clone(), name.to_string(), stop.clone());
    let disks = disks.clone();
    let seed = scenario_seed ^ stable_hash(&[&name]);
    sim.host(name.clone(), move || {
        let (herd, skews, name, mut stop) =
            (herd.clone(), skews.clone(), name.clone(), stop.clone());
        // With a data directory, the store writes to this host's simulated disk.
        let disk = herd.data_dir.is_some().then(|| {
            Arc::new(TurmoilDisk::new(&name, disks.clone())) as Arc<dyn server::net::Disk>
        });
        async move {
            let env = Env {
                net: Arc::new(TurmoilNet),
                clock: Arc::new(SkewedClock {
                    server: name.clone(),
                    skews,
                }),
                places: places_client(&herd.limits, places_api),
                seed,
                disk,
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
