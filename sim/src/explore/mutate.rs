//! Children made from the corpus: a branch (the parent's steps up to the moment it reached
//! something new, the rest drawn anew by the swarm's generator), a splice of two entries,
//! steps moved in time, targets changed, and values set exactly at (or just past) a bound of
//! `Limits`. Every child is made sound again by [`sanitize`], then written as YAML and read
//! back, so the scenario's own validation has the last word.

use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use crate::scenario::{
    Action, DiskFaultKind, Hostile, IamAt, LinkLatency, PlacesFault, Raw, RawPayload, Scenario,
    SignedDuration, Skew, Step, WhatsAt,
};
use crate::sometimes::Property;
use crate::swarm::{QUIET, SwarmOptions, generate, timestamp_text};

use super::compound::step;

/// How a child was made, for the sidecar and the progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    Branch,
    Splice,
    Shift,
    Retarget,
    Bound,
    Tie,
    /// A rare value added to an entry that has one ([`super::rare::stack`]).
    Stack,
    /// Every step of an entry that reached a rare property, and more ([`graft`]).
    Grow,
}

impl Mutation {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutation::Branch => "branch",
            Mutation::Splice => "splice",
            Mutation::Shift => "shift",
            Mutation::Retarget => "retarget",
            Mutation::Bound => "bound",
            Mutation::Tie => "tie",
            Mutation::Stack => "stack",
            Mutation::Grow => "grow",
        }
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Faults and IAMATs happen before this; the rest of the run is quiet, so liveness is judged.
pub fn chaos_end(scenario: &Scenario) -> Duration {
    scenario
        .duration
        .saturating_sub(QUIET)
        .max(Duration::from_secs(3))
}

/// The scenario a fresh swarm seed draws, on `parent`'s herd and run length.
pub fn fresh(seed: u64, herd_of: &Scenario) -> Scenario {
    let mut options = SwarmOptions::derive(seed, herd_of.duration);
    // The parent's date: a forged line is stamped against its run's start (a century ahead),
    // which under another start could be a plausible record.
    options.start = herd_of.start;
    let mut scenario = generate(&options, &herd_of.herd, herd_of.herd_source.clone());
    scenario.herd = herd_of.herd.clone();
    scenario.canary = herd_of.canary;
    scenario
}

/// `parent`'s steps before `at`, its healing steps of faults begun before `at`, and `donor`'s
/// steps from `at` on. The parent's seed is kept, so the run up to `at` replays exactly.
pub fn branch(parent: &Scenario, donor: &Scenario, at: Duration) -> Scenario {
    let mut child = parent.clone();
    let mut steps: Vec<Step> = parent
        .steps
        .iter()
        .filter(|s| s.at < at || is_heal(&s.action))
        .cloned()
        .collect();
    steps.extend(donated(parent, donor, at));
    child.steps = steps;
    child
}

/// Every step of `parent`, and `donor`'s steps from `at` on besides: a child that keeps all
/// its parent did (a rare property it reached, whose moment the trace does not give) and
/// adds more.
pub fn graft(parent: &Scenario, donor: &Scenario, at: Duration) -> Scenario {
    let mut child = parent.clone();
    child.steps.extend(donated(parent, donor, at));
    child.steps.sort_by_key(|s| s.at);
    child
}

/// `donor`'s steps from `at` on, as a child of `parent` may take them. A donor of another
/// date gives no step whose text is stamped against its own start, and a donor under other
/// limits no expectation.
fn donated(parent: &Scenario, donor: &Scenario, at: Duration) -> Vec<Step> {
    let dated = |s: &&Step| match &s.action {
        Action::IamAt(a) => a.timestamp.is_some(),
        Action::Hostile(h) => !h.lines.is_empty(),
        _ => false,
    };
    let same_date = donor.start == parent.start;
    // A donor's expectations tell its own story, under its own limits: under the parent's
    // (an edge set a table bound, say) a probe's record may be refused.
    let same_limits = donor.limits == parent.limits;
    donor
        .steps
        .iter()
        .filter(|s| s.at >= at)
        .filter(|s| same_date || !dated(s))
        .cloned()
        .map(|mut s| {
            if !same_limits {
                s.expect = None;
            }
            s
        })
        .collect()
}

fn is_heal(action: &Action) -> bool {
    matches!(
        action,
        Action::Repair(_) | Action::Release(_) | Action::Restart(_)
    )
}

/// Moves one to three steps by up to 3 s either way, on the 10 ms grid, inside their phase.
pub fn shift(scenario: &mut Scenario, rng: &mut SmallRng) {
    let end = chaos_end(scenario);
    let last_ms = scenario.duration.saturating_sub(ms(3000)).as_millis() as i64;
    for _ in 0..rng.random_range(1..=3) {
        if scenario.steps.is_empty() {
            return;
        }
        let i = rng.random_range(0..scenario.steps.len());
        let step = &mut scenario.steps[i];
        let by = rng.random_range(-300..=300i64) * 10;
        let limit = if matches!(step.action, Action::WhatsAt(_)) {
            last_ms
        } else {
            end.as_millis() as i64 - 10
        };
        let to = (step.at.as_millis() as i64 + by).clamp(0, limit.max(0));
        step.at = ms(to as u64);
        step.expect = None;
    }
}

/// Sends one to three steps to another server (or, for a client step, as another client).
pub fn retarget(scenario: &mut Scenario, rng: &mut SmallRng) {
    let servers = scenario.server_names();
    let clients = scenario.client_names();
    for _ in 0..rng.random_range(1..=3) {
        if scenario.steps.is_empty() || servers.is_empty() {
            return;
        }
        let i = rng.random_range(0..scenario.steps.len());
        let server = servers[rng.random_range(0..servers.len())].clone();
        let client = clients
            .get(rng.random_range(0..clients.len().max(1)))
            .cloned();
        let step = &mut scenario.steps[i];
        let change_client = rng.random_bool(0.3);
        match &mut step.action {
            Action::IamAt(a) if change_client && client.is_some() => {
                a.client = client.unwrap_or_default()
            }
            Action::WhatsAt(a) if change_client && client.is_some() => {
                a.client = client.unwrap_or_default()
            }
            Action::IamAt(a) => a.server = server,
            Action::WhatsAt(a) => a.server = server,
            Action::Raw(a) => a.server = server,
            Action::Load(a) => a.server = server,
            Action::Hostile(a) => a.server = server,
            Action::Skew(a) => a.server = server,
            _ => continue,
        }
        step.expect = None;
    }
}

/// Copies an IAMAT to another server at the very same moment: the client's clock gives both
/// one timestamp, so the herd must break the tie by origin.
pub fn tie(scenario: &mut Scenario, rng: &mut SmallRng) {
    let servers = scenario.server_names();
    let iamats: Vec<usize> = (0..scenario.steps.len())
        .filter(|&i| matches!(scenario.steps[i].action, Action::IamAt(_)))
        .collect();
    let Some(&i) = iamats.get(rng.random_range(0..iamats.len().max(1))) else {
        return;
    };
    let mut copy = scenario.steps[i].clone();
    if let Action::IamAt(a) = &mut copy.action {
        let others: Vec<&String> = servers.iter().filter(|s| **s != a.server).collect();
        let Some(other) = others.get(rng.random_range(0..others.len().max(1))) else {
            return;
        };
        a.server = (*other).clone();
        a.location = format!("{:+.6}{:+.6}", rng.random_range(-89.0..89.0), 10.0);
    }
    copy.expect = None;
    scenario.steps.insert(i + 1, copy);
}

/// One of the value classes at an edge: exactly at a bound of the run's `Limits` (or one
/// past it), a time difference of exactly zero, a location on a pole or the antimeridian, a
/// neighbour skewed past the ahead bound, a replayed handshake line, a link from a server that
/// is not a neighbour. Each adds a step or sets a limit; see [`EDGES`].
pub fn bound(scenario: &mut Scenario, rng: &mut SmallRng) {
    let Some((server, at)) = edge_site(scenario, rng) else {
        return;
    };
    let past = rng.random_bool(0.3);
    let edge = EDGES[rng.random_range(0..EDGES.len())];
    edge_at(scenario, rng, edge, Edge { server, at, past });
}

/// A server of the herd and a moment before the chaos ends, on a 10 ms grid.
fn edge_site(scenario: &Scenario, rng: &mut SmallRng) -> Option<(String, Duration)> {
    let servers = scenario.server_names();
    if servers.is_empty() {
        return None;
    }
    let server = servers[rng.random_range(0..servers.len())].clone();
    let end_ms = chaos_end(scenario).as_millis() as u64;
    Some((server, ms(rng.random_range(0..end_ms.max(1)) / 10 * 10)))
}

fn edge_at(scenario: &mut Scenario, rng: &mut SmallRng, edge: EdgeFn, e: Edge) {
    let at = e.at;
    if let Some(action) = edge(scenario, rng, e) {
        scenario.steps.push(step(at, action));
    }
}

/// Where an edge step goes: its server and time, and whether one past the bound.
struct Edge {
    server: String,
    at: Duration,
    past: bool,
}

type EdgeFn = fn(&mut Scenario, &mut SmallRng, Edge) -> Option<Action>;

/// The edge that sets up each sometimes property an aimed child adds ([`super::aim`]): the
/// property's own value at its bound, never one past it.
const TOWARD: [(Property, EdgeFn); 16] = [
    (Property::OnewayStaleRead, oneway_read),
    (Property::TieBrokenByOrigin, tied),
    (Property::HerdPowerCut, disk_fault_of::<0>),
    (Property::TornWriteCut, disk_fault_of::<1>),
    (Property::FlippedBitCaught, disk_fault_of::<2>),
    (Property::FailedSyncStopped, disk_fault_of::<3>),
    (Property::FullDiskStopped, disk_fault_of::<4>),
    (Property::IdAtBound, id_at_bound),
    (Property::TimestampAtAheadBound, ahead_at_bound),
    (Property::CoordinatesAtBound, pole),
    (Property::WhatsatAtMax, whatsat_at_max),
    (Property::LineAtLimit, line_at_bound),
    (Property::ZeroTimeDiff, zero_diff),
    (Property::SkewedNeighbourRefused, skewed_neighbour),
    (Property::HandshakeLineReplayed, replayed_handshake),
    (Property::RestartRefilled, restart_refill),
];

/// The sometimes properties an edge sets up, by their coverage names.
pub fn aimable() -> impl Iterator<Item = &'static str> {
    TOWARD.iter().map(|(property, _)| property.as_str())
}

/// How many sites (a server and a moment) an aimed edge tries before it gives up: in a run
/// that already holds several outages, a fault that takes the whole herd down fits only in
/// the few moments when every server is up.
const TOWARD_SITES: usize = 8;

/// Adds the edge that sets up `property` (by its coverage name) at a server and moment drawn
/// as [`bound`] draws them, drawing another site where the edge does not fit the one drawn, up
/// to [`TOWARD_SITES`]; whether it changed the scenario (false where no edge sets the property
/// up, or where the edge fits no site of this run, as a disk fault under a classic link).
pub fn bound_toward(scenario: &mut Scenario, rng: &mut SmallRng, property: &str) -> bool {
    let Some((_, edge)) = TOWARD.iter().find(|(p, _)| p.as_str() == property) else {
        return false;
    };
    let before = scenario.to_yaml(&[]);
    for _ in 0..TOWARD_SITES {
        let Some((server, at)) = edge_site(scenario, rng) else {
            return false;
        };
        let past = false;
        edge_at(scenario, rng, *edge, Edge { server, at, past });
        if scenario.to_yaml(&[]) != before {
            return true;
        }
    }
    false
}

/// The edge classes [`bound`] draws from, equally.
const EDGES: [EdgeFn; 20] = [
    id_at_bound,
    whatsat_at_max,
    ahead_at_bound,
    line_at_bound,
    skew_at_bound,
    table_clients_at_bound,
    connections_at_bound,
    zero_diff,
    pole,
    tight_table,
    table_bytes_at_bound,
    skewed_neighbour,
    replayed_handshake,
    overfull_by_updates,
    forged_from_stranger,
    oneway_read,
    places_rate_at_bound,
    herd_at_bound,
    disk_fault,
    restart_refill,
];

/// An IAMAT's timestamp text for simulated wall time `at`.
pub fn timestamp(at: Duration) -> String {
    format!("{}.{:09}", at.as_secs(), at.subsec_nanos())
}

/// An IAMAT whose id is exactly `client_id_bytes_max` bytes (or one more).
fn id_at_bound(s: &mut Scenario, _: &mut SmallRng, e: Edge) -> Option<Action> {
    Some(Action::Hostile(Hostile {
        huge_id_bytes: Some(s.effective_limits().client_id_bytes_max + usize::from(e.past)),
        ..Hostile::lines(e.server, &[])
    }))
}

/// A WHATSAT at the protocol's bounds, radius 50 km and 20 results (or, as a raw line, 21),
/// for the client of an IAMAT sent before it.
fn whatsat_at_max(s: &mut Scenario, _: &mut SmallRng, e: Edge) -> Option<Action> {
    let client = s
        .steps
        .iter()
        .filter(|st| st.at < e.at)
        .find_map(|st| match &st.action {
            Action::IamAt(a) => Some(a.client.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "kiwi".into());
    if e.past {
        return Some(Action::Raw(Raw {
            server: e.server,
            client: "edge".into(),
            payload: RawPayload::Line(format!("WHATSAT {client} 50 21")),
        }));
    }
    Some(Action::WhatsAt(WhatsAt {
        client,
        server: e.server,
        radius_km: "50".into(),
        bound: 20,
    }))
}

/// An IAMAT stamped exactly `timestamp_ahead_max` ahead of its server's clock when it arrives
/// (or a second more): the network's latency made fixed, so it arrives at the least latency.
fn ahead_at_bound(s: &mut Scenario, _: &mut SmallRng, e: Edge) -> Option<Action> {
    s.network.latency.max = s.network.latency.min;
    let ahead = s.effective_limits().timestamp_ahead_max + ms(u64::from(e.past) * 1000);
    // Where the line arrives at the network's least latency (a connect, then the line), as the
    // swarm stamps it, on the server's clock as skewed then.
    let arrival = e.at + s.network.latency.min * 2;
    let skew: i128 = s
        .steps
        .iter()
        .filter(|st| st.at <= arrival)
        .filter_map(|st| match &st.action {
            Action::Skew(skew) if skew.server == e.server => Some((st.at, skew.by.nanos())),
            _ => None,
        })
        .max_by_key(|(at, _)| *at)
        .map_or(0, |(_, nanos)| nanos);
    let nanos = (s.start + arrival + ahead).as_nanos() as i128 + skew;
    Some(iamat(e.server, "edge", timestamp_text(nanos)))
}

fn iamat(server: String, client: &str, stamp: String) -> Action {
    Action::IamAt(IamAt {
        client: client.into(),
        server,
        location: "+10.000000+20.000000".into(),
        timestamp: Some(stamp),
    })
}

/// A line of exactly `line_bytes_max` bytes, its newline aside (or one more); half the time
/// the last line of its input, without a newline, which the server reads at the end of input.
fn line_at_bound(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    Some(Action::Raw(Raw {
        server: e.server,
        client: "edge".into(),
        payload: RawPayload::Repeat {
            byte: b'x',
            count: s.effective_limits().line_bytes_max + usize::from(e.past),
            newline: rng.random_bool(0.5),
        },
    }))
}

/// A clock skewed by exactly `timestamp_ahead_max` (or a second more), either way.
fn skew_at_bound(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    Some(Action::Skew(Skew {
        server: e.server,
        by: SignedDuration {
            negative: rng.random_bool(0.5),
            magnitude: s.effective_limits().timestamp_ahead_max + ms(u64::from(e.past) * 1000),
        },
    }))
}

/// `clients_max` set to exactly the clients the workload names (or one fewer).
fn table_clients_at_bound(s: &mut Scenario, _: &mut SmallRng, e: Edge) -> Option<Action> {
    let clients = s.client_names().len().max(1);
    s.limits.clients_max = Some(clients.saturating_sub(usize::from(e.past)).max(1));
    clear_expectations(s);
    None
}

/// `connections_max` set to exactly the connections a hostile client holds (or one fewer).
fn connections_at_bound(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    let held = rng.random_range(2..=8usize);
    s.limits.connections_max = Some(held + 1 - usize::from(e.past));
    clear_expectations(s);
    Some(Action::Hostile(Hostile {
        hold_connections: held,
        hold_for: Some(Duration::from_secs(2)),
        ..Hostile::lines(e.server, &[])
    }))
}

/// An IAMAT whose time difference is exactly zero: the network's latency made fixed, and the
/// timestamp the receiving server's clock will read (a send takes two latencies).
fn zero_diff(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    let latency = s.network.latency.min;
    s.network.latency.max = latency;
    let receipt = s.start + e.at + latency * 2;
    if let Some(i) = super::pick::pick_iamat(s, rng) {
        let stamp = timestamp(s.start + s.steps[i].at + latency * 2);
        super::pick::restamp(s, i, stamp);
        return None;
    }
    Some(iamat(e.server, "kiwi", timestamp(receipt)))
}

/// An IAMAT's location on a pole or the antimeridian, the edges of ISO 6709's ranges.
fn pole(s: &mut Scenario, rng: &mut SmallRng, _: Edge) -> Option<Action> {
    const EDGES: [&str; 4] = ["+90+0", "-90+45", "+10+180", "-10-180"];
    let i = super::pick::pick_iamat(s, rng)?;
    if let Action::IamAt(a) = &mut s.steps[i].action {
        a.location = EDGES[rng.random_range(0..EDGES.len())].into();
    }
    None
}

/// A table that fills through updates: `table_bytes_max` a few records' worth, and
/// `client_id_bytes_max` exactly the length of one client's id.
fn tight_table(s: &mut Scenario, rng: &mut SmallRng, _: Edge) -> Option<Action> {
    s.limits.table_bytes_max = Some(rng.random_range(100..=600));
    let clients = s.client_names();
    if let Some(client) = clients.get(rng.random_range(0..clients.len().max(1))) {
        s.limits.client_id_bytes_max = Some(client.len());
    }
    clear_expectations(s);
    None
}

/// A neighbour skewed past the ahead bound: `timestamp_ahead_max` made small, one server's
/// clock set further behind than it (from a moment up to 3 s before the step, so it already
/// holds what came before), and a record stamped to land within a second of the bound at that
/// server (half the time within about 100 ms of it).
fn skewed_neighbour(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    let ahead = Duration::from_secs(rng.random_range(1..=3));
    s.limits.timestamp_ahead_max = Some(ahead);
    let skewed = step(
        e.at.saturating_sub(ms(rng.random_range(0..=300) * 10)),
        Action::Skew(Skew {
            server: e.server.clone(),
            by: SignedDuration {
                negative: true,
                magnitude: ahead + ms(1000),
            },
        }),
    );
    s.steps.push(skewed);
    let others: Vec<String> = s
        .server_names()
        .into_iter()
        .filter(|n| *n != e.server)
        .collect();
    let other = others
        .get(rng.random_range(0..others.len().max(1)))?
        .clone();
    let behind = match rng.random_bool(0.5) {
        true => ms(rng.random_range(100..=110) * 10),
        false => ms(rng.random_range(100..200) * 10),
    };
    Some(iamat(
        other,
        "lime",
        timestamp((s.start + e.at).saturating_sub(behind)),
    ))
}

/// A link's handshake line replayed on a client connection, or a handshake (with the borrowed
/// name's herd certificate) under the name of a server of the herd that is not a neighbour.
fn replayed_handshake(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    let neighbours: Vec<String> = s
        .herd
        .neighbours(&e.server)
        .into_iter()
        .map(|n| n.name)
        .collect();
    let strangers: Vec<String> = s
        .server_names()
        .into_iter()
        .filter(|n| *n != e.server && !neighbours.contains(n))
        .collect();
    // A server with a classic link takes an AT line of any herd server on a plain connection
    // (a classic peer cannot be told apart), so a stranger's handshake proves nothing there.
    let classic = s
        .herd
        .links
        .iter()
        .any(|l| l.classic && l.between.contains(&e.server));
    if rng.random_bool(0.5) || strangers.is_empty() || classic {
        return Some(Action::Raw(Raw {
            server: e.server,
            client: "mallory".into(),
            payload: RawPayload::Line("AUTH 0 1".into()),
        }));
    }
    Some(Action::Hostile(Hostile {
        peer_as: Some(strangers[rng.random_range(0..strangers.len())].clone()),
        ..Hostile::lines(e.server, &[])
    }))
}

/// A table grown past its byte bound by updates, then a client at the id bound moves.
fn overfull_by_updates(s: &mut Scenario, rng: &mut SmallRng, _: Edge) -> Option<Action> {
    super::compound::overfull_by_updates(s, rng, chaos_end(s));
    clear_expectations(s);
    None
}

/// A forged record in the name of a server of the herd that is not a neighbour.
fn forged_from_stranger(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    super::compound::forged_from_stranger(s, rng, &e.server, e.at, chaos_end(s));
    None
}

/// A read across a one-way cut.
fn oneway_read(s: &mut Scenario, rng: &mut SmallRng, _: Edge) -> Option<Action> {
    super::compound::oneway_read(s, rng, chaos_end(s));
    None
}

/// A burst of Places calls at the call rate bound (or one past it).
fn places_rate_at_bound(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    super::compound::places_rate_at_bound(s, rng, &e.server, e.at, e.past, chaos_end(s));
    clear_expectations(s);
    None
}

/// A restarted server's refill in a calm herd, held to one refill.
fn restart_refill(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    super::compound::restart_refill(s, rng, e.at, chaos_end(s));
    clear_expectations(s);
    None
}

/// `table_bytes_max` set to exactly what the run's IAMATs take (or a record's overhead less).
/// A disk fault at the edge's moment; see [`super::disk`].
fn disk_fault(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    let end = chaos_end(s);
    super::disk::disk_fault(s, rng, e.server, e.at, end);
    None
}

/// A disk fault of the `K`th of [`super::disk::FAULTS`] at the edge's moment.
fn disk_fault_of<const K: usize>(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    let end = chaos_end(s);
    super::disk::disk_fault_of(s, rng, super::disk::FAULTS[K], e.server, e.at, end);
    None
}

/// An IAMAT of the run copied to another server at the same moment ([`tie`]).
fn tied(s: &mut Scenario, rng: &mut SmallRng, _: Edge) -> Option<Action> {
    tie(s, rng);
    None
}

/// A herd limit at a bound the herd-file rules document; see [`super::herd_bounds`].
fn herd_at_bound(s: &mut Scenario, rng: &mut SmallRng, e: Edge) -> Option<Action> {
    super::herd_bounds::herd_at_bound(s, rng, e.server, e.past)
}

fn table_bytes_at_bound(s: &mut Scenario, _: &mut SmallRng, e: Edge) -> Option<Action> {
    super::pick::table_bytes_at_bound(s, e.past);
    clear_expectations(s);
    None
}

/// A limit changed under the whole run: the generator's expectations no longer hold.
fn clear_expectations(s: &mut Scenario) {
    for step in &mut s.steps {
        step.expect = None;
    }
}

/// Makes a child sound: steps in time order; a crash of a crashed server, a heal of nothing
/// and a hold that would meet a cut or crash (turmoil cannot combine them) are dropped; a
/// fault still open at the end of the chaos phase (a cut, a hold, a crash, a Places fault, a
/// slowed link) is healed there, as the swarm's are, so the quiet phase is quiet; an expectation is kept only
/// on a reorder probe whose four steps are all still in place, with no other update of its
/// client before it; ids are numbered again.
pub fn sanitize(scenario: &mut Scenario) {
    let end = chaos_end(scenario);
    scenario.steps.sort_by_key(|s| s.at);
    let mut kept: Vec<Step> = Vec::new();
    let mut crashed: Vec<String> = Vec::new();
    let mut cuts = Vec::new();
    let mut holds = Vec::new();
    let mut places_faulty = false;
    let mut slowed: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    // Servers a failed sync or a full disk stopped, until their restart.
    let mut stopped: Vec<String> = Vec::new();
    for step in std::mem::take(&mut scenario.steps) {
        // No fault begins after the chaos phase: its heal, put at the phase's end, would come
        // before it.
        let late = step.at > end;
        let keep = match &step.action {
            Action::Crash(_) | Action::Partition(_) | Action::Hold(_) if late => false,
            Action::Crash(s) => {
                let ok = !crashed.contains(s) && holds.is_empty();
                if ok {
                    crashed.push(s.clone());
                }
                ok
            }
            Action::Restart(s) => {
                stopped.retain(|x| x != s);
                take(&mut crashed, s)
            }
            // A disk that fails while its server is not running stays failed until the
            // restart, which then cannot open its store: a server that cannot start, not a
            // fault the run means. The first failure stops the server; no second is armed.
            // Before the servers have started, such a disk is one a server cannot open its
            // store on: it says so and does not start (a shift may move a fault there).
            Action::Disk(d) if matches!(d.fault, DiskFaultKind::FailSync | DiskFaultKind::Full) => {
                let ok = step.at >= super::disk::UP_BY
                    && !crashed.contains(&d.server)
                    && !stopped.contains(&d.server);
                if ok {
                    stopped.push(d.server.clone());
                }
                ok
            }
            Action::Partition(cut) => {
                let ok = holds.is_empty();
                if ok {
                    cuts.push(cut.clone());
                }
                ok
            }
            Action::Repair(cut) => take(&mut cuts, cut),
            Action::Hold(groups) => {
                let ok = cuts.is_empty() && crashed.is_empty() && holds.is_empty();
                if ok {
                    holds.push(groups.clone());
                }
                ok
            }
            Action::Release(groups) => take(&mut holds, groups),
            // An attack a splice or a union brought from another herd, where the swarm would
            // not draw it: a tamper of a classic link (no TLS: a forged record there is the
            // classic dialect's known limit) or an impostor of a server with a classic
            // neighbour (a classic link's trust rests on the network).
            Action::Tamper(t) => !scenario
                .herd
                .neighbours(&t.from)
                .iter()
                .any(|n| n.name == t.to && n.classic),
            Action::Impostor(i) => !scenario
                .herd
                .neighbours(&i.server)
                .iter()
                .any(|n| n.classic),
            Action::Places(fault) if late && !fault.healthy => false,
            Action::Places(fault) => {
                places_faulty = !fault.healthy;
                true
            }
            Action::Latency(change) if late && change.latency != scenario.network.latency => false,
            Action::Latency(change) => {
                let key = (change.between.clone(), change.and.clone());
                slowed.retain(|k| *k != key);
                if change.latency != scenario.network.latency {
                    slowed.push(key);
                }
                true
            }
            _ => true,
        };
        if keep {
            kept.push(step);
        }
    }
    let heal = |action| step(end, action);
    kept.extend(crashed.into_iter().map(|s| heal(Action::Restart(s))));
    kept.extend(cuts.into_iter().map(|c| heal(Action::Repair(c))));
    kept.extend(holds.into_iter().map(|g| heal(Action::Release(g))));
    if places_faulty {
        kept.push(heal(Action::Places(PlacesFault {
            healthy: true,
            ..PlacesFault::default()
        })));
    }
    let latency = scenario.network.latency;
    kept.extend(slowed.into_iter().map(|(between, and)| {
        heal(Action::Latency(LinkLatency {
            between,
            and,
            latency,
        }))
    }));
    kept.sort_by_key(|s| s.at);
    let probes: Vec<bool> = (0..kept.len()).map(|i| probe_intact(&kept, i)).collect();
    for (i, (step, intact)) in kept.iter_mut().zip(probes).enumerate() {
        step.id = i as u64;
        if !intact {
            step.expect = None;
        }
    }
    scenario.steps = kept;
}

fn take<T: PartialEq>(open: &mut Vec<T>, item: &T) -> bool {
    match open.iter().position(|o| o == item) {
        Some(i) => {
            open.remove(i);
            true
        }
        None => false,
    }
}

/// Whether step `i`'s expectation still holds its story: a reorder probe's WHATSAT (the
/// generator's only expectation) with its hold 60 ms before, its IAMAT 50 ms before to the
/// expected origin, and its release 140 ms after, all in place, no other IAMAT of its
/// client before it, and no clock skewed before the release (a server whose clock runs behind
/// may have to refuse the probe's record: the generator never skews so far, an edge child may).
fn probe_intact(steps: &[Step], i: usize) -> bool {
    let step = &steps[i];
    let (Action::WhatsAt(w), Some(expect)) = (&step.action, &step.expect) else {
        return true;
    };
    let has = |at: Duration, f: &dyn Fn(&Action) -> bool| {
        steps.iter().any(|s| s.at == at && f(&s.action))
    };
    let origin = expect.origin.as_deref();
    let Some(hold_at) = step.at.checked_sub(ms(60)) else {
        return false;
    };
    let held = |a: &Action| matches!(a, Action::Hold(g) if g.between.first().map(String::as_str) == origin);
    let iamat = |a: &Action| matches!(a, Action::IamAt(x) if x.client == w.client && Some(x.server.as_str()) == origin);
    let released = |a: &Action| matches!(a, Action::Release(g) if g.between.first().map(String::as_str) == origin);
    // Another IAMAT of the probe's client before the WHATSAT (a tie copy, a retargeted step)
    // may be what the reply shows: the expected origin is then no longer owed.
    let updates = steps
        .iter()
        .filter(|s| {
            s.at <= step.at && matches!(&s.action, Action::IamAt(x) if x.client == w.client)
        })
        .count();
    // Up to the release: the WHATSAT waits for the held record until then.
    let skewed = steps
        .iter()
        .any(|s| s.at <= step.at + ms(140) && matches!(s.action, Action::Skew(_)));
    updates == 1
        && !skewed
        && has(hold_at, &held)
        && has(hold_at + ms(10), &iamat)
        && has(step.at + ms(140), &released)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const PARENT: &str = r#"
name: a parent
seed: 1
duration: 20s
steps:
  - { at: 1s, partition: { between: [Clark], and: [Bona, Jaquez] } }
  - { at: 2s, crash: Campbell }
  - { at: 3s, places: { unreachable: true } }
  - at: 4s
    iamat: { client: kiwi, server: Bailey, location: "+34.1-118.4" }
  - { at: 6s, repair: { between: [Clark], and: [Bona, Jaquez] } }
  - { at: 7s, restart: Campbell }
  - { at: 8s, places: { healthy: true } }
"#;

    fn parent() -> Scenario {
        Scenario::from_yaml_str(PARENT, "parent.yaml").unwrap()
    }

    fn kinds(scenario: &Scenario) -> Vec<(u64, &'static str)> {
        let steps = scenario.steps.iter();
        steps
            .map(|s| (s.at.as_millis() as u64, s.action.kind()))
            .collect()
    }

    #[test]
    fn a_branch_under_other_limits_drops_the_donated_expectations() {
        let donor_text = r#"
name: a donor
seed: 2
duration: 20s
steps:
  - at: 5s
    whatsat: { client: kiwi, server: Bona, radius_km: "5", bound: 3 }
    expect: { origin: Clark }
"#;
        let donor = Scenario::from_yaml_str(donor_text, "donor.yaml").unwrap();
        let child = branch(&parent(), &donor, Duration::from_millis(4500));
        assert!(
            child.steps.iter().any(|s| s.expect.is_some()),
            "same limits"
        );
        let mut tight = parent();
        tight.limits.table_bytes_max = Some(300);
        let child = branch(&tight, &donor, Duration::from_millis(4500));
        assert!(
            child.steps.iter().all(|s| s.expect.is_none()),
            "the donor's story assumed its own limits"
        );
    }

    #[test]
    fn a_branch_keeps_the_prefix_and_the_heals_of_faults_begun_in_it() {
        let mut donor = parent();
        donor.steps.clear();
        let mut child = branch(&parent(), &donor, Duration::from_millis(3500));
        sanitize(&mut child);
        assert_eq!(
            kinds(&child),
            [
                (1000, "partition"),
                (2000, "crash"),
                (3000, "places"),
                (6000, "repair"),
                (7000, "restart"),
                // The Places fault's heal was after the branch point: healed at chaos end.
                (10000, "places"),
            ]
        );
    }

    #[test]
    fn sanitize_drops_heals_of_nothing_and_heals_what_is_left_open() {
        let mut child = parent();
        child
            .steps
            .retain(|s| !matches!(s.action, Action::Restart(_)));
        child
            .steps
            .retain(|s| !matches!(s.action, Action::Partition(_)));
        sanitize(&mut child);
        assert_eq!(
            kinds(&child),
            [
                (2000, "crash"),
                (3000, "places"),
                (4000, "iamat"),
                (8000, "places"),
                (10000, "restart"),
            ]
        );
        let ids: Vec<u64> = child.steps.iter().map(|s| s.id).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn no_attack_the_swarm_keeps_off_classic_links_comes_in_from_another_herd() {
        // Found by an aimed search: a union took a donor's tamper of a persistent link into a
        // herd where that link is classic, and the altered record was stored by the whole
        // herd (a classic link has no TLS: the classic dialect's known limit, not a defect).
        let text = r#"
name: a classic herd
seed: 1
duration: 20s
herd:
  servers:
    - { name: Bailey, host: "127.0.0.1", port: 10000 }
    - { name: Bona, host: "127.0.0.1", port: 10001 }
    - { name: Campbell, host: "127.0.0.1", port: 10002 }
  links:
    - { between: [Bailey, Campbell], classic: true }
    - { between: [Bailey, Bona] }
    - { between: [Bona, Campbell] }
steps:
  - { at: 1s, tamper: { from: Campbell, to: Bailey, alter: 4 } }
  - { at: 2s, tamper: { from: Bona, to: Bailey, alter: 4 } }
  - { at: 3s, crash: Bailey }
  - { at: 3.1s, impostor: { server: Bailey } }
  - { at: 5s, restart: Bailey }
  - { at: 6s, crash: Bona }
  - { at: 6.1s, impostor: { server: Bona } }
  - { at: 8s, restart: Bona }
"#;
        let mut child = Scenario::from_yaml_str(text, "classic.yaml").unwrap();
        sanitize(&mut child);
        assert_eq!(
            kinds(&child),
            [
                (2000, "tamper"),
                (3000, "crash"),
                (5000, "restart"),
                (6000, "crash"),
                (6100, "impostor"),
                (8000, "restart"),
            ],
            "the tamper of the classic link and the impostor of Bailey, which has a classic \
             neighbour, are dropped"
        );
    }

    #[test]
    fn no_failed_sync_or_full_disk_comes_before_the_servers_have_started() {
        // Found by an aimed search: a step moved a failed sync to 0 s, before Bailey opened
        // its store, and Bailey could not start (as it must not, with a disk that cannot sync).
        let text = r#"
name: a herd on disk
seed: 1
duration: 20s
herd:
  servers:
    - { name: Bailey, host: "127.0.0.1", port: 10000 }
    - { name: Bona, host: "127.0.0.1", port: 10001 }
  links:
    - { between: [Bailey, Bona] }
  data_dir: data
steps:
  - { at: 0s, disk: { server: Bailey, fault: fail_sync } }
  - { at: 0.5s, disk: { server: Bona, fault: full } }
  - { at: 1s, disk: { server: Bona, fault: fail_sync } }
"#;
        let mut child = Scenario::from_yaml_str(text, "disk.yaml").unwrap();
        sanitize(&mut child);
        assert_eq!(kinds(&child), [(1000, "disk")]);
    }

    #[test]
    fn no_fault_opens_after_the_chaos_phase_where_its_heal_would_come_before_it() {
        // Found by an aimed search: a one-way cut at 11.9 s in a run whose chaos ends at 10 s
        // was healed at 10 s, before it began, so it stood to the end.
        let mut child = parent();
        let cut = child
            .steps
            .iter()
            .find(|s| matches!(s.action, Action::Partition(_)))
            .unwrap()
            .clone();
        child.steps.push(Step {
            at: ms(11_900),
            ..cut
        });
        child
            .steps
            .push(step(ms(11_950), Action::Crash("Bona".into())));
        sanitize(&mut child);
        let end = chaos_end(&child);
        let late: Vec<(u64, &str)> = kinds(&child)
            .into_iter()
            .filter(|(at, kind)| *at > end.as_millis() as u64 && *kind != "restart")
            .collect();
        assert_eq!(late, []);
    }

    #[test]
    fn a_failing_disk_is_not_armed_on_a_server_that_is_not_running() {
        // Found by an aimed search: a second failed sync armed on Bailey while the first had
        // stopped it; the sync at its restart failed, and it could not open its store.
        let text = r#"
name: two failed syncs
seed: 1
duration: 20s
herd:
  servers:
    - { name: Bailey, port: 10000 }
    - { name: Bona, port: 10001 }
    - { name: Clark, port: 10003 }
  links:
    - { between: [Bailey, Bona] }
    - { between: [Bona, Clark] }
  data_dir: data
steps:
  - { at: 1s, disk: { server: Bailey, fault: fail_sync } }
  - { at: 1s, iamat: { client: disk, server: Bailey, location: "+12.5-45.25" } }
  - { at: 1.4s, disk: { server: Bailey, fault: fail_sync } }
  - { at: 1.4s, iamat: { client: disk2, server: Bailey, location: "+12.5-45.25" } }
  - { at: 1.5s, crash: Bailey }
  - { at: 2s, restart: Bailey }
  - { at: 2.5s, crash: Clark }
  - { at: 3s, disk: { server: Clark, fault: full } }
  - { at: 3.5s, restart: Clark }
  - { at: 4s, disk: { server: Clark, fault: fail_sync } }
  - { at: 4s, iamat: { client: disk3, server: Clark, location: "+12.5-45.25" } }
"#;
        let mut child = Scenario::from_yaml_str(text, "disks.yaml").unwrap();
        sanitize(&mut child);
        let disks: Vec<(u64, &str)> = kinds(&child)
            .into_iter()
            .filter(|(_, kind)| *kind == "disk")
            .collect();
        assert_eq!(disks, [(1000, "disk"), (4000, "disk")]);
        let result = crate::explore::search::run(&child);
        assert_eq!(result.label, None);
    }

    #[test]
    fn an_iamat_stamped_at_the_ahead_bound_is_stored_exactly_there() {
        let mut reached = 0;
        // The fourth start is past what a u64 of nanoseconds holds (the year 2554); the swarm
        // draws such starts. The last latency varies: the edge makes it fixed.
        let cases = [
            ("5ms..5ms", "2000-02-29T23:59:55Z"),
            ("2ms..2ms", "2026-06-01T00:00:00Z"),
            ("8ms..8ms", "2026-06-01T00:00:00Z"),
            ("4ms..4ms", "8210-01-19T12:01:27Z"),
            ("1ms..30ms", "2026-06-01T00:00:00Z"),
        ];
        for (i, (latency, start)) in cases.iter().enumerate() {
            let text = PARENT.replace(
                "duration: 20s",
                &format!("duration: 20s\nstart: {start}\nnetwork: {{ latency: {latency} }}"),
            );
            let mut child = Scenario::from_yaml_str(&text, "parent.yaml").unwrap();
            if i == 2 {
                child.steps.push(step(
                    ms(2000),
                    Action::Skew(crate::scenario::Skew {
                        server: "Bailey".into(),
                        by: crate::scenario::SignedDuration {
                            negative: true,
                            magnitude: ms(700),
                        },
                    }),
                ));
            }
            let edge = Edge {
                server: "Bailey".into(),
                at: ms(5000),
                past: false,
            };
            let action = ahead_at_bound(&mut child, &mut SmallRng::seed_from_u64(0), edge).unwrap();
            child.steps.push(step(ms(5000), action));
            sanitize(&mut child);
            let result = crate::explore::search::run(&child);
            assert_eq!(result.label, None, "{latency} from {start}");
            reached += usize::from(
                result
                    .features
                    .contains_key("sometimes:timestamp_at_ahead_bound"),
            );
        }
        assert_eq!(reached, cases.len());
    }

    #[test]
    fn a_bound_child_sits_exactly_at_a_limit_and_stays_valid() {
        let mut hits = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let mut child = parent();
            bound(&mut child, &mut SmallRng::seed_from_u64(seed));
            sanitize(&mut child);
            // The limits the child runs under (a herd edge may set them).
            let limits = child.effective_limits();
            let text = child.to_yaml(&[]);
            Scenario::from_yaml_str(&text, "child.yaml").unwrap();
            for step in &child.steps {
                match &step.action {
                    Action::Hostile(h) if h.huge_id_bytes.is_some() => {
                        let bytes = h.huge_id_bytes.unwrap_or(0);
                        let max = limits.client_id_bytes_max;
                        assert!(bytes == max || bytes == max + 1, "{bytes}");
                        hits.insert("id");
                    }
                    Action::Raw(Raw {
                        payload: RawPayload::Repeat { count, .. },
                        ..
                    }) => {
                        // The line's bytes, its newline aside: at the limit, or one past it.
                        let max = limits.line_bytes_max;
                        assert!(*count == max || *count == max + 1, "{count}");
                        hits.insert("line");
                    }
                    Action::Skew(_) => {
                        hits.insert("skew");
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(hits.len(), 3, "{hits:?}");
    }

    #[test]
    fn a_probe_whose_iamat_is_copied_owes_no_origin() {
        let probe = r#"
name: a reorder probe
seed: 1
duration: 20s
steps:
  - { at: 1s, hold: { between: [Campbell], and: [Bailey, Bona, Jaquez] } }
  - { at: 1010ms, iamat: { client: probe0, server: Campbell, location: "+45.5-73.5" } }
  - at: 1060ms
    whatsat: { client: probe0, server: Bona, radius_km: "5", bound: 3 }
    expect: { origin: Campbell, invalid: false }
  - { at: 1200ms, release: { between: [Campbell], and: [Bailey, Bona, Jaquez] } }
"#;
        let expects = |s: &Scenario| s.steps.iter().filter(|s| s.expect.is_some()).count();
        let mut intact = Scenario::from_yaml_str(probe, "probe.yaml").unwrap();
        sanitize(&mut intact);
        assert_eq!(expects(&intact), 1, "the probe's story is whole");
        let mut tied = Scenario::from_yaml_str(probe, "probe.yaml").unwrap();
        tie(&mut tied, &mut SmallRng::seed_from_u64(3));
        sanitize(&mut tied);
        assert_eq!(
            expects(&tied),
            0,
            "a copy of the probe's IAMAT elsewhere may be what the WHATSAT shows"
        );
    }

    #[test]
    fn a_probe_after_a_skew_owes_no_origin() {
        // Found by the explorer: Bona 3 s behind with timestamps at most 2 s ahead must refuse
        // the probe's record, so its WHATSAT there rightly finds nothing.
        let probe = r#"
name: a reorder probe after a skew
seed: 1
duration: 20s
limits: { timestamp_ahead_max: 2s }
steps:
  - { at: 590ms, skew: { server: Bona, by: -3s } }
  - { at: 1s, hold: { between: [Campbell], and: [Bailey, Bona, Jaquez] } }
  - { at: 1010ms, iamat: { client: probe0, server: Campbell, location: "+45.5-73.5" } }
  - at: 1060ms
    whatsat: { client: probe0, server: Bona, radius_km: "5", bound: 3 }
    expect: { origin: Campbell, invalid: false }
  - { at: 1200ms, release: { between: [Campbell], and: [Bailey, Bona, Jaquez] } }
"#;
        let mut skewed = Scenario::from_yaml_str(probe, "probe.yaml").unwrap();
        sanitize(&mut skewed);
        assert!(skewed.steps.iter().all(|s| s.expect.is_none()));
        // Found by an aimed search: the skew between the WHATSAT and the release, while the
        // WHATSAT waits for the held record, is as good as one before it.
        let skew = "  - { at: 590ms, skew: { server: Bona, by: -3s } }\n";
        let release = "  - { at: 1200ms, release";
        let during = probe.replace(skew, "").replace(
            release,
            &format!("{}{release}", skew.replace("590ms", "1110ms")),
        );
        let mut skewed = Scenario::from_yaml_str(&during, "probe.yaml").unwrap();
        sanitize(&mut skewed);
        assert!(skewed.steps.iter().all(|s| s.expect.is_none()));
    }

    #[test]
    fn a_tie_copies_an_iamat_to_another_server_at_the_same_moment() {
        let mut child = parent();
        tie(&mut child, &mut SmallRng::seed_from_u64(3));
        let iamats: Vec<(u64, &str)> = child
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::IamAt(a) => Some((s.at.as_millis() as u64, a.server.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(iamats.len(), 2);
        assert_eq!(iamats[0].0, iamats[1].0);
        assert_ne!(iamats[0].1, iamats[1].1);
    }
}
