//! What one swarm seed runs: [`SwarmOptions`] drawn from the seed (which fault families are
//! on, how many of each, the workload and the network), and the scenario built from them.
//! Faults fall in the first part of the run; the rest is quiet, so liveness can be judged.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use power::{FAILED_DISK_DOWN, PowerFault, down_near, power_fault_steps};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use server::config::Herd;
pub use topology::persistent_connected;
pub use values::{ValueClasses, timestamp_text};

use crate::scenario::buggify::BuggifySettings;
use crate::scenario::{
    Action, Checks, DiskFaultKind, DiskStep, Expect, HerdSource, Hostile, IamAt, LatencyRange,
    LimitOverrides, LinkCut, LinkGroups, LinkLatency, Load, Network, PlacesApi, PlacesFault, Raw,
    RawPayload, Scenario, SignedDuration, Skew, Step, WhatsAt,
};

/// Client ids the workload draws from.
const CLIENTS: [&str; 5] = ["kiwi", "lime", "mango", "plum", "fig"];
/// The quiet phase that ends every run.
pub const QUIET: Duration = Duration::from_secs(10);
/// The most power losses and disk faults a seed draws.
const POWER_FAULTS_MAX: u32 = 3;
/// The most attacks (impostor, stallers, forged classic lines, tampering) a seed draws.
const ATTACKS_MAX: u32 = 3;
/// The shortest run a swarm accepts: a little chaos plus the quiet phase.
pub const DURATION_MIN: Duration = Duration::from_secs(13);

/// What one seed switched on: the fault families and their rates, the workload, the network.
/// Every field is derived from the seed alone; `Display` prints it for `--print-options`.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmOptions {
    pub seed: u64,
    pub duration: Duration,
    /// Faults happen before this; after it, a quiet phase lets liveness be judged.
    pub chaos_end: Duration,
    pub latency: LatencyRange,
    pub partitions: u32,
    pub oneway_partitions: bool,
    /// Holds of one server's links, each probed by a WHATSAT that overtakes its IAMAT.
    pub reorder_probes: u32,
    pub latency_spikes: u32,
    pub crashes: u32,
    pub skews: u32,
    pub places_faults: u32,
    pub bad_inputs: u32,
    /// Bursts of pipelined IAMATs (the `load` step).
    pub loads: u32,
    /// Hostile clients: forged lines, far-future timestamps, huge ids, held connections.
    pub hostiles: u32,
    /// Links of the herd made classic (one connection per record, nothing resumed), each
    /// one the persistent links can spare and still connect every server.
    pub classic_links: u32,
    /// Power losses and disk faults; when on, the herd keeps its tables on disk (`data_dir`)
    /// and every crash is a power loss.
    pub power_faults: u32,
    /// Attacks on the herd's network: an impostor at a down server's address, handshake
    /// stallers, forged classic lines, tampering on a live link.
    pub attacks: u32,
    pub clients: u32,
    pub iamats: u32,
    pub whatsats: u32,
    /// The simulated wall clock's first reading: any date the scenario format allows, often
    /// just before a midnight, sometimes just before a date software famously gets wrong.
    pub start: Duration,
    /// Value classes a random workload never draws ([`values`]), each on in few seeds.
    pub values: ValueClasses,
    /// The server's fault points, on in a quarter of seeds until the chaos ends.
    pub buggify: Option<BuggifySettings>,
}

/// Dates that calendars and clocks get wrong, as seconds since the Unix epoch: leap days, the
/// last day of a 400-year era (2000-02-29), a century that is not leap (2100), the end of
/// 32-bit seconds (2038-01-19T03:14:08Z) and of 64-bit nanoseconds (2262-04-11T23:47:16Z).
const CALENDAR_EDGES: [u64; 8] = [
    68_169_600,      // 1972-02-29
    946_598_400,     // 1999-12-31
    951_782_400,     // 2000-02-29
    2_147_483_648,   // 2038-01-19T03:14:08
    4_107_456_000,   // 2100-02-28
    9_223_372_036,   // 2262-04-11T23:47:16
    13_574_563_200,  // 2400-02-29
    221_845_305_600, // 8999-12-31
];

/// The fault points of a quarter of seeds, until the chaos ends: a batch delay with a chance
/// of 5, 10 or 20 %. The points that end links are left to scenarios and the explorer: at a
/// 20 % chance on every link they can leave a dial made during the storm waiting for `LINKED`
/// past `link_stability`'s settle window (swarm seed 96 of the first draw), not yet explained.
fn draw_buggify(rng: &mut SmallRng, chaos_end: Duration) -> Option<BuggifySettings> {
    if !rng.random_bool(0.25) {
        return None;
    }
    let batch_delay = [0.05, 0.1, 0.2][rng.random_range(0..3)];
    Some(BuggifySettings {
        until: chaos_end,
        batch_delay,
        short_write: 0.0,
        batch_reconnect: 0.0,
    })
}

/// A start for a run of `duration`: one of [`CALENDAR_EDGES`] (a quarter of seeds) or a day
/// drawn from the whole range; either way, half the time just before the next midnight, so
/// the run's log times cross a date.
fn draw_start(rng: &mut SmallRng, duration: Duration) -> Duration {
    const DAY: u64 = 86_400;
    let (min, max) = (
        crate::scenario::START_MIN.as_secs(),
        crate::scenario::START_MAX.as_secs() - DAY,
    );
    let mut secs = if rng.random_bool(0.25) {
        CALENDAR_EDGES[rng.random_range(0..CALENDAR_EDGES.len())]
    } else {
        rng.random_range(min..=max)
    };
    if rng.random_bool(0.5) {
        let before_midnight = rng.random_range(1..=duration.as_secs().clamp(1, DAY));
        secs = (secs - secs % DAY + DAY).saturating_sub(before_midnight);
    }
    Duration::from_secs(secs.clamp(min, max))
}

impl SwarmOptions {
    /// Draws the options of `seed`. Each fault family is on with probability 1/2.
    pub fn derive(seed: u64, duration: Duration) -> SwarmOptions {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x5EED_5A4A_u64);
        let mut family = |max: u32| -> u32 {
            if rng.random_bool(0.5) {
                rng.random_range(1..=max)
            } else {
                0
            }
        };
        let partitions = family(3);
        let reorder_probes = family(2);
        let latency_spikes = family(3);
        let crashes = family(2);
        let skews = family(2);
        let places_faults = family(3);
        let bad_inputs = family(4);
        let oneway_partitions = partitions > 0 && rng.random_bool(0.5);
        let min_ms = rng.random_range(1..=5u64);
        let max_ms = rng.random_range(min_ms..=50);
        let chaos_end = duration.saturating_sub(QUIET).max(Duration::from_secs(3));
        let clients = rng.random_range(1..=CLIENTS.len() as u32);
        let iamats = rng.random_range(3..=30);
        let whatsats = rng.random_range(2..=20);
        // Drawn last, so everything drawn before keeps its value for every seed.
        let mut family = |max: u32| -> u32 {
            if rng.random_bool(0.5) {
                rng.random_range(1..=max)
            } else {
                0
            }
        };
        let loads = family(2);
        let hostiles = family(3);
        let classic_links = family(2);
        let start = draw_start(&mut rng, duration);
        // Drawn after the start, so a seed with every class off keeps all it drew before.
        let values = ValueClasses::draw(&mut rng);
        let mut latency = LatencyRange {
            min: Duration::from_millis(min_ms),
            max: Duration::from_millis(max_ms),
        };
        if values.exact_clocks() {
            latency.max = latency.min;
        }
        // A table filled by updates needs to know every client it may hold: no load bursts.
        let loads = if values.table_fill { 0 } else { loads };
        // A herd with classic links takes an AT line from any of its servers on a client
        // connection (docs/protocol.md §10): a link asked for by a non-neighbour needs a
        // herd of persistent links to be refused.
        let classic_links = if values.non_neighbour_links > 0 {
            0
        } else {
            classic_links
        };
        let buggify = draw_buggify(&mut rng, chaos_end);
        // Drawn after everything else, on in a third of the seeds.
        let power_faults = if rng.random_bool(1.0 / 3.0) {
            rng.random_range(1..=POWER_FAULTS_MAX)
        } else {
            0
        };
        // On its own stream, so that no seed's earlier draws move: on in a third of the seeds.
        let mut own = SmallRng::seed_from_u64(seed ^ 0xA77A_0F75_u64);
        let attacks = if own.random_bool(1.0 / 3.0) {
            own.random_range(1..=ATTACKS_MAX)
        } else {
            0
        };
        SwarmOptions {
            buggify,
            attacks,
            values,
            start,
            power_faults,
            loads,
            hostiles,
            classic_links,
            seed,
            duration,
            chaos_end,
            latency,
            partitions,
            oneway_partitions,
            reorder_probes,
            latency_spikes,
            crashes,
            skews,
            places_faults,
            bad_inputs,
            clients,
            iamats,
            whatsats,
        }
    }
}

impl fmt::Display for SwarmOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |n: u32| {
            if n == 0 {
                "off".to_string()
            } else {
                n.to_string()
            }
        };
        write!(
            f,
            "seed {}: duration {} chaos until {} latency {} | partitions {}{} reorder-probes {} latency-spikes {} crashes {} skews {} places-faults {} bad-input {} loads {} hostile {} classic-links {} power-faults {} attacks {} | clients {} iamats {} whatsats {} | start {} | {} | buggify {}",
            self.seed,
            crate::scenario::fmt_duration(self.duration),
            crate::scenario::fmt_duration(self.chaos_end),
            self.latency,
            on(self.partitions),
            if self.oneway_partitions {
                " (some one-way)"
            } else {
                ""
            },
            on(self.reorder_probes),
            on(self.latency_spikes),
            on(self.crashes),
            on(self.skews),
            on(self.places_faults),
            on(self.bad_inputs),
            on(self.loads),
            on(self.hostiles),
            on(self.classic_links),
            on(self.power_faults),
            on(self.attacks),
            self.clients,
            self.iamats,
            self.whatsats,
            crate::scenario::start::format(self.start),
            self.values,
            self.buggify
                .as_ref()
                .map_or_else(|| "off".to_string(), BuggifySettings::flow)
        )
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// A scenario being drawn: the seed's random stream and the steps so far.
struct Draft<'a> {
    options: &'a SwarmOptions,
    herd: &'a Herd,
    rng: SmallRng,
    servers: Vec<String>,
    steps: Vec<(Duration, Action, Option<Expect>)>,
    /// Topology faults start here (after the reorder probes).
    faults_from_ms: u64,
    /// Limits the seed's value classes set.
    limits: LimitOverrides,
}

impl Draft<'_> {
    fn chaos_ms(&self) -> u64 {
        self.options.chaos_end.as_millis() as u64
    }

    /// A random time in `[from, to)` ms, on a 10 ms grid.
    fn at(&mut self, from_ms: u64, to_ms: u64) -> Duration {
        ms(self.rng.random_range(from_ms..to_ms.max(from_ms + 1)) / 10 * 10)
    }

    fn server(&mut self) -> String {
        self.servers[self.rng.random_range(0..self.servers.len())].clone()
    }

    fn push(&mut self, at: Duration, action: Action) {
        self.steps.push((at, action, None));
    }

    /// Reorder probes come first, alone among the topology faults (turmoil cannot combine a
    /// hold with a partition or crash of the same hosts): hold every link of one server, send
    /// it an IAMAT, ask a neighbour 50 ms later, release inside the neighbour's WHATSAT wait.
    fn reorder_probes(&mut self) {
        let mut t = 1000u64;
        for i in 0..self.options.reorder_probes {
            let origin = self.server();
            let neighbours: Vec<String> = self
                .herd
                .neighbours(&origin)
                .into_iter()
                .map(|n| n.name)
                .collect();
            let Some(asked) = neighbours
                .get(self.rng.random_range(0..neighbours.len().max(1)))
                .cloned()
            else {
                continue;
            };
            let probe = format!("probe{i}");
            let groups = LinkGroups {
                between: vec![origin.clone()],
                and: neighbours,
            };
            self.push(ms(t), Action::Hold(groups.clone()));
            let iamat = IamAt {
                client: probe.clone(),
                server: origin.clone(),
                location: "+45.5-73.5".into(),
                timestamp: None,
            };
            self.push(ms(t + 10), Action::IamAt(iamat));
            let expect = Expect {
                origin: Some(origin),
                invalid: Some(false),
                ..Expect::default()
            };
            let whatsat = WhatsAt {
                client: probe,
                server: asked,
                radius_km: "5".into(),
                bound: 3,
            };
            self.steps
                .push((ms(t + 60), Action::WhatsAt(whatsat), Some(expect)));
            self.push(ms(t + 200), Action::Release(groups));
            t += 1000;
        }
        self.faults_from_ms = t;
    }

    fn partitions(&mut self) {
        for _ in 0..self.options.partitions {
            let start = self.at(self.faults_from_ms, self.chaos_ms().saturating_sub(500));
            let end = (start + self.at(300, 4000)).min(self.options.chaos_end);
            let (between, and) = split(&mut self.rng, self.herd, &self.servers);
            let oneway = self.options.oneway_partitions && self.rng.random_bool(0.5);
            let cut = LinkCut {
                between,
                and,
                oneway,
            };
            self.push(start, Action::Partition(cut.clone()));
            self.push(end, Action::Repair(cut));
        }
    }

    /// Crashes of one server never overlap (a restart must follow its own crash).
    fn crashes(&mut self) {
        let mut crashed: Vec<(String, Duration, Duration)> = Vec::new();
        for _ in 0..self.options.crashes {
            let server = self.server();
            let start = self.at(self.faults_from_ms, self.chaos_ms().saturating_sub(1000));
            let end = (start + self.at(200, 4000)).min(self.options.chaos_end);
            let overlaps = |(s, from, to): &(String, Duration, Duration)| {
                *s == server && start < *to + ms(100) && *from < end + ms(100)
            };
            if crashed.iter().any(overlaps) {
                continue;
            }
            self.push(start, Action::Crash(server.clone()));
            self.push(end, Action::Restart(server.clone()));
            crashed.push((server, start, end));
        }
    }

    /// A slow link for a while, then back to the network's latency.
    fn latency_spikes(&mut self) {
        for _ in 0..self.options.latency_spikes {
            let a = self.server();
            let Some(b) = self.herd.neighbours(&a).into_iter().map(|n| n.name).next() else {
                continue;
            };
            let start = self.at(self.faults_from_ms, self.chaos_ms().saturating_sub(500));
            let end = (start + self.at(100, 3000)).min(self.options.chaos_end);
            let spike = LatencyRange {
                min: ms(20),
                max: ms(self.rng.random_range(20..=200)),
            };
            let (between, and) = (vec![a], vec![b]);
            self.push(
                start,
                Action::Latency(LinkLatency {
                    between: between.clone(),
                    and: and.clone(),
                    latency: spike,
                }),
            );
            self.push(
                end,
                Action::Latency(LinkLatency {
                    between,
                    and,
                    latency: self.options.latency,
                }),
            );
        }
    }

    fn skews(&mut self) {
        for _ in 0..self.options.skews {
            let server = self.server();
            let magnitude = ms(self.rng.random_range(1..5000));
            let by = SignedDuration {
                negative: self.rng.random_bool(0.5),
                magnitude,
            };
            let at = self.at(0, self.chaos_ms());
            self.push(at, Action::Skew(Skew { server, by }));
        }
    }

    /// One Places fault for a while, then a healthy stub.
    fn places_faults(&mut self) {
        for _ in 0..self.options.places_faults {
            let start = self.at(0, self.chaos_ms().saturating_sub(500));
            let end = (start + self.at(200, 5000)).min(self.options.chaos_end);
            let none = PlacesFault::default();
            let fault = match self.rng.random_range(0..6) {
                0 => PlacesFault {
                    latency: Some(ms(2000)),
                    ..none
                },
                1 => PlacesFault {
                    latency: Some(ms(8000)),
                    ..none
                },
                2 => PlacesFault {
                    http_status: Some(503),
                    ..none
                },
                3 => PlacesFault {
                    malformed: true,
                    ..none
                },
                4 => PlacesFault {
                    status: Some("OVER_QUERY_LIMIT".into()),
                    ..none
                },
                _ => PlacesFault {
                    unreachable: true,
                    ..none
                },
            };
            self.push(start, Action::Places(fault));
            self.push(
                end,
                Action::Places(PlacesFault {
                    healthy: true,
                    ..PlacesFault::default()
                }),
            );
        }
    }

    /// IAMATs during the chaos phase (so the quiet phase judges a settled table), WHATSATs
    /// until shortly before the end.
    fn workload(&mut self) {
        let clients: Vec<String> = CLIENTS
            .iter()
            .take(self.options.clients as usize)
            .map(|c| c.to_string())
            .collect();
        for _ in 0..self.options.iamats {
            let client = clients[self.rng.random_range(0..clients.len())].clone();
            let server = self.server();
            let location = format!(
                "{:+.6}{:+.6}",
                self.rng.random_range(-89_000_000..89_000_000) as f64 / 1e6,
                self.rng.random_range(-179_000_000..179_000_000) as f64 / 1e6
            );
            let at = self.at(self.faults_from_ms.min(500), self.chaos_ms());
            self.push(
                at,
                Action::IamAt(IamAt {
                    client,
                    server,
                    location,
                    timestamp: None,
                }),
            );
        }
        let last_ms = (self.options.duration.as_millis() as u64).saturating_sub(3000);
        for _ in 0..self.options.whatsats {
            let client = clients[self.rng.random_range(0..clients.len())].clone();
            let server = self.server();
            let radius_km = self.rng.random_range(1..=50).to_string();
            let bound = self.rng.random_range(1..=20);
            let at = self.at(0, last_ms);
            self.push(
                at,
                Action::WhatsAt(WhatsAt {
                    client,
                    server,
                    radius_km,
                    bound,
                }),
            );
        }
    }

    /// Makes some links classic. Only a link the persistent links can spare becomes classic:
    /// they still connect every server, so reconciliation brings every record everywhere
    /// after any fault, and the convergence checker's promise still holds. A classic link is
    /// an extra path that loses what it cannot deliver (as the classic herd does); `None`
    /// when the family is off or no link can be spared.
    fn classic_links(&mut self) -> Option<Herd> {
        let mut herd = self.herd.clone();
        for _ in 0..self.options.classic_links {
            let spare: Vec<usize> = (0..herd.links.len())
                .filter(|&i| !herd.links[i].classic && persistent_connected(&herd, Some(i)))
                .collect();
            if spare.is_empty() {
                break;
            }
            let pick = spare[self.rng.random_range(0..spare.len())];
            herd.links[pick].classic = true;
        }
        (herd != *self.herd).then_some(herd)
    }

    fn finish(mut self, herd_source: HerdSource, classic_herd: Option<Herd>) -> Scenario {
        self.steps.sort_by_key(|(at, _, _)| *at);
        let (options, limits) = (self.options, &self.herd.limits);
        let checks = Checks {
            converged_within: limits.heartbeat_timeout
                + limits.backoff_max
                + options.latency.max * 4
                + ms(1000),
            answered_within: limits.places_timeout + limits.whatsat_wait + ms(1500),
            // Swarm faults may slow a refill past `fill_wait`, when a second one is due.
            refills_max: None,
            skip: Vec::new(),
            real_divergence: Default::default(),
        };
        let steps = self
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, (at, action, expect))| Step {
                id: i as u64,
                at,
                action,
                expect,
                line: 0,
                column: 0,
            })
            .collect();
        let (herd, herd_source) = match classic_herd {
            Some(herd) => (herd, HerdSource::Inline),
            None => (self.herd.clone(), herd_source),
        };
        Scenario {
            name: format!("swarm seed {}", options.seed),
            description: Some(options.to_string()),
            seed: options.seed,
            duration: options.duration,
            tick: ms(1),
            start: options.start,
            herd_source,
            herd,
            network: Network {
                latency: options.latency,
            },
            limits: self.limits,
            places_api: PlacesApi::default(),
            unauthenticated: false,
            canary: None,
            buggify: options.buggify.clone(),
            steps,
            checks,
            origin: PathBuf::from(format!("swarm-seed-{}.yaml", options.seed)),
        }
    }
}

/// Builds the scenario of `options` on `herd`.
pub fn generate(options: &SwarmOptions, herd: &Herd, herd_source: HerdSource) -> Scenario {
    let mut draft = Draft {
        options,
        herd,
        rng: SmallRng::seed_from_u64(options.seed ^ 0x0005_7E95_u64),
        servers: herd.servers.iter().map(|s| s.name.clone()).collect(),
        steps: Vec::new(),
        faults_from_ms: 1000,
        limits: LimitOverrides::default(),
    };
    draft.reorder_probes();
    draft.partitions();
    draft.crashes();
    draft.latency_spikes();
    draft.skews();
    draft.places_faults();
    draft.bad_inputs();
    draft.workload();
    draft.loads();
    draft.hostiles();
    draft.value_classes();
    // Drawn last, so every seed keeps the steps it drew before classic links existed.
    let classic_herd = draft.classic_links();
    if let Some(herd) = &classic_herd {
        draft
            .steps
            .retain(|(_, action, _)| !stranger_at_classic(action, herd));
    }
    let mut herd = classic_herd;
    // Acknowledged means kept only where persistent links connect every server (they resume
    // by cursor; a classic link loses what it cannot deliver): elsewhere the family is off.
    let persistent = persistent_connected(herd.as_ref().unwrap_or(draft.herd), None);
    if options.power_faults > 0 && persistent {
        draft.power_faults();
        let mut on_disk = herd.unwrap_or_else(|| draft.herd.clone());
        on_disk.data_dir = Some(PathBuf::from("data"));
        herd = Some(on_disk);
    }
    // After every other family (an impostor's crash keeps clear of their crashes).
    if options.attacks > 0 {
        let running = herd.clone().unwrap_or_else(|| draft.herd.clone());
        draft.attacks(&running);
    }
    draft.finish(herd_source, herd)
}

/// A handshake under a stranger's name at a server with a classic link: that server takes an
/// AT line of any herd server on a plain connection (a classic peer cannot be told apart), so
/// the record forged after it is one the herd may store, and `integrity` would blame a correct
/// herd. Such a step is dropped once the classic links are drawn.
fn stranger_at_classic(action: &Action, herd: &Herd) -> bool {
    matches!(action, Action::Hostile(h) if h.peer_as.is_some()
        && herd.links.iter().any(|l| l.classic && l.between.contains(&h.server)))
}

mod abuse;
mod attacker;
mod power;
mod topology;
use topology::split;
mod values;

#[cfg(test)]
mod tests;
