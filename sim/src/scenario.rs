//! The scenario file: one chaos story as data (what the herd is, what the network does, which
//! faults and client commands happen when, and what the checkers must hold).
//!
//! Parsing is two passes. serde (with `deny_unknown_fields` everywhere) and serde-saphyr turn
//! the YAML into these types, so a typo or a wrong shape is reported with its line, column and
//! what was expected. Then a validation pass checks what types cannot say (names exist in the
//! herd, steps are in time order, locations parse, a restart follows a crash, ...), and its
//! errors name the step, its time and its line. The schema is documented for humans in
//! `scenarios/README.md`; keep the two in step.

mod de;
mod describe;
pub mod start;
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
    /// `herd: default` or no `herd` key: SPEC section 7's five servers.
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

/// One timed step: a fault or a client command, with optional expectations on the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The step's index in the file; the trace's `id` for its client events.
    pub id: u64,
    /// Simulated time since the start of the run.
    pub at: Duration,
    pub action: Action,
    /// Only on `iamat`, `whatsat` and `raw`.
    pub expect: Option<Expect>,
    /// Where the step starts in the file (1-based; 0 if unknown).
    pub line: u64,
    pub column: u64,
}

/// What a step does. Faults and workload are data; the driver matches on this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A client reports its location to a server.
    IamAt(IamAt),
    /// A client asks a server what is near another client.
    WhatsAt(WhatsAt),
    /// A client sends bytes as they are (invalid commands, huge lines, bad UTF-8).
    Raw(Raw),
    /// Cut the links between two groups of hosts (both ways unless `oneway`).
    Partition(LinkCut),
    /// Undo a partition.
    Repair(LinkCut),
    /// Hold messages between two groups: they queue until `release`.
    Hold(LinkGroups),
    /// Deliver everything held at once (later messages overtake earlier ones).
    Release(LinkGroups),
    /// Change the latency between two groups.
    Latency(LinkLatency),
    /// Stop a server; it loses its memory.
    Crash(String),
    /// Start a crashed server again, empty.
    Restart(String),
    /// Offset a server's clock.
    Skew(Skew),
    /// Change how the Places stub behaves (replaces the previous Places fault).
    Places(PlacesFault),
    /// Many IAMATs, pipelined over a few connections (overload).
    Load(Load),
    /// A hostile client: forged lines, huge ids, held connections.
    Hostile(Hostile),
}

/// `iamat: { client, server, location, timestamp? }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamAt {
    pub client: String,
    pub server: String,
    /// ISO 6709 text, sent verbatim.
    pub location: String,
    /// POSIX seconds text, sent verbatim; `None` means the client's simulated clock at send.
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// `whatsat: { client, server, radius_km, bound }`; `client` is both the sender and the
/// client asked about (the assignment's usage).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAt {
    pub client: String,
    pub server: String,
    /// Kept as written (`10`, `10.50`), sent verbatim.
    pub radius_km: String,
    pub bound: u64,
}

/// `raw: { server, client?, line | bytes_hex | repeat }`: one line of bytes, sent as they are.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "de::RawFile")]
pub struct Raw {
    pub server: String,
    /// The client host that sends it; defaults to `raw`.
    pub client: String,
    pub payload: RawPayload,
}

/// The bytes of a raw step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawPayload {
    /// Text; a `\n` is appended when sent.
    Line(String),
    /// Exact bytes; a `\n` may end them, none is appended.
    Hex(Vec<u8>),
    /// `byte` repeated `count` times, then `\n`.
    Repeat { byte: u8, count: usize },
}

impl Raw {
    /// The exact bytes the client writes.
    pub fn bytes(&self) -> Vec<u8> {
        match &self.payload {
            RawPayload::Line(text) => {
                let mut bytes = text.clone().into_bytes();
                bytes.push(b'\n');
                bytes
            }
            RawPayload::Hex(bytes) => bytes.clone(),
            RawPayload::Repeat { byte, count } => {
                let mut bytes = vec![*byte; *count];
                bytes.push(b'\n');
                bytes
            }
        }
    }
}

/// Two groups of hosts (server names or `places`) and a direction.
/// Load: `clients` IAMATs, one per distinct client id `{prefix}{n}`, pipelined over
/// `connections` connections to one server, as fast as the connections take them or at
/// `per_second`. Every reply is read; the trace gets one `load_sent` and one `load_done` per
/// step, not one event per command, so a big load stays a readable trace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub server: String,
    /// Distinct client ids, `{prefix}0` to `{prefix}{clients - 1}`.
    pub clients: usize,
    #[serde(default = "default_load_connections")]
    pub connections: usize,
    #[serde(default = "default_load_prefix")]
    pub prefix: String,
    /// Commands per second over all connections; absent: as fast as possible.
    #[serde(default)]
    pub per_second: Option<u32>,
}

fn default_load_connections() -> usize {
    1
}

fn default_load_prefix() -> String {
    "load".into()
}

/// At most this many clients in one load step (a bound like every other).
pub const LOAD_CLIENTS_MAX: usize = 200_000;
/// At most this many connections in one load or hostile step.
pub const STEP_CONNECTIONS_MAX: usize = 10_000;
/// A hostile huge id is at most this long.
pub const HOSTILE_ID_BYTES_MAX: usize = 1024 * 1024;

/// A hostile client: lines no legitimate client sends (forged `AT` and `PEER` lines, far-future
/// timestamps, huge ids), and connections opened only to be held. Whatever it sends, no
/// record may come of it: the `integrity` checker holds every stored record to a legitimate
/// client's IAMAT.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hostile {
    pub server: String,
    /// Sent on one connection, each followed by `\n`; the whole reply is read.
    #[serde(default)]
    pub lines: Vec<String>,
    /// An `IAMAT` whose client id is this many bytes long, sent on its own connection.
    #[serde(default)]
    pub huge_id_bytes: Option<usize>,
    /// Connections opened and held, never written to and never read from.
    #[serde(default)]
    pub hold_connections: usize,
    /// How long held connections stay open (default: to the end of the run).
    #[serde(default, rename = "for", deserialize_with = "de::opt_duration")]
    pub hold_for: Option<Duration>,
    /// A link handshake under this name with a valid proof of the herd's secret (the harness
    /// knows it), then a forged AT line of that origin, on its own connection. The name is
    /// not a persistent neighbour of `server`, so the server must refuse it: the secret proves
    /// membership of the herd, not the right to feed this server.
    #[serde(default)]
    pub peer_as: Option<String>,
}

impl Hostile {
    /// The client name hostile steps send as, in the trace.
    pub const CLIENT: &'static str = "mallory";

    /// A hostile client that sends `lines` to `server` and nothing else.
    pub fn lines(server: String, lines: &[String]) -> Hostile {
        Hostile {
            server,
            lines: lines.to_vec(),
            huge_id_bytes: None,
            hold_connections: 0,
            hold_for: None,
            peer_as: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkCut {
    pub between: Vec<String>,
    pub and: Vec<String>,
    /// Only messages from `between` to `and` are affected.
    #[serde(default)]
    pub oneway: bool,
}

/// Two groups of hosts; holds and releases are always both ways (turmoil's `hold`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkGroups {
    pub between: Vec<String>,
    pub and: Vec<String>,
}

/// A latency change on every link between two groups.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkLatency {
    pub between: Vec<String>,
    pub and: Vec<String>,
    pub latency: LatencyRange,
}

/// `skew: { server, by }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skew {
    pub server: String,
    pub by: SignedDuration,
}

/// The Places stub's behaviour from this step on. Each `places` step replaces the previous
/// one whole; `healthy: true` (alone) is the normal, answering stub. Faults combine:
/// `{ latency: 2s, http_status: 503 }` answers 503 after 2 s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacesFault {
    /// Answer after this delay.
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub latency: Option<Duration>,
    /// Answer with this HTTP status and an error body.
    #[serde(default)]
    pub http_status: Option<u16>,
    /// Answer 200 with a body that is not JSON.
    #[serde(default)]
    pub malformed: bool,
    /// Answer 200 with this non-OK Places `status` (e.g. `OVER_QUERY_LIMIT`).
    #[serde(default)]
    pub status: Option<String>,
    /// Accept no connection (the stub host drops every request).
    #[serde(default)]
    pub unreachable: bool,
    /// Back to normal.
    #[serde(default)]
    pub healthy: bool,
}

/// What the reply to a client step must show. All fields optional; each given one is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    /// The AT line's origin server (field 2).
    pub origin: Option<String>,
    /// The AT line's location text (field 5), verbatim.
    pub location: Option<String>,
    /// The AT line's client timestamp text (field 6), verbatim.
    pub timestamp: Option<String>,
    /// The AT line's time difference text (field 3), verbatim: tells apart two records that
    /// differ in nothing else (SPEC section 5's last tie-break).
    pub time_diff: Option<String>,
    /// Exactly this many Places results in the JSON.
    pub results: Option<usize>,
    /// The JSON's `status`.
    pub status: Option<String>,
    /// `true`: the reply is `? ...`; `false`: it is not. On a hostile step: every reply line
    /// is `? ...`.
    pub invalid: Option<bool>,
    /// A hostile step's reply has exactly this many lines (`0`: the connection was closed
    /// without a word).
    pub replies: Option<usize>,
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
        self.steps
            .iter()
            .filter(|step| step.action.is_topology_fault())
            .map(|step| step.at)
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

impl Action {
    /// The action's key in the YAML (`iamat`, `partition`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::IamAt(_) => "iamat",
            Action::WhatsAt(_) => "whatsat",
            Action::Raw(_) => "raw",
            Action::Partition(_) => "partition",
            Action::Repair(_) => "repair",
            Action::Hold(_) => "hold",
            Action::Release(_) => "release",
            Action::Latency(_) => "latency",
            Action::Crash(_) => "crash",
            Action::Restart(_) => "restart",
            Action::Skew(_) => "skew",
            Action::Places(_) => "places",
            Action::Load(_) => "load",
            Action::Hostile(_) => "hostile",
        }
    }

    /// Client commands (the workload), as opposed to faults.
    pub fn is_workload(&self) -> bool {
        matches!(self, Action::IamAt(_) | Action::WhatsAt(_) | Action::Raw(_))
    }

    /// Load and hostile clients: workload that has no per-command expectations.
    pub fn is_bulk_workload(&self) -> bool {
        matches!(self, Action::Load(_) | Action::Hostile(_))
    }

    /// Faults that change links or running servers (see [`Scenario::last_fault_heal_at`]).
    pub fn is_topology_fault(&self) -> bool {
        matches!(
            self,
            Action::Partition(_)
                | Action::Repair(_)
                | Action::Hold(_)
                | Action::Release(_)
                | Action::Latency(_)
                | Action::Crash(_)
                | Action::Restart(_)
        )
    }

    /// The sending client of a workload step.
    pub fn client(&self) -> Option<&str> {
        match self {
            Action::IamAt(a) => Some(&a.client),
            Action::WhatsAt(a) => Some(&a.client),
            Action::Raw(a) => Some(&a.client),
            _ => None,
        }
    }

    /// The server a workload step talks to.
    pub fn server(&self) -> Option<&str> {
        match self {
            Action::IamAt(a) => Some(&a.server),
            Action::WhatsAt(a) => Some(&a.server),
            Action::Raw(a) => Some(&a.server),
            Action::Load(a) => Some(&a.server),
            Action::Hostile(a) => Some(&a.server),
            _ => None,
        }
    }
}

/// A duration as a scenario writes it (`0s`, `250ms`, `3s`, `1.25s`): the herd file's format.
pub use server::config::format_duration as fmt_duration;
pub use write::yaml_scalar;

#[cfg(test)]
mod tests;
