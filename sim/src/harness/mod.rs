//! The harness: builds a turmoil simulation from a scenario, runs the unchanged server library
//! on one host per herd server, the Places stub on `places` and the clients on their own host,
//! applies the timed steps between `sim.step()` calls, and returns the recorded run.
//!
//! - `driver`: the one step loop and the [`World`] seam it drives, for the simulation here and
//!   for real processes (`real`);
//! - `world`: the simulated herd, the turmoil simulation, the server hosts and
//!   [`TurmoilWorld`];
//! - `workload`: the clients' host, which sends commands and records replies;
//! - `faults`: the fault actions on the running simulation.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

use crate::recorder::{Recorder, TraceLayer};
use crate::scenario::Scenario;
use crate::trace::Trace;
use crate::trace::replay::Downtime;

mod buggify;
mod driver;
mod faults;
mod workload;
mod world;

pub use driver::{SutFailure, World, drive};
pub use workload::{CLIENT_TIMEOUT, ClientCommand, Payload, REPLY_BYTES_MAX, one_exchange};
pub use world::{STOP_WINDOW, TurmoilWorld, add_server_host, new_simulation, simulated_herd};

/// A finished run: the trace and what the driver knows about the end state.
pub struct Run {
    pub trace: Trace,
    pub end: Duration,
    pub final_tables: BTreeMap<String, Option<Vec<String>>>,
    pub sut_failure: Option<SutFailure>,
    /// Wall time the run took (reported, never snapshotted).
    pub wall: Duration,
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
        let driven = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut world = TurmoilWorld::new(scenario, herd, &recorder);
            let (end, failure) = driver::drive(scenario, &mut world, &recorder);
            if failure.is_none() {
                world.stop_servers();
            }
            (end, failure)
        }));
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
