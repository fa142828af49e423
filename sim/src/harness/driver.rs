//! The driver: one for both worlds. It hands the scenario's timed steps, in order, to a
//! [`World`] (the turmoil simulation, or real `server` processes): it lets the world run until
//! each step's time, records the step if it is a fault, and hands commands to the world's
//! clients and faults to the world's fault model, until the run's end. A scenario means the
//! same in both worlds because it is read here once.

use std::time::Duration;

use super::workload::{ClientCommand, Payload};
use crate::recorder::Recorder;
use crate::scenario::{Action, Hostile, Scenario, Step};
use crate::trace::TraceEvent;

/// Why a run could not finish: the system under test crashed or panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SutFailure {
    pub at: Duration,
    pub message: String,
}

/// Where a run happens: the seam between the driver and the simulation or the real processes,
/// as `server::net::Env` is the server's seam.
pub trait World {
    /// Lets the world run until `at` (time since the run's start); an error ends the run.
    fn advance_to(&mut self, at: Duration) -> Result<(), SutFailure>;
    /// Time since the run's start.
    fn now(&self) -> Duration;
    /// The port clients dial to reach `server`.
    fn port(&self, server: &str) -> u16;
    /// The port links to `server` dial: its peer port.
    fn peer_port(&self, server: &str) -> u16;
    /// Hands a command to the world's clients, which send it on a connection of its own and
    /// record what they sent and got back.
    fn send(&mut self, command: ClientCommand);
    /// Applies a fault step (one arm per kind of fault in each world); an error ends the run.
    fn fault(&mut self, step: &Step) -> Result<(), SutFailure>;
}

/// Drives `scenario` through `world` to its end, recording the harness's own events into
/// `recorder`; returns when the run ended and why it stopped early, if it did. Stopping the
/// servers is the world's, after this returns.
pub fn drive(
    scenario: &Scenario,
    world: &mut dyn World,
    recorder: &Recorder,
) -> (Duration, Option<SutFailure>) {
    for step in &scenario.steps {
        if let Err(failure) = world.advance_to(step.at) {
            return (failure.at, Some(failure));
        }
        if let Err(failure) = apply(world, step, recorder) {
            return (failure.at, Some(failure));
        }
    }
    if let Err(failure) = world.advance_to(scenario.duration) {
        return (failure.at, Some(failure));
    }
    (world.now(), None)
}

/// Records the step if it is a fault, then hands it to the world's clients or faults.
fn apply(world: &mut dyn World, step: &Step, recorder: &Recorder) -> Result<(), SutFailure> {
    let now = world.now();
    if let Some(event) = TraceEvent::fault(now, step.id, &step.action) {
        recorder.push(event);
    }
    let (client, server, payload) = match &step.action {
        Action::IamAt(iamat) => (
            iamat.client.as_str(),
            iamat.server.as_str(),
            Payload::IamAt {
                client: iamat.client.clone(),
                location: iamat.location.clone(),
                timestamp: iamat.timestamp.clone(),
            },
        ),
        Action::WhatsAt(w) => {
            let line = format!("WHATSAT {} {} {}\n", w.client, w.radius_km, w.bound);
            (
                w.client.as_str(),
                w.server.as_str(),
                Payload::Bytes(line.into_bytes()),
            )
        }
        Action::Raw(raw) => (
            raw.client.as_str(),
            raw.server.as_str(),
            Payload::Bytes(raw.bytes()),
        ),
        Action::Load(load) => {
            recorder.push(TraceEvent::load_sent(now, step.id, load));
            (
                load.prefix.as_str(),
                load.server.as_str(),
                Payload::Load(load.clone()),
            )
        }
        Action::Hostile(hostile) => (
            Hostile::CLIENT,
            hostile.server.as_str(),
            Payload::Hostile(hostile.clone()),
        ),
        _ => return world.fault(step),
    };
    world.send(ClientCommand {
        id: step.id,
        client: client.to_string(),
        server: server.to_string(),
        port: world.port(server),
        peer_port: world.peer_port(server),
        payload,
    });
    Ok(())
}
