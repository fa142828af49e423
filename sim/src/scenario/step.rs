//! A scenario's steps: the faults and the client workload, as data.

use std::time::Duration;

use serde::Deserialize;

use super::{LatencyRange, SignedDuration, de};

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
    /// A fault of one server's disk (with the herd's `data_dir`).
    Disk(DiskStep),
    /// A hostile peer takes the address of a server that is down and answers the links
    /// dialled to it as that server would, with a certificate that is not that server's; it
    /// leaves at the server's restart.
    Impostor(Impostor),
    /// An attacker on the path of a live link injects, replays or alters bytes on one
    /// direction of it.
    Tamper(super::Tamper),
}

/// `impostor: NAME`, or `impostor: { server: NAME, certificate: ... }`: which server's address
/// it takes, and what certificate it shows on the links dialled to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impostor {
    pub server: String,
    pub certificate: ImpostorCertificate,
}

/// What an impostor shows when TLS starts (in a herd without certificates it speaks in clear
/// whatever this says).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImpostorCertificate {
    /// No certificate: it goes on in clear after `HELLO`.
    None,
    /// A certificate for the server's name from another CA than the herd's (the default).
    #[default]
    OtherCa,
    /// A valid herd certificate, but for another server of the herd (`{ of: Clark }`).
    Of(String),
}

impl ImpostorCertificate {
    /// How the scenario file writes it.
    pub fn yaml(&self) -> String {
        match self {
            ImpostorCertificate::None => "none".into(),
            ImpostorCertificate::OtherCa => "other_ca".into(),
            ImpostorCertificate::Of(name) => format!("{{ of: {name} }}"),
        }
    }
}

impl<'de> Deserialize<'de> for Impostor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Name(String),
            Full(Full),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            server: String,
            #[serde(default)]
            certificate: ImpostorCertificate,
        }
        Ok(match Written::deserialize(deserializer)? {
            Written::Name(server) => Impostor {
                server,
                certificate: ImpostorCertificate::default(),
            },
            Written::Full(Full {
                server,
                certificate,
            }) => Impostor {
                server,
                certificate,
            },
        })
    }
}

/// `disk: { server, fault }`: what goes wrong with a server's disk. Power loss is `crash`
/// (with a `data_dir`, a crash loses every write not synced and tears the ones in flight).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskStep {
    pub server: String,
    pub fault: DiskFaultKind,
}

/// The disk faults a scenario can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskFaultKind {
    /// One bit of a file at rest flips; the server reads it when it next starts.
    FlipBit,
    /// The next sync fails.
    FailSync,
    /// Every write fails (no space) until `freed`.
    Full,
    /// The disk has space again.
    Freed,
}

impl DiskFaultKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            DiskFaultKind::FlipBit => "flip_bit",
            DiskFaultKind::FailSync => "fail_sync",
            DiskFaultKind::Full => "full",
            DiskFaultKind::Freed => "freed",
        }
    }
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
    /// `byte` repeated `count` times, then `\n` unless `newline` is false (a last line the
    /// server reads at the end of input).
    Repeat {
        byte: u8,
        count: usize,
        newline: bool,
    },
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
            RawPayload::Repeat {
                byte,
                count,
                newline,
            } => {
                let mut bytes = vec![*byte; *count];
                if *newline {
                    bytes.push(b'\n');
                }
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
    /// `lines` go to the server's peer port (where links arrive) instead of its client port.
    #[serde(default)]
    pub to_peer_port: bool,
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
    /// Handshake stallers: connections opened at a steady rate, each saying `PEER <as> 1` and
    /// then nothing, held until the server closes them or the stall ends.
    #[serde(default)]
    pub stall: Option<Stall>,
}

/// The most connections a second a `stall` opens.
pub const STALL_PER_SECOND_MAX: u32 = 2000;
/// The longest a `stall` runs.
pub const STALL_FOR_MAX: Duration = Duration::from_secs(60);

/// `stall: { as, per_second, for }`: link handshakes begun under a neighbour's name and never
/// finished, `per_second` new ones each second for `for`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    #[serde(rename = "as")]
    pub name: String,
    pub per_second: u32,
    #[serde(rename = "for", deserialize_with = "de::duration")]
    pub stall_for: Duration,
}

impl Hostile {
    /// The client name hostile steps send as, in the trace.
    pub const CLIENT: &'static str = "mallory";

    /// A hostile client that sends `lines` to `server` and nothing else.
    pub fn lines(server: String, lines: &[String]) -> Hostile {
        Hostile {
            server,
            lines: lines.to_vec(),
            to_peer_port: false,
            huge_id_bytes: None,
            hold_connections: 0,
            hold_for: None,
            peer_as: None,
            stall: None,
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
    /// differ in nothing else (docs/protocol.md §5's last tie-break).
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
            Action::Disk(_) => "disk",
            Action::Impostor(_) => "impostor",
            Action::Tamper(_) => "tamper",
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

    /// Faults that change links or running servers (see [`super::Scenario::last_fault_heal_at`]).
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
                | Action::Impostor(_)
                | Action::Tamper(_)
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
