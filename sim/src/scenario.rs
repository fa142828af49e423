//! The scenario file: one chaos story as data (what the herd is, what the network does, which
//! faults and client commands happen when, and what the checkers must hold).
//!
//! Parsing is two passes. serde (with `deny_unknown_fields` everywhere) and serde-saphyr turn
//! the YAML into these types, so a typo or a wrong shape is reported with its line, column and
//! what was expected. Then a validation pass checks what types cannot say (names exist in the
//! herd, steps are in time order, locations parse, a restart follows a crash, ...), and its
//! errors name the step, its time and its line. The schema is documented for humans in
//! `scenarios/README.md`; keep the two in step.

pub mod buggify;
mod de;
mod describe;
pub mod start;
mod step;
mod tamper;
mod validate;
mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use server::config::{Herd, Limits};
pub use server::places::PlacesApi;

use crate::checker_name::CheckerName;
pub use crate::hosts::PLACES_HOST;

/// A raw step may repeat a byte at most this many times (a huge line, bounded all the same).
pub const RAW_REPEAT_COUNT_MAX: usize = 16 * 1024 * 1024;

/// Where the simulated wall clock starts when a scenario says no `start`:
/// 2023-11-14T22:13:20Z, as time since the Unix epoch.
pub const START_DEFAULT: Duration = Duration::from_secs(1_700_000_000);

/// The earliest `start`: a day after the Unix epoch, so that a clock skewed back by a day
/// (the most `timestamp_ahead_max` lets matter) still reads a time after the epoch, which is
/// all an IAMAT timestamp can say (it has no sign).
pub const START_MIN: Duration = Duration::from_secs(86_400);

/// The latest `start`: 9000-01-01T00:00:00Z, far enough below year 10000 that any run's log
/// times keep four-digit years.
pub const START_MAX: Duration = Duration::from_secs(221_845_392_000);

/// A parsed and validated scenario. [`Scenario::from_yaml_str`] and [`Scenario::load`] check
/// that every name in it exists in `herd` and every step is in time order; code that builds
/// one by hand (a swarm, a shrinker) takes that on itself.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// One line: what story this file tells.
    pub name: String,
    /// The story in prose, for the reader of the file and the report.
    pub description: Option<String>,
    /// Seeds everything random in the run (turmoil, latencies, server jitter).
    pub seed: u64,
    /// Simulated run length; the run stops there whatever is in flight.
    pub duration: Duration,
    /// turmoil's tick: the simulated time one `sim.step()` advances.
    pub tick: Duration,
    /// The simulated wall clock at the start of the run (time since the Unix epoch), so a
    /// run can happen on any date: the log's timestamps, the clients' IAMAT timestamps and
    /// the time differences all follow it.
    pub start: Duration,
    /// Where the herd came from, as written (for the report).
    pub herd_source: HerdSource,
    /// The herd, resolved: the built-in one, a herd file, or inline.
    pub herd: Herd,
    /// Default message latency on every link.
    pub network: Network,
    /// Overrides of the herd's limits; apply with [`Scenario::apply_limit_overrides`].
    pub limits: LimitOverrides,
    /// Which Places API the servers speak to the stub; the stub answers both, so either
    /// request path is judged.
    pub places_api: PlacesApi,
    /// The herd runs without a secret, as servers started alone without one do: links are
    /// unauthenticated (any proof is taken) and every server warns `links_unauthenticated`.
    /// Every other herd the harness runs shares a secret.
    pub unauthenticated: bool,
    /// A planted bug every server runs (`server::canary`; the simulation only), to show a
    /// search or a scenario finds it. `None`: the herd as it is.
    pub canary: Option<server::canary::Canary>,
    /// The server's fault points this run turns on ([`buggify::BuggifySettings`]).
    pub buggify: Option<buggify::BuggifySettings>,
    /// Timed faults and client commands, in non-decreasing `at`.
    pub steps: Vec<Step>,
    /// Which checkers run and their bounds.
    pub checks: Checks,
    /// The file the scenario was read from (error messages, relative herd files).
    pub origin: PathBuf,
}

/// How the scenario named its herd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HerdSource {
    /// `herd: default` or no `herd` key: docs/protocol.md §13's five servers.
    Default,
    /// `herd: { file: PATH }`, PATH as written (relative to the scenario file).
    File(PathBuf),
    /// `herd: { servers: [...], links: [...], limits: {...} }`.
    Inline,
}

/// Network defaults for every link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Each message takes a latency drawn from this range.
    pub latency: LatencyRange,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: LatencyRange {
                min: Duration::from_millis(1),
                max: Duration::from_millis(5),
            },
        }
    }
}

/// A latency range `min..max` (`5ms` alone means `5ms..5ms`). `min <= max` always holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyRange {
    pub min: Duration,
    pub max: Duration,
}

impl fmt::Display for LatencyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", fmt_duration(self.min), fmt_duration(self.max))
    }
}

/// A duration with a sign, for clock skew: `-3s` puts a server's clock 3 s behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignedDuration {
    pub negative: bool,
    pub magnitude: Duration,
}

impl SignedDuration {
    /// The offset in nanoseconds, negative when behind.
    pub fn nanos(&self) -> i128 {
        let n = self.magnitude.as_nanos() as i128;
        if self.negative { -n } else { n }
    }
}

impl fmt::Display for SignedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "+" };
        write!(f, "{sign}{}", fmt_duration(self.magnitude))
    }
}

/// Overrides of the herd's limits (`server::config::Limits`, same names and units), each
/// optional. A struct of named fields, not a free map, so a misspelt limit is a parse error
/// with its line; the merged limits are then checked by the server's own `Herd::validate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default)]
    pub connections_max: Option<usize>,
    #[serde(default)]
    pub line_bytes_max: Option<usize>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub client_idle_timeout: Option<Duration>,
    #[serde(default)]
    pub clients_max: Option<usize>,
    #[serde(default)]
    pub table_bytes_max: Option<usize>,
    #[serde(default)]
    pub client_id_bytes_max: Option<usize>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub timestamp_ahead_max: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub client_write_timeout: Option<Duration>,
    #[serde(default)]
    pub peer_links_max: Option<usize>,
    #[serde(default)]
    pub peer_handshakes_max: Option<usize>,
    #[serde(default)]
    pub link_batch_max: Option<usize>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub backoff_min: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub backoff_max: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub peer_connect_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub heartbeat_interval: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub heartbeat_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub places_timeout: Option<Duration>,
    #[serde(default)]
    pub places_response_bytes_max: Option<usize>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub whatsat_wait: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub places_cache_ttl: Option<Duration>,
    #[serde(default)]
    pub places_cache_bytes_max: Option<usize>,
    #[serde(default)]
    pub places_calls_per_second_max: Option<usize>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub ready_alone_after: Option<Duration>,
}

impl LimitOverrides {
    /// Writes every override that is set into `limits`.
    pub fn apply(&self, limits: &mut Limits) {
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field {
                    limits.$field = value;
                }
            )*};
        }
        set!(
            connections_max,
            line_bytes_max,
            client_idle_timeout,
            clients_max,
            table_bytes_max,
            client_id_bytes_max,
            timestamp_ahead_max,
            client_write_timeout,
            peer_links_max,
            peer_handshakes_max,
            link_batch_max,
            backoff_min,
            backoff_max,
            peer_connect_timeout,
            heartbeat_interval,
            heartbeat_timeout,
            places_timeout,
            places_response_bytes_max,
            whatsat_wait,
            places_cache_ttl,
            places_cache_bytes_max,
            places_calls_per_second_max,
            ready_alone_after
        );
    }
}

/// Which checkers run and their bounds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    /// Liveness: after the last fault (and the last client update), every running server holds
    /// the same, newest table within this much simulated time.
    #[serde(deserialize_with = "de::duration")]
    pub converged_within: Duration,
    /// Liveness: every command to a running server is answered within this.
    #[serde(deserialize_with = "de::duration")]
    pub answered_within: Duration,
    /// `flood_bound`'s refill rule, for scenarios that opt in: in each life of a server, the
    /// records whole-table reconciles carry into it, summed over its neighbours, are at most
    /// this many times the records it stores in that life. So `1`: a restarted server is
    /// refilled once, not once per neighbour. It assumes the first refill completes within
    /// `Limits::fill_wait` (no fault slows it), so it is off unless a scenario sets it.
    pub refills_max: Option<u64>,
    /// Checker names not to run (see [`CheckerName::ALL`]); validation rejects any other name.
    pub skip: Vec<String>,
    /// Checker name -> why its verdict may differ in real mode (`sim --compare` reports the
    /// difference as expected, with this reason, instead of failing).
    pub real_divergence: std::collections::BTreeMap<String, String>,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            converged_within: Duration::from_secs(3),
            answered_within: Duration::from_secs(2),
            refills_max: None,
            skip: Vec::new(),
            real_divergence: Default::default(),
        }
    }
}

impl Checks {
    /// Whether the checker `name` runs.
    pub fn runs(&self, name: CheckerName) -> bool {
        !self.skip.iter().any(|s| s == name.as_str())
    }
}

/// A scenario file that cannot be used. `Display` is `FILE:LINE:COL: message` (or
/// `FILE: message` when no position is known), like a compiler's, so editors jump to it.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read the scenario: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not YAML, or not the scenario's shape (unknown key, wrong type, missing field).
    #[error("{}: {message}", Position { path, line: *line, column: *column })]
    Syntax {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    /// Well-formed, but not a scenario that can run (unknown server, steps out of order, ...).
    #[error("{}: {message}", Position { path, line: *line, column: *column })]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
}

impl ScenarioError {
    /// The 1-based line and column the error points at, when known.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self {
            ScenarioError::Read { .. } => None,
            ScenarioError::Syntax { line, column, .. }
            | ScenarioError::Invalid { line, column, .. } => {
                (*line > 0).then_some((*line, *column))
            }
        }
    }
}

struct Position<'a> {
    path: &'a Path,
    line: u64,
    column: u64,
}

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path.display())
        } else {
            write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
        }
    }
}

impl Scenario {
    /// Parses and validates a scenario. `origin` names the file in errors and anchors a
    /// relative `herd: { file: ... }`.
    pub fn from_yaml_str(text: &str, origin: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let origin = origin.as_ref();
        let file: de::ScenarioFile =
            serde_saphyr::from_str(text).map_err(|err| de::syntax_error(origin, &err))?;
        validate::validate(file, origin)
    }

    /// Reads, parses and validates the scenario file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::from_yaml_str(&text, path)
    }

    /// The time of the last step that changes the network or the set of running servers
    /// (partition, repair, hold, release, latency, crash, restart), or zero. From then on the
    /// fault configuration no longer changes, so liveness is judged from this point. Skew and
    /// Places faults do not count: they never stop records from flooding.
    pub fn last_fault_heal_at(&self) -> Duration {
        let buggified = self
            .buggify
            .as_ref()
            .filter(|b| b.ends_links())
            .map(|b| b.until);
        self.steps
            .iter()
            .filter(|step| step.action.is_topology_fault())
            .map(|step| step.at)
            .chain(buggified)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The expectations of client steps, by step id (what the `expectations` checker needs).
    pub fn expectations(&self) -> BTreeMap<u64, Expect> {
        self.steps
            .iter()
            .filter_map(|step| step.expect.clone().map(|expect| (step.id, expect)))
            .collect()
    }

    /// Writes the scenario's `limits:` overrides into the herd's limits.
    pub fn apply_limit_overrides(&self, limits: &mut Limits) {
        self.limits.apply(limits);
    }

    /// The limits the servers run with: the herd's, with the scenario's overrides.
    pub fn effective_limits(&self) -> Limits {
        let mut limits = self.herd.limits.clone();
        self.apply_limit_overrides(&mut limits);
        limits
    }

    /// The same scenario on another herd (the CLI's `--herd`): every herd-dependent check runs
    /// again, so a step naming a server the new herd lacks is refused. `source` is the herd
    /// file's path, for the report.
    pub fn with_herd(
        mut self,
        herd: Herd,
        source: impl Into<PathBuf>,
    ) -> Result<Scenario, ScenarioError> {
        let source = source.into();
        self.herd = herd;
        self.herd_source = HerdSource::File(source.clone());
        validate::check_herd(
            &self,
            &serde_saphyr::Location::UNKNOWN,
            &serde_saphyr::Location::UNKNOWN,
        )
        .map_err(|e| match e {
            ScenarioError::Invalid {
                path,
                line,
                column,
                message,
            } => ScenarioError::Invalid {
                path,
                line,
                column,
                message: format!("with herd `{}`: {message}", source.display()),
            },
            other => other,
        })?;
        Ok(self)
    }

    /// The herd's server names, in herd order.
    pub fn server_names(&self) -> Vec<String> {
        self.herd.servers.iter().map(|s| s.name.clone()).collect()
    }

    /// Client host names used by the workload, sorted and deduplicated.
    pub fn client_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .steps
            .iter()
            .filter_map(|step| step.action.client().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A duration as a scenario writes it (`0s`, `250ms`, `3s`, `1.25s`): the herd file's format.
pub use server::config::format_duration as fmt_duration;
pub use step::{
    Action, Expect, HOSTILE_ID_BYTES_MAX, Hostile, IamAt, LOAD_CLIENTS_MAX, LinkCut, LinkGroups,
    LinkLatency, Load, PlacesFault, Raw, RawPayload, STEP_CONNECTIONS_MAX, Skew, Step, WhatsAt,
};
pub use step::{DiskFaultKind, DiskStep, STALL_FOR_MAX, STALL_PER_SECOND_MAX, Stall};
pub use step::{Impostor, ImpostorCertificate};
pub use tamper::{
    TAMPER_ALTER_BYTES_MAX, TAMPER_INJECT_BYTES_MAX, TAMPER_REPLAY_BYTES_MAX, Tamper, TamperMode,
};
pub use write::{herd_yaml, yaml_scalar};

#[cfg(test)]
mod tests;
