//! The judges: invariants checked on a finished run's trace, one small file each (TigerBeetle's
//! layout), so a failing invariant points at one file and a new one is one more file.
//!
//! A checker sees only data ([`RunRecord`]): the trace, the herd's server names, the
//! scenario's bounds and expectations, the end time and the final tables. It never runs the
//! system, so it can judge a trace from the simulation, from a real-mode run, or one written by
//! hand in a test.
//!
//! | checker          | class    | holds when                                                   |
//! |------------------|----------|--------------------------------------------------------------|
//! | `well_formed`    | safety   | every reply has the shape protocol.md owes its command, as   |
//! |                  |          | the reference grammar (`oracle::spec`) classifies the line   |
//! | `time_diff`      | safety   | an IAMAT reply's time difference is the server's clock at    |
//! |                  |          | receipt (simulated clock + skew) minus the timestamp, exactly |
//! | `expectations`   | safety   | every step's `expect` is met                                  |
//! | `monotonic`      | safety   | no server's record for a client ever moves backwards          |
//! | `whatsat_agrees` | safety   | a WHATSAT reply shows a record the server held meanwhile      |
//! | `flood_bound`    | safety   | floods twice per link at most; reconciles only what changed   |
//! | `link_stability` | safety   | a link goes down or reconciles records only after a fault     |
//! | `link_log`       | safety   | a dialled link is logged up once per coming up; a series of   |
//! |                  |          | failed dials is logged once                                   |
//! | `log_readback`   | safety   | each event's log line reads back with the host's time (to the |
//! |                  |          | microsecond, any date), its level and its own name            |
//! | `places_calls`   | safety   | each Places request comes from one WHATSAT, radius in metres  |
//! | `places_answers` | safety   | a WHATSAT reply's JSON is the Places answer behind it, cut;   |
//! |                  |          | its places keep the offline set's promises                    |
//! | `integrity`      | safety   | every stored record comes from a legitimate client's IAMAT    |
//! | `leak`           | safety   | no record is sent to anything that did not prove it is the    |
//! |                  |          | neighbour (an impostor at a down server's address gets none)  |
//! | `durable`        | safety   | with a data directory, every acknowledged record is held at   |
//! |                  |          | the end, across power loss; a flipped bit is detected         |
//! | `convergence`    | liveness | after the last fault, running servers agree on the newest     |
//! | `answered`       | liveness | every command to a running server is answered in time         |

pub mod answered;
pub mod convergence;
pub mod durable;
pub mod expectations;
pub mod flood_bound;
pub mod integrity;
pub mod leak;
pub mod link_log;
pub mod link_stability;
pub mod log_readback;
pub mod metrics;
pub mod monotonic;
pub mod places_answers;
pub mod places_calls;
pub mod receipt_clock;
pub(crate) mod stub_faults;
pub mod time_diff;
pub mod well_formed;
pub mod whatsat_agrees;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub use crate::checker_name::{CheckerName, FailureClass};
use crate::scenario::{Checks, Expect, Scenario};
use crate::trace::{Trace, fmt_at};

/// A verdict lists at most this many violations; the rest are counted.
pub const DETAILS_MAX: usize = 20;

/// Everything a checker may look at: the run, as data.
#[derive(Debug, Clone)]
pub struct RunRecord<'a> {
    pub trace: &'a Trace,
    /// The herd's servers, in herd order.
    pub servers: Vec<String>,
    /// Bounds and skips from the scenario.
    pub checks: &'a Checks,
    /// The last fault step's time ([`Scenario::last_fault_heal_at`]).
    pub quiet_since: Duration,
    /// Whether the scenario has a fault step at all; without one, `quiet_since` is the start.
    pub faulted: bool,
    /// Simulated time when the run stopped.
    pub end: Duration,
    /// Server -> its table at the end as AT lines sorted by client; `None` if crashed at the end.
    pub final_tables: BTreeMap<String, Option<Vec<String>>>,
    /// Step id -> what its reply must show.
    pub expectations: BTreeMap<u64, Expect>,
    /// The herd's line limit, when the driver knows it (over it, a line is echoed cut).
    pub line_bytes_max: Option<usize>,
    /// The herd's limits as the run used them (heartbeats bound what a cut link loses).
    pub limits: server::config::Limits,
    /// Steps whose IAMATs are not a legitimate client's: hostile steps, but for one that only
    /// sends an id within `client_id_bytes_max` ([`id_within_bound`]).
    pub hostile_steps: std::collections::BTreeSet<u64>,
    /// Clock skew steps: step id -> the offset its server's clock gets (nanoseconds, negative
    /// when behind), taken from the scenario so that a server's clock is known exactly.
    pub skew_nanos: BTreeMap<u64, i128>,
    /// The herd's classic links, each as its two servers in name order: a classic neighbour
    /// is sent records again when it shows it holds an old one, which `flood_bound` allows.
    pub classic_links: std::collections::BTreeSet<(String, String)>,
    /// The herd's persistent (non-classic) links, each as its two ends in name order.
    pub persistent_links: std::collections::BTreeSet<(String, String)>,
    /// The scenario's network latency maximum (a message on a link takes at most this long,
    /// unless a `latency` step changes it).
    pub network_latency_max: Duration,
    /// The herd runs without a secret (the scenario's `unauthenticated`).
    pub unauthenticated: bool,
    /// The herd keeps its tables on disk (the herd's `data_dir`): acknowledged means kept.
    pub durable: bool,
}

impl<'a> RunRecord<'a> {
    /// Whether a link of the herd, persistent or classic, joins servers `a` and `b`.
    pub fn linked(&self, a: &str, b: &str) -> bool {
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        let pair = (a.to_string(), b.to_string());
        self.persistent_links.contains(&pair) || self.classic_links.contains(&pair)
    }

    /// A record of a run of `scenario`: servers, bounds, quiet point, expectations and line
    /// limit come from the scenario; the rest from the run.
    pub fn new(
        scenario: &'a Scenario,
        trace: &'a Trace,
        end: Duration,
        final_tables: BTreeMap<String, Option<Vec<String>>>,
    ) -> RunRecord<'a> {
        RunRecord {
            trace,
            servers: scenario.server_names(),
            checks: &scenario.checks,
            quiet_since: scenario.last_fault_heal_at(),
            faulted: scenario.steps.iter().any(|s| s.action.is_topology_fault())
                || scenario.buggify.as_ref().is_some_and(|b| b.ends_links()),
            end,
            final_tables,
            expectations: scenario.expectations(),
            line_bytes_max: Some(scenario.effective_limits().line_bytes_max),
            limits: scenario.effective_limits(),
            hostile_steps: scenario
                .steps
                .iter()
                .filter(|s| match &s.action {
                    crate::scenario::Action::Hostile(h) => !id_within_bound(h, scenario),
                    _ => false,
                })
                .map(|s| s.id)
                .collect(),
            skew_nanos: scenario
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    crate::scenario::Action::Skew(skew) => Some((s.id, skew.by.nanos())),
                    _ => None,
                })
                .collect(),
            classic_links: links_in_name_order(scenario, true),
            persistent_links: links_in_name_order(scenario, false),
            network_latency_max: scenario.network.latency.max,
            unauthenticated: scenario.unauthenticated,
            durable: scenario.herd.data_dir.is_some(),
        }
    }

    /// What the herd's limits add to docs/protocol.md's grammar of a client line.
    pub fn line_bounds(&self) -> crate::trace::replay::LineBounds {
        crate::trace::replay::LineBounds {
            line_bytes_max: self.line_bytes_max,
            client_id_bytes_max: self.limits.client_id_bytes_max,
            location_bytes_max: self.limits.location_bytes_max,
            timestamp_bytes_max: self.limits.timestamp_bytes_max,
        }
    }

    /// The servers `server` reaches over classic links.
    pub fn classic_neighbours<'r>(&'r self, server: &'r str) -> impl Iterator<Item = &'r str> {
        self.classic_links.iter().filter_map(move |(a, b)| {
            if a == server {
                Some(b.as_str())
            } else if b == server {
                Some(a.as_str())
            } else {
                None
            }
        })
    }
}

/// Whether a hostile step only sends an IAMAT with a long id that `client_id_bytes_max` still
/// allows (`huge_id_bytes` at most the bound), stamped with the client's clock: any client may
/// send that, and the herd must store it, so it is a legitimate client's IAMAT.
fn id_within_bound(hostile: &crate::scenario::Hostile, scenario: &Scenario) -> bool {
    let only_huge_id = hostile.lines.is_empty()
        && hostile.peer_as.is_none()
        && hostile.hold_connections == 0
        && hostile.stall.is_none();
    only_huge_id
        && hostile
            .huge_id_bytes
            .is_some_and(|bytes| bytes <= scenario.effective_limits().client_id_bytes_max)
}

/// The herd's classic (or persistent) links, each as its two servers in name order.
fn links_in_name_order(
    scenario: &Scenario,
    classic: bool,
) -> std::collections::BTreeSet<(String, String)> {
    scenario
        .herd
        .links
        .iter()
        .filter(|link| link.classic == classic)
        .map(|link| {
            let [a, b] = link.between.clone();
            if a <= b { (a, b) } else { (b, a) }
        })
        .collect()
}

/// One broken invariant, at a simulated time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub at: Duration,
    pub text: String,
}

impl Violation {
    pub fn new(at: Duration, text: impl Into<String>) -> Violation {
        Violation {
            at,
            text: text.into(),
        }
    }
}

/// A checker's judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub checker: CheckerName,
    pub class: FailureClass,
    pub ok: bool,
    /// Violations (or notes) in time order, `at 1.250s: ...`, at most [`DETAILS_MAX`] plus a
    /// count of the rest.
    pub details: Vec<String>,
    /// What the checker measured, e.g. `converged 0.042s after the last fault`.
    pub metric: Option<String>,
}

impl Verdict {
    /// A verdict from violations: ok when there are none. The class is the checker's own.
    pub fn judge(
        checker: CheckerName,
        mut violations: Vec<Violation>,
        metric: Option<String>,
    ) -> Verdict {
        violations.sort();
        violations.dedup();
        let ok = violations.is_empty();
        let mut details: Vec<String> = violations
            .iter()
            .take(DETAILS_MAX)
            .map(|v| format!("at {}: {}", fmt_at(v.at), v.text))
            .collect();
        if violations.len() > DETAILS_MAX {
            details.push(format!("... and {} more", violations.len() - DETAILS_MAX));
        }
        Verdict {
            checker,
            class: checker.class(),
            ok,
            details,
            metric,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.ok { "ok  " } else { "FAIL" };
        write!(f, "{status} {} ({})", self.checker, self.class)?;
        if let Some(metric) = &self.metric {
            write!(f, ": {metric}")?;
        }
        for detail in &self.details {
            write!(f, "\n     {detail}")?;
        }
        Ok(())
    }
}

/// An invariant judged on a finished run. Its name carries its class ([`CheckerName::class`]),
/// so a checker states neither twice.
pub trait Checker {
    fn name(&self) -> CheckerName;
    fn check(&self, run: &RunRecord) -> Verdict;
}

/// The checkers `checks` asks for, in [`CheckerName::ALL`] order.
pub fn all(checks: &Checks) -> Vec<Box<dyn Checker>> {
    let every: Vec<Box<dyn Checker>> = vec![
        Box::new(well_formed::WellFormed),
        Box::new(time_diff::TimeDiff),
        Box::new(expectations::Expectations),
        Box::new(monotonic::Monotonic),
        Box::new(whatsat_agrees::WhatsatAgrees),
        Box::new(flood_bound::FloodBound),
        Box::new(link_stability::LinkStability),
        Box::new(link_log::LinkLog),
        Box::new(log_readback::LogReadback),
        Box::new(places_calls::PlacesCalls),
        Box::new(places_answers::PlacesAnswers),
        Box::new(metrics::MetricsAgree),
        Box::new(integrity::Integrity),
        Box::new(leak::Leak),
        Box::new(durable::Durable),
        Box::new(convergence::Convergence),
        Box::new(answered::Answered),
    ];
    debug_assert!(every.iter().map(|c| c.name()).eq(CheckerName::ALL));
    every
        .into_iter()
        .filter(|c| checks.runs(c.name()))
        .collect()
}

/// Runs every checker the run's `checks` asks for.
pub fn run_all(run: &RunRecord) -> Vec<Verdict> {
    all(run.checks)
        .iter()
        .map(|checker| checker.check(run))
        .collect()
}

#[cfg(test)]
pub mod testing;

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn skipped_checkers_do_not_run() {
        let checks = Checks {
            skip: vec!["flood_bound".into(), "answered".into()],
            ..Checks::default()
        };
        let names: Vec<&str> = all(&checks).iter().map(|c| c.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "well_formed",
                "time_diff",
                "expectations",
                "monotonic",
                "whatsat_agrees",
                "link_stability",
                "link_log",
                "log_readback",
                "places_calls",
                "places_answers",
                "metrics",
                "integrity",
                "leak",
                "durable",
                "convergence"
            ]
        );
    }

    #[test]
    fn every_checker_passes_an_empty_run() {
        let trace = Trace::new();
        let checks = Checks::default();
        let run = run_record(&trace, &checks);
        for verdict in run_all(&run) {
            assert!(verdict.ok, "{verdict}");
        }
    }

    #[test]
    fn a_hostile_id_within_its_bound_is_a_legitimate_clients_iamat() {
        let scenario = Scenario::from_yaml_str(
            r#"
name: ids at the bound
seed: 1
duration: 12s
steps:
  - { at: 1s, hostile: { server: Clark, huge_id_bytes: 1024 } }
  - { at: 2s, hostile: { server: Clark, huge_id_bytes: 1025 } }
  - { at: 3s, hostile: { server: Clark, lines: ["IAMAT kiwi +0+0 1"] } }
"#,
            "ids.yaml",
        )
        .unwrap();
        let trace = Trace::new();
        let run = RunRecord::new(&scenario, &trace, Duration::ZERO, BTreeMap::new());
        let hostile: Vec<u64> = run.hostile_steps.iter().copied().collect();
        assert_eq!(hostile, [1, 2], "exactly 1024 bytes is within the bound");
    }

    #[test]
    fn verdict_details_are_time_ordered_and_bounded() {
        let violations = (0..30)
            .rev()
            .map(|i| Violation::new(Duration::from_millis(i), format!("v{i}")))
            .collect();
        let verdict = Verdict::judge(CheckerName::Monotonic, violations, None);
        assert!(!verdict.ok);
        assert_eq!(verdict.details.len(), DETAILS_MAX + 1);
        assert_eq!(verdict.details[0], "at 0.000s: v0");
        assert_eq!(verdict.details[DETAILS_MAX], "... and 10 more");
    }
}
