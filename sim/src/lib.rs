//! The harness: the unchanged herd server in turmoil's deterministic network, driven by YAML
//! scenarios, judged by checkers on the recorded trace.
//!
//! Module map:
//! - [`scenario`]: the YAML schema (faults and workload as data) and its validation.
//! - [`harness`]: builds the simulation and drives the steps; [`simnet`] is the server's seam
//!   on turmoil, [`places_stub`] the simulated Places host, [`recorder`] the trace layer.
//! - [`trace`]: the recorded events and their renderings (timeline, snapshot).
//! - [`checkers`]: one invariant per module, judged on a finished run.
//! - [`report`]: verdicts, the printed report, the snapshot text, exit codes.

pub mod checkers;
pub mod harness;
pub mod places_stub;
pub mod recorder;
pub mod report;
pub mod scenario;
pub mod simnet;
pub mod trace;
