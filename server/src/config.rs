//! The herd file: which servers exist, where they listen, who talks with whom, and every limit.
//!
//! A herd file is YAML. With no file the built-in default herd of docs/protocol.md §13 is used.
//! Every bound the server enforces lives in [`Limits`], with its default written next to it,
//! so an operator can read one struct to know what the server will and will not do.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// The whole herd: servers in file order, undirected links, limits shared by every server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Herd {
    pub servers: Vec<ServerSpec>,
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    #[serde(default)]
    pub limits: Limits,
    /// Refused when given: links authenticate with TLS certificates now (`tls_dir`), and a
    /// herd file that still names a secret gets an error that says so.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// The directory of the herd's certificates (relative to the herd file): `ca.pem`, and
    /// `<name>.pem` and `<name>.key` for each server, as `server certs` writes them. Persistent
    /// links run over TLS with them; `--tls-dir` overrides it. None: the binary makes them in
    /// memory when it runs the whole herd, and otherwise runs links unauthenticated (warned).
    #[serde(default)]
    pub tls_dir: Option<PathBuf>,
    /// Where each server keeps its durable store, in a directory of its own name (relative to
    /// the herd file); `--data-dir` overrides it. None (the default): tables live in memory.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Count nothing for metrics (the binary's `--no-metrics`, to measure what counting
    /// costs); a scrape then shows zeros and the table's gauges. Never from the YAML text.
    #[serde(skip)]
    pub metrics_off: bool,
}

/// Why a herd file's `secret_file` is refused, and what replaces it.
pub const SECRET_FILE_GONE: &str = "secret_file is no longer read: links authenticate with TLS \
     certificates signed by the herd's CA; name their directory with tls_dir (`server certs \
     --herd FILE --out DIR` writes one)";

/// One server of the herd.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub name: String,
    /// Host to bind and to dial; loopback unless the operator says otherwise.
    #[serde(default = "default_host")]
    pub host: String,
    pub port: u16,
    /// The port set apart for links from persistent neighbours; none: the client port plus
    /// [`PEER_PORT_OFFSET`]. No other server's client, peer or admin port on the same host
    /// may be it.
    #[serde(default)]
    pub peer_port: Option<u16>,
    /// The admin address's port (`/metrics`, `/healthz`, `/readyz`); none: no admin address.
    #[serde(default)]
    pub admin_port: Option<u16>,
    /// Host the admin address binds; loopback unless the operator says otherwise.
    #[serde(default = "default_host")]
    pub admin_host: String,
}

/// How far above its client port a server's peer port is when the herd file names none.
pub const PEER_PORT_OFFSET: u16 = 100;

impl ServerSpec {
    /// The port persistent neighbours dial: `peer_port`, or the client port plus
    /// [`PEER_PORT_OFFSET`] (none when that passes 65535: the herd file must name one).
    pub fn peer_port(&self) -> Option<u16> {
        self.peer_port
            .or_else(|| self.port.checked_add(PEER_PORT_OFFSET))
    }
}

fn default_host() -> String {
    "127.0.0.1".to_string()
}

/// An undirected "talks with" edge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub between: [String; 2],
    /// Speak the classic herd dialect on this link: one connection per AT line, nothing but
    /// 6-field AT lines, no heartbeat and no reconciliation. Lets this server join a herd of
    /// classic implementations (and lets the simulation show what reconciliation buys).
    #[serde(default)]
    pub classic: bool,
}

/// A neighbour as one server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub name: String,
    pub host: String,
    /// The port to dial: the neighbour's peer port, or its client port for a classic link.
    pub port: u16,
    pub classic: bool,
}

/// What an AT line holds besides its client id, at most: `AT ` (3 bytes), the origin (a
/// server name, at most [`SERVER_NAME_BYTES_MAX`]), four separators, and the time difference,
/// location and timestamp at their bounds ([`TIME_DIFF_BYTES_MAX`], `location_bytes_max` and
/// `timestamp_bytes_max`, which may not exceed their budgets here). So a client id bound that
/// leaves this much room keeps every record inside every link's line (counted in
/// `scenarios/herds/accepted/client-id-at-bound.yaml`).
pub const AT_LINE_FIXED_BYTES_MAX: usize = 3
    + SERVER_NAME_BYTES_MAX
    + 1
    + TIME_DIFF_BYTES_MAX
    + 1
    + 1
    + LOCATION_BYTES_BUDGET
    + 1
    + TIMESTAMP_BYTES_BUDGET;

/// Longest time difference text a record from a link may carry: a server makes it (sign,
/// seconds, 9 fraction digits: 22 bytes for any timestamp before year 10000), so a longer one
/// is padding, refused like an over-long location.
pub const TIME_DIFF_BYTES_MAX: usize = 32;
/// The least `log_file_bytes_max` may be: a file holds many lines (a longer line than this
/// is rare, and gets a file of its own).
pub const LOG_FILE_BYTES_MIN: usize = 4096;
/// The most `location_bytes_max` may be: its share of [`AT_LINE_FIXED_BYTES_MAX`].
pub const LOCATION_BYTES_BUDGET: usize = 64;
/// The most `timestamp_bytes_max` may be: its share of [`AT_LINE_FIXED_BYTES_MAX`].
pub const TIMESTAMP_BYTES_BUDGET: usize = 32;

/// Longest server name a herd file may give.
pub const SERVER_NAME_BYTES_MAX: usize = 64;

/// Every bound the server enforces. Units go last in names (`_max`, `_ms`-like durations are
/// written as `500ms`, `3s` in the file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Client connections open at once; one more is accepted and closed at once. Default 1024.
    pub connections_max: usize,
    /// Longest input line kept; the rest of a longer line is discarded as it arrives and the
    /// line is answered `? ` + its first 256 bytes. Default 65536.
    pub line_bytes_max: usize,
    /// A client connection with no input for this long is closed. Default 60s.
    #[serde(with = "duration_text")]
    pub client_idle_timeout: Duration,
    /// Clients in the table; an IAMAT for a new client beyond it is answered `?`. Default 100000.
    pub clients_max: usize,
    /// Bytes the table may hold (records' text plus a per-record overhead, see
    /// `store::record_bytes`); a new client beyond it is answered `?`. Default 64 MiB.
    pub table_bytes_max: usize,
    /// Longest client id an IAMAT may carry; a longer one is answered `?`. It keeps every
    /// stored record's AT line well inside every link's line limit. Default 1024.
    pub client_id_bytes_max: usize,
    /// Longest location text a record may carry (at most 64, its share of an AT line); a
    /// longer IAMAT is answered `?` and a longer record from a link is refused, so padding
    /// (leading zeros) cannot grow a record, a flood or a log line. Default 64.
    pub location_bytes_max: usize,
    /// Longest timestamp text a record may carry (at most 32, its share of an AT line);
    /// enforced as `location_bytes_max` is. Default 32.
    pub timestamp_bytes_max: usize,
    /// How far a timestamp may be ahead of this server's clock, for client IAMATs and peer
    /// records alike; further ahead is refused (`?` to a client), so no one can take over an
    /// id for good with a timestamp from the future. Far above any real skew. Default 1 day.
    #[serde(with = "duration_text")]
    pub timestamp_ahead_max: Duration,
    /// A reply a client does not read within this time closes its connection, so a client
    /// that never reads cannot hold its slot. Default 10s.
    #[serde(with = "duration_text")]
    pub client_write_timeout: Duration,
    /// Incoming peer link connections at once, counted apart from `connections_max`, so
    /// that held client connections can never keep a neighbour out. Default 64.
    pub peer_links_max: usize,
    /// Link handshakes pending at once (a connection that said `PEER` and has not proven who
    /// it is yet), apart from links and client slots; when full, a new one evicts the oldest,
    /// so stallers cannot keep a neighbour out. Default 256.
    pub peer_handshakes_max: usize,
    /// A link handshake not proven within this time is dropped. Default 1s.
    #[serde(with = "duration_text")]
    pub peer_handshake_timeout: Duration,
    /// Records a link writes in one batch before it marks its place (`MARK`) and looks at
    /// heartbeats again. A slow neighbour makes its link lag by whole batches; nothing is
    /// dropped and nothing is resent. Default 256.
    pub link_batch_max: usize,
    /// First retry delay after a failed dial; doubles per failure, with jitter. Default 100ms.
    #[serde(with = "duration_text")]
    pub backoff_min: Duration,
    /// Largest retry delay. Default 2s.
    #[serde(with = "duration_text")]
    pub backoff_max: Duration,
    /// A dial that does not complete in this time fails. Default 2s.
    #[serde(with = "duration_text")]
    pub peer_connect_timeout: Duration,
    /// A persistent link sends `PING` after this much silence. Default 1s.
    #[serde(with = "duration_text")]
    pub heartbeat_interval: Duration,
    /// A persistent link with no `PONG` (outbound) or no line (inbound) for this long is dropped
    /// and redialled; it catches connections a partition left half-dead. Default 3s.
    #[serde(with = "duration_text")]
    pub heartbeat_timeout: Duration,
    /// Whole Places request, body included. Default 5s.
    #[serde(with = "duration_text")]
    pub places_timeout: Duration,
    /// Largest Places response body read. Default 1048576.
    pub places_response_bytes_max: usize,
    /// How long a WHATSAT for an unknown client waits for its record to arrive by flooding
    /// before answering `?`. Zero answers at once, like the classic herd. Default 500ms.
    #[serde(with = "duration_text")]
    pub whatsat_wait: Duration,
    /// On a stop (SIGTERM, Ctrl-C): how long connections get to finish their reply, and then
    /// how long links get to send neighbours every change they lack. What cannot go in that
    /// time is logged (`link_drained`). Default 2s.
    #[serde(with = "duration_text")]
    pub stop_grace: Duration,
    /// With a data directory: the durable store's log is compacted into a snapshot once it is
    /// longer than the table and than this, so the disk holds at most about twice the table
    /// plus this. Default 1 MiB.
    pub durable_log_bytes_min: usize,
    /// Replies one client connection may owe at once: a pipelining client's IAMATs are
    /// applied as they are read while their `AT` replies wait for the durable store's sync;
    /// at this many the connection stops reading until the oldest is written. Each reply owed
    /// holds at most two lines of `line_bytes_max`. Default 64.
    pub replies_pending_max: usize,
    /// With a data directory: bytes of records queued for the durable store's writer and not
    /// yet synced (each counted as the table counts it), so a disk slower than the records
    /// coming in makes clients and links wait rather than memory grow. Default 1 MiB.
    pub durable_queue_bytes_max: usize,
    /// How long an upstream Places answer with place data is reused for the same search
    /// (location and radius; the bound is applied after the cache). Zero caches nothing.
    /// Default 60s.
    #[serde(with = "duration_text")]
    pub places_cache_ttl: Duration,
    /// Bytes of Places answers (their JSON text) the cache holds; the oldest go first.
    /// Default 16 MiB.
    pub places_cache_bytes_max: usize,
    /// Upstream Places calls this server makes in any one second; past it a WHATSAT gets its
    /// AT line and Google's `OVER_QUERY_LIMIT` JSON. Default 10.
    pub places_calls_per_second_max: usize,
    /// A server's log file is rotated before it would grow past this many bytes (between
    /// whole lines; a single longer line gets a file of its own). Default 64 MiB.
    pub log_file_bytes_max: usize,
    /// Log files kept per server, the one being written included; the oldest goes at a
    /// rotation. With `log_file_bytes_max`, the most disk a server's log takes. Default 8.
    pub log_files_max: usize,
    /// `/readyz` on the admin address: a server with neighbours is ready when linked to at
    /// least one, or when it has been linked to none for this long. Default 10s.
    #[serde(with = "duration_text")]
    pub ready_alone_after: Duration,
}

impl Limits {
    /// How long a server that must let a neighbour compare its whole table holds back that
    /// neighbour's `LINKED` while another whole-table catch-up is coming in (it restarted), so
    /// the second sends only what the first did not bring: three `heartbeat_timeout`s, time
    /// for a refill of a full default table on a busy machine. The dialler waits this much
    /// longer for `LINKED` than for other handshake lines; and a restarted dialler whose table
    /// is being refilled waits at most this long, its link idling with heartbeats, before it
    /// compares tables.
    pub fn fill_wait(&self) -> Duration {
        3 * self.heartbeat_timeout
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections_max: 1024,
            line_bytes_max: 64 * 1024,
            client_idle_timeout: Duration::from_secs(60),
            clients_max: 100_000,
            table_bytes_max: 64 * 1024 * 1024,
            client_id_bytes_max: 1024,
            location_bytes_max: LOCATION_BYTES_BUDGET,
            timestamp_bytes_max: TIMESTAMP_BYTES_BUDGET,
            timestamp_ahead_max: Duration::from_secs(24 * 60 * 60),
            client_write_timeout: Duration::from_secs(10),
            peer_links_max: 64,
            peer_handshakes_max: 256,
            peer_handshake_timeout: Duration::from_secs(1),
            link_batch_max: 256,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            peer_connect_timeout: Duration::from_secs(2),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            places_timeout: Duration::from_secs(5),
            places_response_bytes_max: 1024 * 1024,
            whatsat_wait: Duration::from_millis(500),
            stop_grace: Duration::from_secs(2),
            durable_log_bytes_min: 1024 * 1024,
            replies_pending_max: 64,
            durable_queue_bytes_max: 1024 * 1024,
            places_cache_ttl: Duration::from_secs(60),
            places_cache_bytes_max: 16 * 1024 * 1024,
            places_calls_per_second_max: 10,
            ready_alone_after: Duration::from_secs(10),
            log_file_bytes_max: 64 * 1024 * 1024,
            log_files_max: 8,
        }
    }
}

/// What is wrong with a herd file or herd. Parse errors carry line and column.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read herd file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl Herd {
    /// The five-server herd of docs/protocol.md §13, on 127.0.0.1 ports 10000-10004 (peer ports
    /// 10100-10104).
    pub fn default_herd() -> Herd {
        let names = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
        let servers = names
            .iter()
            .zip(10000u16..)
            .map(|(name, port)| ServerSpec {
                name: name.to_string(),
                host: default_host(),
                port,
                peer_port: None,
                admin_port: None,
                admin_host: default_host(),
            })
            .collect();
        let edges = [
            ("Bailey", "Bona"),
            ("Bailey", "Campbell"),
            ("Bona", "Campbell"),
            ("Bona", "Clark"),
            ("Campbell", "Jaquez"),
            ("Clark", "Jaquez"),
        ];
        let links = edges
            .iter()
            .map(|(a, b)| LinkSpec {
                between: [a.to_string(), b.to_string()],
                classic: false,
            })
            .collect();
        Herd {
            servers,
            links,
            limits: Limits::default(),
            secret_file: None,
            tls_dir: None,
            data_dir: None,
            metrics_off: false,
        }
    }

    /// Parses and validates a herd file's text; `origin` names it in errors.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Herd, ConfigError> {
        let herd: Herd = serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        herd.validate().map_err(|message| ConfigError::Invalid {
            origin: origin.to_string(),
            message,
        })?;
        Ok(herd)
    }

    /// Reads, parses and validates a herd file; its `data_dir` and `tls_dir` are taken
    /// relative to it.
    pub fn load(path: &Path) -> Result<Herd, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut herd = Herd::from_yaml_str(&text, &path.display().to_string())?;
        if let Some(dir) = &herd.data_dir {
            herd.data_dir = Some(path.parent().unwrap_or(Path::new(".")).join(dir));
        }
        if let Some(dir) = &herd.tls_dir {
            herd.tls_dir = Some(path.parent().unwrap_or(Path::new(".")).join(dir));
        }
        Ok(herd)
    }

    /// Checks what serde cannot: unique names and addresses, links between known servers,
    /// limits that make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers.is_empty() {
            return Err("a herd needs at least one server".into());
        }
        if self.secret_file.is_some() {
            return Err(SECRET_FILE_GONE.into());
        }
        for (i, s) in self.servers.iter().enumerate() {
            if s.name.is_empty()
                || s.name.len() > SERVER_NAME_BYTES_MAX
                || s.name.bytes().any(crate::protocol::is_spec_whitespace)
            {
                return Err(format!(
                    "server {} has name {:?}: names must be 1 to {SERVER_NAME_BYTES_MAX} bytes without white space",
                    i + 1,
                    s.name
                ));
            }
            if let Some(other) = self.servers[..i].iter().find(|o| o.name == s.name) {
                return Err(format!("server name {} is used twice", other.name));
            }
            if let Some(admin) = s.admin_port
                && let Some(other) = self.servers.iter().find(|o| {
                    (o.host == s.admin_host && (o.port == admin || o.peer_port() == Some(admin)))
                        || (o.name != s.name
                            && o.admin_host == s.admin_host
                            && o.admin_port == Some(admin))
                })
            {
                return Err(format!(
                    "server {}'s admin address {}:{admin} is also {}'s",
                    s.name, s.admin_host, other.name
                ));
            }
            if let Some(other) = self.servers[..i]
                .iter()
                .find(|o| o.host == s.host && o.port == s.port)
            {
                return Err(format!(
                    "servers {} and {} both listen on {}:{}",
                    other.name, s.name, s.host, s.port
                ));
            }
        }
        // Client addresses first: two servers on one address is the plainer mistake.
        for s in &self.servers {
            let Some(peer) = s.peer_port() else {
                return Err(format!(
                    "server {}'s port {} leaves no room for its default peer port (port + \
                     {PEER_PORT_OFFSET}): give it a peer_port",
                    s.name, s.port
                ));
            };
            if let Some(other) = self.servers.iter().find(|o| {
                (o.host == s.host && o.port == peer)
                    || (o.name != s.name && o.host == s.host && o.peer_port() == Some(peer))
            }) {
                return Err(format!(
                    "server {}'s peer port {}:{peer} is also {}'s (peer_port must differ from \
                     every client, peer and admin port on its host)",
                    s.name, s.host, other.name
                ));
            }
        }
        for (i, link) in self.links.iter().enumerate() {
            let [a, b] = &link.between;
            for end in [a, b] {
                if self.server(end).is_none() {
                    return Err(format!(
                        "link {} names {end}, which is not a server of this herd",
                        i + 1
                    ));
                }
            }
            if a == b {
                return Err(format!("link {} joins {a} to itself", i + 1));
            }
            if self.links[..i].iter().any(|l| same_edge(l, link)) {
                return Err(format!("link {a} - {b} is listed twice"));
            }
        }
        let l = &self.limits;
        let positive = [
            ("connections_max", l.connections_max),
            ("line_bytes_max", l.line_bytes_max),
            ("clients_max", l.clients_max),
            ("table_bytes_max", l.table_bytes_max),
            ("client_id_bytes_max", l.client_id_bytes_max),
            ("location_bytes_max", l.location_bytes_max),
            ("timestamp_bytes_max", l.timestamp_bytes_max),
            ("peer_links_max", l.peer_links_max),
            ("peer_handshakes_max", l.peer_handshakes_max),
            ("link_batch_max", l.link_batch_max),
            ("places_response_bytes_max", l.places_response_bytes_max),
            ("places_calls_per_second_max", l.places_calls_per_second_max),
            ("log_files_max", l.log_files_max),
            ("replies_pending_max", l.replies_pending_max),
            ("durable_queue_bytes_max", l.durable_queue_bytes_max),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("limits.{name} must be at least 1"));
            }
        }
        if l.line_bytes_max < 256 {
            return Err("limits.line_bytes_max must be at least 256".into());
        }
        // An AT line is "AT " + origin + time difference + id + location + timestamp: an id as
        // long as its bound must leave room for the other fields at their budgets.
        if l.client_id_bytes_max + AT_LINE_FIXED_BYTES_MAX > l.line_bytes_max {
            return Err(format!(
                "limits.client_id_bytes_max must be at most line_bytes_max - {AT_LINE_FIXED_BYTES_MAX}, so every record fits a link's line"
            ));
        }
        if l.log_file_bytes_max < LOG_FILE_BYTES_MIN {
            return Err(format!(
                "limits.log_file_bytes_max must be at least {LOG_FILE_BYTES_MIN}"
            ));
        }
        if l.location_bytes_max > LOCATION_BYTES_BUDGET
            || l.timestamp_bytes_max > TIMESTAMP_BYTES_BUDGET
        {
            return Err(format!(
                "limits.location_bytes_max must be at most {LOCATION_BYTES_BUDGET} and timestamp_bytes_max at most {TIMESTAMP_BYTES_BUDGET}, their shares of an AT line"
            ));
        }
        if l.client_write_timeout.is_zero() || l.timestamp_ahead_max.is_zero() {
            return Err(
                "limits.client_write_timeout and timestamp_ahead_max must be above zero".into(),
            );
        }
        if l.backoff_min.is_zero() || l.backoff_min > l.backoff_max {
            return Err("limits.backoff_min must be above zero and at most backoff_max".into());
        }
        if l.peer_handshake_timeout.is_zero() {
            return Err("limits.peer_handshake_timeout must be above zero".into());
        }
        if l.heartbeat_interval.is_zero() || l.heartbeat_timeout <= l.heartbeat_interval {
            return Err(
                "limits.heartbeat_timeout must be longer than heartbeat_interval (> 0)".into(),
            );
        }
        Ok(())
    }

    pub fn server(&self, name: &str) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The neighbours of `name`, in herd-file server order (deterministic).
    pub fn neighbours(&self, name: &str) -> Vec<Neighbour> {
        self.servers
            .iter()
            .filter_map(|s| {
                let link = self.links.iter().find(|l| {
                    let [a, b] = &l.between;
                    (a == name && *b == s.name) || (b == name && *a == s.name)
                })?;
                // Persistent links dial the peer port (validate gives every server one).
                let port = match (link.classic, s.peer_port()) {
                    (false, Some(peer)) => peer,
                    _ => s.port,
                };
                Some(Neighbour {
                    name: s.name.clone(),
                    host: s.host.clone(),
                    port,
                    classic: link.classic,
                })
            })
            .collect()
    }
}

fn same_edge(x: &LinkSpec, y: &LinkSpec) -> bool {
    let [a, b] = &x.between;
    let [c, d] = &y.between;
    (a == c && b == d) || (a == d && b == c)
}

/// Parses `250ms`, `3s`, `1.5s`, `2m`, `0s`: a non-negative decimal number and a unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration {text:?} needs a unit (ms, s or m)"))?;
    let (number, unit) = text.split_at(split);
    let scale_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        _ => return Err(format!("duration {text:?}: unit must be ms, s or m")),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || (number.contains('.') && frac.is_empty()) {
        return Err(format!("duration {text:?} is not a number"));
    }
    let whole: u64 = whole
        .parse()
        .map_err(|_| format!("duration {text:?} is not a number"))?;
    // Fractions are kept to a millionth of the unit; finer digits are ignored.
    let mut frac_us: u64 = 0;
    for (i, c) in frac.chars().enumerate() {
        let digit = c
            .to_digit(10)
            .ok_or_else(|| format!("duration {text:?} is not a number"))?;
        if i < 6 {
            frac_us += u64::from(digit) * 10u64.pow(5 - i as u32);
        }
    }
    let micros = whole
        .checked_mul(scale_ms * 1000)
        .and_then(|w| w.checked_add(frac_us * scale_ms / 1000))
        .ok_or_else(|| format!("duration {text:?} is too large"))?;
    Ok(Duration::from_micros(micros))
}

/// Writes a duration the way [`parse_duration`] reads it back: `0s`, `250ms`, `3s`, `1.25s`;
/// odd values in seconds with up to 9 decimals (`0.00025s`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos.is_multiple_of(1_000_000_000) {
        return format!("{}s", nanos / 1_000_000_000);
    }
    if nanos < 1_000_000_000 && nanos.is_multiple_of(1_000_000) {
        return format!("{}ms", nanos / 1_000_000);
    }
    let text = format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000);
    format!("{}s", text.trim_end_matches('0'))
}

/// serde adapter: durations as text (`500ms`) in herd files and scenarios.
pub mod duration_text {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Neighbour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{}", self.name, self.host, self.port)?;
        if self.classic {
            write!(f, ", classic")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_herd_is_the_one_in_the_spec() {
        let herd = Herd::default_herd();
        herd.validate().expect("the default herd is valid");
        let ports: Vec<(&str, u16)> = herd
            .servers
            .iter()
            .map(|s| (s.name.as_str(), s.port))
            .collect();
        assert_eq!(
            ports,
            [
                ("Bailey", 10000),
                ("Bona", 10001),
                ("Campbell", 10002),
                ("Clark", 10003),
                ("Jaquez", 10004)
            ]
        );
        let peer_ports: Vec<Option<u16>> = herd.servers.iter().map(|s| s.peer_port()).collect();
        assert_eq!(
            peer_ports,
            [
                Some(10100),
                Some(10101),
                Some(10102),
                Some(10103),
                Some(10104)
            ]
        );
        let names =
            |n: &str| -> Vec<String> { herd.neighbours(n).into_iter().map(|n| n.name).collect() };
        assert_eq!(names("Bailey"), ["Bona", "Campbell"]);
        assert_eq!(names("Bona"), ["Bailey", "Campbell", "Clark"]);
        assert_eq!(names("Campbell"), ["Bailey", "Bona", "Jaquez"]);
        assert_eq!(names("Clark"), ["Bona", "Jaquez"]);
        assert_eq!(names("Jaquez"), ["Campbell", "Clark"]);
    }

    #[test]
    fn a_herd_file_sets_servers_links_classic_flags_and_limits() {
        let text = "servers:\n  - { name: A, port: 9000 }\n  - { name: B, host: ::1, port: 9001 }\nlinks:\n  - { between: [A, B], classic: true }\nlimits:\n  whatsat_wait: 0s\n  link_batch_max: 8\n";
        let herd = Herd::from_yaml_str(text, "herd.yaml").expect("valid herd file");
        assert_eq!(herd.servers[0].host, "127.0.0.1");
        assert_eq!(herd.servers[1].host, "::1");
        assert!(herd.neighbours("A")[0].classic);
        assert_eq!(herd.limits.whatsat_wait, Duration::ZERO);
        assert_eq!(herd.limits.link_batch_max, 8);
        assert_eq!(herd.limits.line_bytes_max, Limits::default().line_bytes_max);
    }

    #[test]
    fn parse_errors_name_the_file_line_and_column() {
        let text = "servers:\n  - { name: A, port: 9000 }\n  - { name: B, port: 99999 }\n";
        let err = Herd::from_yaml_str(text, "herd.yaml")
            .expect_err("port out of range")
            .to_string();
        assert!(err.starts_with("herd.yaml: "), "{err}");
        assert!(err.contains("line 3"), "{err}");
        let err = Herd::from_yaml_str("servers: []\nlinkz: []\n", "h.yaml")
            .expect_err("unknown field")
            .to_string();
        assert!(
            err.contains("unknown field `linkz`") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn semantic_mistakes_are_explained() {
        let cases = [
            ("servers: []\n", "at least one server"),
            (
                "servers:\n  - { name: A, port: 1 }\n  - { name: A, port: 2 }\n",
                "used twice",
            ),
            (
                "servers:\n  - { name: A, port: 1 }\n  - { name: B, port: 1 }\n",
                "both listen on",
            ),
            (
                "servers:\n  - { name: A, port: 1 }\n  - { name: B, port: 101 }\n",
                "peer port 127.0.0.1:101 is also B's",
            ),
            (
                "servers:\n  - { name: A, port: 1, peer_port: 1 }\n",
                "peer port 127.0.0.1:1 is also A's",
            ),
            (
                "servers:\n  - { name: A, port: 1, peer_port: 7 }\n  - { name: B, port: 2, peer_port: 7 }\n",
                "peer port 127.0.0.1:7 is also B's",
            ),
            (
                "servers:\n  - { name: A, port: 65500 }\n",
                "give it a peer_port",
            ),
            (
                "servers:\n  - { name: A, port: 1, admin_port: 101 }\n",
                "admin address 127.0.0.1:101 is also A's",
            ),
            (
                "servers:\n  - { name: A, port: 1 }\nlinks:\n  - { between: [A, Z] }\n",
                "Z, which is not a server",
            ),
            (
                "servers:\n  - { name: A, port: 1 }\nlinks:\n  - { between: [A, A] }\n",
                "to itself",
            ),
            (
                "servers:\n  - { name: A, port: 1 }\nlimits: { backoff_min: 5s, backoff_max: 1s }\n",
                "backoff_min",
            ),
            (
                "servers:\n  - { name: A, port: 1 }\nlimits: { whatsat_wait: soon }\n",
                "unit must be",
            ),
        ];
        for (text, expected) in cases {
            let err = Herd::from_yaml_str(text, "h.yaml")
                .expect_err(text)
                .to_string();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn an_old_herd_file_with_a_secret_is_told_what_replaces_it() {
        let text = "servers:\n  - { name: A, port: 1 }\nsecret_file: herd.secret\n";
        let err = Herd::from_yaml_str(text, "h.yaml").expect_err("secret_file");
        let err = err.to_string();
        assert!(
            err.starts_with("h.yaml: secret_file is no longer read"),
            "{err}"
        );
        assert!(err.contains("tls_dir"), "{err}");
    }

    #[test]
    fn tls_dir_is_taken_relative_to_the_herd_file() {
        let dir = std::env::temp_dir().join(format!("herd-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let herd = dir.join("herd.yaml");
        std::fs::write(
            &herd,
            "servers:\n  - { name: A, port: 1 }\ntls_dir: certs\n",
        )
        .expect("write herd file");
        let loaded = Herd::load(&herd).expect("herd");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(loaded.tls_dir, Some(dir.join("certs")));
    }

    #[test]
    fn durations_parse_and_print_back() {
        for (text, ms) in [
            ("250ms", 250),
            ("3s", 3000),
            ("1.5s", 1500),
            ("2m", 120_000),
            ("0s", 0),
        ] {
            let d = parse_duration(text).expect(text);
            assert_eq!(d, Duration::from_millis(ms), "{text}");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_micros(1500)), "0.0015s");
        assert_eq!(format_duration(Duration::from_millis(1250)), "1.25s");
        for bad in ["", "5", "ms", "-1s", "1.s", "1h", "x1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
