//! Value classes a random workload never draws, each on in a small share of seeds so that
//! two of them rarely meet in one run: values exactly at a bound, a skewed neighbour, replayed
//! handshake lines, time differences of exactly zero, a table filled by updates of the clients
//! it holds, and a link asked for by a server of the herd that is not a neighbour.
//!
//! Exact values need exact clocks: in a seed with bound values or zero time differences the
//! network's latency is one value `L`, so a client's line reaches its server `2 L` after the
//! step (a connection, then the line), and the server's clock then is the run's start plus
//! that time plus the server's skew.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use super::{CLIENTS, Draft, ms, persistent_connected};
use crate::scenario::{Action, Hostile, IamAt, Raw, RawPayload, SignedDuration, Skew, WhatsAt};

/// Share of seeds in which each class is on.
const CLASS_CHANCE: f64 = 0.1;
/// How far behind the skewed neighbour's clock runs beyond the default `timestamp_ahead_max`
/// (one day): 1 to 5 s more, so every record it is sent is too far ahead for it.
const DAY_SECS: u64 = 86_400;
/// Clients whose records fill the table when they move far (their long locations).
const FILL_CLIENTS: usize = 6;
/// The longest location the default `location_bytes_max` takes: what a filling client moves to.
fn long_location() -> String {
    // As long as the default `location_bytes_max` allows: a longer one is refused, not stored.
    let zeros = "0".repeat((server::config::Limits::default().location_bytes_max - 6) / 2);
    format!("+0.{zeros}+0.{zeros}")
}
/// The longest time difference text a stored record has here: a day and some seconds behind
/// (`-86405.000000000`), at a timestamp at the ahead bound.
const TIME_DIFF_BYTES_MAX: usize = 16;

/// Which value classes a seed switched on, and how many steps each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueClasses {
    /// Steps with a value exactly at a bound (an id, a timestamp, coordinates, a WHATSAT, a
    /// line).
    pub edges: u32,
    /// A server whose clock runs more than `timestamp_ahead_max` behind, so it must refuse its
    /// neighbours' records.
    pub skewed_neighbour: bool,
    /// Link handshake lines sent on client connections.
    pub replays: u32,
    /// IAMATs whose timestamp is the server's clock at receipt.
    pub zero_diffs: u32,
    /// Clients that move far late in the run, past a table byte bound set just above the table.
    pub table_fill: bool,
    /// Links asked for, with the herd's proof, as a server of the herd that is no neighbour.
    pub non_neighbour_links: u32,
}

impl ValueClasses {
    /// Draws each class on with [`CLASS_CHANCE`].
    pub fn draw(rng: &mut SmallRng) -> ValueClasses {
        let mut count = |max: u32| {
            if rng.random_bool(CLASS_CHANCE) {
                rng.random_range(1..=max)
            } else {
                0
            }
        };
        ValueClasses {
            edges: count(3),
            skewed_neighbour: count(1) > 0,
            replays: count(2),
            zero_diffs: count(2),
            table_fill: count(1) > 0,
            non_neighbour_links: count(2),
        }
    }

    /// Whether a class needs exact clocks (one network latency).
    pub fn exact_clocks(&self) -> bool {
        self.edges > 0 || self.zero_diffs > 0
    }
}

impl fmt::Display for ValueClasses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "edges {} skewed-neighbour {} replays {} zero-diffs {} table-fill {} non-neighbour-links {}",
            self.edges,
            self.skewed_neighbour,
            self.replays,
            self.zero_diffs,
            self.table_fill,
            self.non_neighbour_links
        )
    }
}

impl Draft<'_> {
    /// The steps of every class the seed switched on; draws nothing for a class that is off.
    pub(super) fn value_classes(&mut self) {
        let classes = self.options.values.clone();
        if classes.skewed_neighbour {
            self.skewed_neighbour();
        }
        for i in 0..classes.edges {
            self.edge(i);
        }
        for _ in 0..classes.zero_diffs {
            let (server, at) = (self.server(), self.at(500, self.chaos_ms()));
            let timestamp = self.clock_at_receipt(&server, at);
            let client = self.workload_client();
            self.iamat(at, client, server, "+10+10".into(), Some(timestamp));
        }
        for i in 0..classes.replays {
            self.replay(i);
        }
        for _ in 0..classes.non_neighbour_links {
            self.non_neighbour_link();
        }
        if classes.table_fill {
            self.table_fill();
        }
    }

    fn workload_client(&mut self) -> String {
        let clients = self.options.clients.max(1) as usize;
        CLIENTS[self.rng.random_range(0..clients.min(CLIENTS.len()))].to_string()
    }

    fn iamat(
        &mut self,
        at: Duration,
        client: String,
        server: String,
        location: String,
        timestamp: Option<String>,
    ) {
        let iamat = IamAt {
            client,
            server,
            location,
            timestamp,
        };
        self.push(at, Action::IamAt(iamat));
    }

    /// The skew `server` runs with when a line sent at `at` reaches it (the last `skew` step).
    fn skew_nanos(&self, server: &str, at: Duration) -> i128 {
        let mut steps: Vec<(Duration, i128)> = self
            .steps
            .iter()
            .filter_map(|(when, action, _)| match action {
                Action::Skew(Skew { server: s, by }) if s == server && *when <= at => {
                    Some((*when, by.nanos()))
                }
                _ => None,
            })
            .collect();
        steps.sort_by_key(|(when, _)| *when);
        steps.last().map_or(0, |(_, nanos)| *nanos)
    }

    /// The server's clock, as a timestamp text, when a line sent at `at` reaches it.
    fn clock_at_receipt(&self, server: &str, at: Duration) -> String {
        let arrival = at + self.options.latency.min * 2;
        let nanos =
            (self.options.start + arrival).as_nanos() as i128 + self.skew_nanos(server, arrival);
        timestamp_text(nanos)
    }

    /// A server the herd can do without (the others stay connected), skewed far behind after
    /// the reorder probes: its neighbours' records are all too far ahead for it.
    fn skewed_neighbour(&mut self) {
        if self.options.start.as_secs() < 3 * DAY_SECS {
            return;
        }
        let spare: Vec<String> = self
            .servers
            .clone()
            .into_iter()
            .filter(|s| persistent_connected(&without(self.herd, s), None))
            .collect();
        if spare.is_empty() {
            return;
        }
        let server = spare[self.rng.random_range(0..spare.len())].clone();
        let by = SignedDuration {
            negative: true,
            magnitude: Duration::from_secs(DAY_SECS + self.rng.random_range(1..=5)),
        };
        self.push(ms(self.faults_from_ms), Action::Skew(Skew { server, by }));
    }

    /// One value exactly at a bound.
    fn edge(&mut self, i: u32) {
        let limits = &self.herd.limits;
        let (id_max, ahead, line_max) = (
            limits.client_id_bytes_max,
            limits.timestamp_ahead_max,
            limits.line_bytes_max,
        );
        let (server, at) = (self.server(), self.at(500, self.chaos_ms()));
        match self.rng.random_range(0..5) {
            0 => {
                let prefix = format!("edge{i}-");
                let client = format!(
                    "{prefix}{}",
                    "x".repeat(id_max.saturating_sub(prefix.len()))
                );
                self.iamat(at, client, server, "+1+1".into(), None);
            }
            1 => {
                let arrival = at + self.options.latency.min * 2;
                let nanos = (self.options.start + arrival + ahead).as_nanos() as i128
                    + self.skew_nanos(&server, arrival);
                let client = self.workload_client();
                self.iamat(
                    at,
                    client,
                    server,
                    "+2+2".into(),
                    Some(timestamp_text(nanos)),
                );
            }
            2 => {
                let poles = [
                    "+90+0",
                    "-90+0",
                    "+0+180",
                    "+0-180",
                    "+90.000000-180.000000",
                ];
                let location = poles[self.rng.random_range(0..poles.len())].to_string();
                let client = self.workload_client();
                self.iamat(at, client, server, location, None);
            }
            3 => {
                let whatsat = WhatsAt {
                    client: self.workload_client(),
                    server,
                    radius_km: "50".into(),
                    bound: 20,
                };
                self.push(at, Action::WhatsAt(whatsat));
            }
            _ => {
                let raw = Raw {
                    server,
                    client: format!("edge-line{i}"),
                    // Every other one the last line of its input, read at the end of input.
                    payload: RawPayload::Repeat {
                        byte: b'x',
                        count: line_max,
                        newline: i.is_multiple_of(2),
                    },
                };
                self.push(at, Action::Raw(raw));
            }
        }
    }

    /// A link's handshake line, out of its handshake, on a client connection.
    fn replay(&mut self, i: u32) {
        let line = match self.rng.random_range(0..3) {
            0 => format!("AUTH {} 1", self.rng.random_range(0..50)),
            1 => "HELLO".to_string(),
            _ => format!(
                "LINKED {} {} -",
                self.rng.random_range(1..u32::MAX),
                self.rng.random_range(0..50)
            ),
        };
        let raw = Raw {
            server: self.server(),
            client: format!("replay{i}"),
            payload: RawPayload::Line(line),
        };
        let at = self.at(0, self.chaos_ms());
        self.push(at, Action::Raw(raw));
    }

    /// A link asked for as a server of the herd that is not the target's neighbour.
    fn non_neighbour_link(&mut self) {
        let server = self.server();
        let neighbours: Vec<String> = self
            .herd
            .neighbours(&server)
            .into_iter()
            .map(|n| n.name)
            .collect();
        let strangers: Vec<String> = self
            .servers
            .iter()
            .filter(|s| **s != server && !neighbours.contains(s))
            .cloned()
            .collect();
        if strangers.is_empty() {
            return;
        }
        let name = strangers[self.rng.random_range(0..strangers.len())].clone();
        let hostile = Hostile {
            peer_as: Some(name),
            ..Hostile::lines(server, &[])
        };
        let at = self.at(0, self.chaos_ms());
        self.push(at, Action::Hostile(hostile));
    }

    /// Clients that report early with a short location and move late to a long one: the
    /// table's byte bound is set to what every record the steps can store may take at most
    /// before they move, so no new client is ever refused, and their moves take it past.
    fn table_fill(&mut self) {
        let server = self.server();
        for i in 0..FILL_CLIENTS {
            let at = ms(200 + 10 * i as u64);
            self.iamat(at, format!("fill{i}"), server.clone(), "+0+0".into(), None);
        }
        let bound = self.table_bytes_estimate();
        let late = self.options.chaos_end + Duration::from_secs(2);
        for i in 0..FILL_CLIENTS {
            self.iamat(
                late,
                format!("fill{i}"),
                server.clone(),
                long_location(),
                None,
            );
        }
        self.limits.table_bytes_max = Some(bound);
    }

    /// The most bytes the table can hold before the filling clients move: per client id, its
    /// longest location and the other fields at their most.
    fn table_bytes_estimate(&self) -> usize {
        let origin = self.servers.iter().map(String::len).max().unwrap_or(0);
        let mut clients: std::collections::BTreeMap<&str, usize> = Default::default();
        for (at, action, _) in &self.steps {
            if let Action::IamAt(iamat) = action {
                let timestamp = iamat.timestamp.as_ref().map_or_else(
                    || timestamp_text((self.options.start + *at).as_nanos() as i128).len(),
                    String::len,
                );
                let size = clients.entry(iamat.client.as_str()).or_default();
                *size = (*size).max(iamat.location.len() + timestamp);
            }
        }
        clients
            .iter()
            .map(|(id, fields)| {
                server::store::ENTRY_OVERHEAD_BYTES
                    + id.len()
                    + fields
                    + origin
                    + TIME_DIFF_BYTES_MAX
            })
            .sum()
    }
}

/// `herd` without `server` and its links.
fn without(herd: &server::config::Herd, server: &str) -> server::config::Herd {
    let mut rest = herd.clone();
    rest.servers.retain(|s| s.name != server);
    rest.links
        .retain(|l| !l.between.iter().any(|s| s == server));
    rest
}

/// POSIX seconds with nine fraction digits, for nanoseconds since the epoch (an i128: a u64
/// of nanoseconds ends in the year 2554, and runs start as late as 9000).
pub fn timestamp_text(nanos: i128) -> String {
    format!(
        "{}.{:09}",
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000)
    )
}
