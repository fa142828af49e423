//! Children that add a rare value to an entry that already has one, so that two rare events
//! meet in one run: an IAMAT that already carries a rare value (a timestamp set by an edge, a
//! location on a pole) is the one the next edge changes, and a tie can be made by a copy sent
//! before the original, so the held record is there when the other arrives.

use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use crate::scenario::{Action, Scenario};

use super::mutate;
use super::pick::{pick_iamat, restamp};

/// How far before (or after) the original a tie's copy is sent at most.
const TIE_SPREAD_MS: u64 = 2000;

/// A tie: an IAMAT (one with a rare value, by preference) copied to another server with the
/// very same timestamp, sent at the same moment, or up to [`TIE_SPREAD_MS`] before it (the
/// held record is there when the original arrives) or after it.
pub fn tie_around(scenario: &mut Scenario, rng: &mut SmallRng) {
    let servers = scenario.server_names();
    let Some(i) = pick_iamat(scenario, rng) else {
        return;
    };
    let start = scenario.start;
    let at = scenario.steps[i].at;
    let Action::IamAt(original) = &scenario.steps[i].action else {
        return;
    };
    let stamp = original
        .timestamp
        .clone()
        .unwrap_or_else(|| mutate::timestamp(start + at));
    let others: Vec<&String> = servers.iter().filter(|s| **s != original.server).collect();
    let Some(other) = others.get(rng.random_range(0..others.len().max(1))) else {
        return;
    };
    let mut copy = scenario.steps[i].clone();
    if let Action::IamAt(a) = &mut copy.action {
        a.server = (*other).clone();
        a.timestamp = Some(stamp.clone());
        a.location = format!("{:+.6}{:+.6}", rng.random_range(-89.0..89.0), 10.0);
    }
    let by = Duration::from_millis(rng.random_range(1..=TIE_SPREAD_MS / 10) * 10);
    copy.at = match rng.random_range(0..10) {
        0..3 => at,
        3..9 => at.saturating_sub(by),
        _ => (at + by).min(mutate::chaos_end(scenario)),
    };
    copy.expect = None;
    restamp(scenario, i, stamp);
    scenario.steps.insert(i + 1, copy);
}

/// The child of an entry that reached a rare value: one more edge value, often a second, and
/// sometimes a tie, each on an IAMAT that already carries one when there is one.
pub fn stack(scenario: &mut Scenario, rng: &mut SmallRng) {
    mutate::bound(scenario, rng);
    if rng.random_bool(0.5) {
        mutate::bound(scenario, rng);
    }
    if rng.random_bool(0.3) {
        tie_around(scenario, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::pick::{on_a_pole, table_bytes_at_bound};
    use crate::scenario::IamAt;
    use rand::SeedableRng;

    const PARENT: &str = r#"
name: a parent
seed: 1
duration: 20s
steps:
  - at: 4s
    iamat: { client: kiwi, server: Bailey, location: "+34.1-118.4" }
  - at: 5s
    iamat: { client: lime, server: Bona, location: "+1+1", timestamp: "1700000005.010" }
"#;

    fn parent() -> Scenario {
        Scenario::from_yaml_str(PARENT, "parent.yaml").unwrap()
    }

    #[test]
    fn a_tie_can_send_its_copy_before_the_original_with_one_timestamp() {
        let mut before = 0;
        for seed in 0..40 {
            let mut child = parent();
            tie_around(&mut child, &mut SmallRng::seed_from_u64(seed));
            mutate::sanitize(&mut child);
            Scenario::from_yaml_str(&child.to_yaml(&[]), "child.yaml").unwrap();
            let iamats: Vec<(Duration, &IamAt)> = child
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    Action::IamAt(a) => Some((s.at, a)),
                    _ => None,
                })
                .collect();
            assert_eq!(iamats.len(), 3);
            let tied: Vec<&(Duration, &IamAt)> = iamats
                .iter()
                .filter(|(_, a)| {
                    iamats
                        .iter()
                        .any(|(_, b)| b.client == a.client && b.server != a.server)
                })
                .collect();
            assert_eq!(tied.len(), 2, "seed {seed}");
            assert_eq!(tied[0].1.timestamp, tied[1].1.timestamp);
            assert!(tied[0].1.timestamp.is_some());
            if tied[0].0 < tied[1].0 {
                before += 1;
            }
        }
        assert!(
            before > 10,
            "copies sent before the original: {before} of 40"
        );
    }

    #[test]
    fn a_table_at_its_byte_bound_holds_every_client_of_the_run_and_no_more() {
        let mut child = parent();
        table_bytes_at_bound(&mut child, false);
        let (overhead, diff) = (
            server::store::ENTRY_OVERHEAD_BYTES,
            server::config::TIME_DIFF_BYTES_MAX,
        );
        // kiwi: 4 + "+34.1-118.4" + 20; lime: 4 + "+1+1" + "1700000005.010"; origins of 8 (Campbell).
        let want = 2 * (overhead + diff + 8) + (4 + 11 + 20) + (4 + 4 + 14);
        assert_eq!(child.limits.table_bytes_max, Some(want));
        table_bytes_at_bound(&mut child, true);
        assert_eq!(child.limits.table_bytes_max, Some(want - overhead));
    }

    #[test]
    fn a_marked_iamat_is_picked_most_of_the_time_and_ties_stay_tied() {
        let picks = (0..100)
            .filter(|&seed| pick_iamat(&parent(), &mut SmallRng::seed_from_u64(seed)) == Some(1))
            .count();
        assert!((70..=95).contains(&picks), "{picks}");
        let mut child = parent();
        let mut copy = child.steps[1].clone();
        copy.at = Duration::from_secs(3);
        child.steps.push(copy);
        restamp(&mut child, 1, "1700000005.020".into());
        let stamps: Vec<Option<String>> = child
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::IamAt(a) if a.client == "lime" => Some(a.timestamp.clone()),
                _ => None,
            })
            .collect();
        let want = Some("1700000005.020".to_string());
        assert_eq!(stamps, [want.clone(), want]);
        assert!(on_a_pole("+90+0") && on_a_pole("-10-180.000") && !on_a_pole("+89+179"));
    }
}
