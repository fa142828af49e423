//! The harness: the unchanged herd server in turmoil's deterministic network, driven by YAML
//! scenarios, judged by checkers on the recorded trace.
//!
//! Module map:
//! - [`scenario`]: the YAML schema (faults and workload as data) and its validation.
//! - [`harness`]: builds the simulation and drives the steps; [`simnet`] is the server's seam
//!   on turmoil, [`places_stub`] the simulated Places host, [`recorder`] the trace layer,
//!   [`bulk`] the load and hostile clients.
//! - [`trace`]: the recorded events and their renderings (timeline, snapshot).
//! - [`checkers`]: one invariant per module, judged on a finished run.
//! - [`report`]: verdicts, the printed report, the snapshot text, exit codes.
//! - [`swarm`]: many seeds, each a generated scenario; [`shrink`]: a failure made small.
//! - [`diagram`]: Lamport (space-time) diagrams of a trace.
//! - [`real`]: the same scenarios against real `server` processes, and the modes compared.

pub mod bulk;
pub mod checker_name;
pub mod checkers;
pub mod diagram;
pub mod harness;
pub mod hosts;
pub mod metrics;
pub mod outcome;
pub mod places_stub;
pub mod real;
pub mod recorder;
pub mod report;
pub mod scenario;
pub mod shrink;
pub mod simnet;
pub mod swarm;
pub mod trace;
