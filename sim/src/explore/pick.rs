//! Where a value edge lands: the IAMATs that already carry a rare value (a timestamp set by an
//! edge, a pole location) are picked first, so that two rare values meet on one record; a
//! restamped IAMAT takes the copies tied to it along; and a table byte bound sized to exactly
//! what the run's IAMATs take.

use rand::Rng;
use rand::rngs::SmallRng;

use crate::scenario::{Action, IamAt, Scenario};

/// How often a rare-value edge picks, among the IAMATs, one that already carries a rare value.
const MARKED_PERCENT: u32 = 70;

/// Whether an IAMAT already carries a rare value: a timestamp set by hand or by an edge (a
/// zero time difference, the ahead bound, a tie), or a location on a pole or the antimeridian.
fn marked(iamat: &IamAt) -> bool {
    iamat.timestamp.is_some() || on_a_pole(&iamat.location)
}

/// Latitude ±90 or longitude ±180, as the server's own parser reads the location.
pub fn on_a_pole(location: &str) -> bool {
    location
        .parse::<server::protocol::Location>()
        .is_ok_and(|l| l.latitude().abs() == 90.0 || l.longitude().abs() == 180.0)
}

/// An IAMAT step's index: one that carries a rare value, [`MARKED_PERCENT`] of the time when
/// there is one; otherwise any.
pub fn pick_iamat(scenario: &Scenario, rng: &mut SmallRng) -> Option<usize> {
    let iamat = |i: &usize| match &scenario.steps[*i].action {
        Action::IamAt(a) => Some(a),
        _ => None,
    };
    let all: Vec<usize> = (0..scenario.steps.len())
        .filter(|i| iamat(i).is_some())
        .collect();
    let marked: Vec<usize> = all
        .iter()
        .copied()
        .filter(|i| iamat(i).is_some_and(marked))
        .collect();
    let from = if !marked.is_empty() && rng.random_range(0..100) < MARKED_PERCENT {
        marked
    } else {
        all
    };
    from.get(rng.random_range(0..from.len().max(1))).copied()
}

/// Sets the timestamp of IAMAT `i` to `stamp`, and of every IAMAT tied to it (same client and
/// same timestamp text), so that a tie made earlier stays a tie.
pub fn restamp(scenario: &mut Scenario, i: usize, stamp: String) {
    let Action::IamAt(a) = &scenario.steps[i].action else {
        return;
    };
    let (client, old) = (a.client.clone(), a.timestamp.clone());
    for (j, step) in scenario.steps.iter_mut().enumerate() {
        if let Action::IamAt(b) = &mut step.action
            && (j == i || (old.is_some() && b.client == client && b.timestamp == old))
        {
            b.timestamp = Some(stamp.clone());
        }
    }
}

/// `table_bytes_max` set to exactly what the run's IAMATs can take (or one record's overhead
/// less): per client whose id fits `client_id_bytes_max`, the record bytes with its longest
/// location and timestamp, the longest origin and the longest time difference, so every
/// client fits and the tables end close to full.
pub fn table_bytes_at_bound(s: &mut Scenario, past: bool) {
    table_bytes_at_bound_by(s, past, std::time::Duration::MAX);
}

/// [`table_bytes_at_bound`] for the clients the run's IAMATs name up to `until` only.
pub fn table_bytes_at_bound_by(s: &mut Scenario, past: bool, until: std::time::Duration) {
    let origin = s.server_names().iter().map(String::len).max().unwrap_or(0);
    let id_max = s.effective_limits().client_id_bytes_max;
    let mut clients: std::collections::BTreeMap<&str, usize> = Default::default();
    for step in s.steps.iter().filter(|st| st.at <= until) {
        if let Action::IamAt(a) = &step.action
            && a.client.len() <= id_max
        {
            let stamp = a.timestamp.as_ref().map_or(20, String::len);
            let size = clients.entry(a.client.as_str()).or_default();
            *size = (*size).max(a.location.len() + stamp);
        }
    }
    let bytes: usize = clients
        .iter()
        .map(|(id, fields)| {
            server::store::ENTRY_OVERHEAD_BYTES
                + id.len()
                + fields
                + origin
                + server::config::TIME_DIFF_BYTES_MAX
        })
        .sum();
    let past = usize::from(past) * server::store::ENTRY_OVERHEAD_BYTES;
    s.limits.table_bytes_max = Some(bytes.saturating_sub(past).max(1));
}
