//! The harness: the unchanged herd server in turmoil's deterministic network, driven by YAML
//! scenarios, judged by checkers on the recorded trace.
//!
//! Module map, bottom-up: each module imports only modules of its own layer or a lower one.
//!
//! 1. Names: [`hosts`] (the harness's host names), [`checker_name`] (every checker and its
//!    failure class), [`outcome`] (how a run ended: class, checker, exit code, ranking);
//!    [`oracle`] (what docs/protocol.md says a line is, written apart from the server's parser);
//!    [`repo_path`] (paths written from the repository root, for printed command lines).
//! 2. [`scenario`]: the YAML schema (faults and workload as data), its validation and writer;
//!    [`herd_corpus`] (herd files the server must refuse or accept, judged through its own
//!    loader and written back as the scenario writer writes herds).
//! 3. [`trace`]: the recorded events, read once into typed values, their replays and
//!    renderings (timeline, snapshot).
//! 4. On a trace: [`recorder`] (the trace layer that records it), [`checkers`] (one invariant
//!    per module, judged on a finished run), [`metrics`] (what the report measures),
//!    [`diagram`] (Lamport space-time diagrams), [`sometimes`] (rare behaviours a swarm must
//!    see at least once).
//! 5. The simulated world: [`places_stub`] (the Places host), [`bulk`] (load and hostile
//!    clients), [`attacker`] (handshake stallers and the impostor at a down server's address),
//!    [`simnet`] and [`simdisk`] (the server's seam on turmoil; in `simnet`, the attacker that
//!    tampers with a live link), [`simcerts`] (the herd's certificates, from the seed),
//!    [`harness`] (builds the simulation and drives the steps).
//! 6. [`report`]: a run judged (`run_and_judge`), the printed report, the snapshot text.
//! 7. Over many runs or another world: [`real`] (the same scenarios against real `server`
//!    processes, and the modes compared), [`shrink`] (a failure made small), [`swarm`] (many
//!    seeds, each a generated scenario, shrinking what fails), [`explore`] (a search guided by
//!    what runs reached, on the swarm's generator and pool).

pub mod attacker;
pub mod bulk;
pub mod checker_name;
pub mod checkers;
pub mod diagram;
pub mod explore;
pub mod harness;
pub mod herd_corpus;
pub mod hosts;
pub mod metrics;
pub mod oracle;
pub mod outcome;
pub mod places_stub;
pub mod real;
pub mod recorder;
pub mod repo_path;
pub mod report;
pub mod scenario;
pub mod shrink;
pub mod simcerts;
pub mod simdisk;
pub mod simnet;
pub mod sometimes;
pub mod swarm;
pub mod trace;
