//! A disk fault put where the explorer chooses, as the swarm's power-faults family draws them:
//! the whole herd losing power at once, a server losing power within 40 ms of a burst of load
//! (writes torn in flight), a bit flipped at rest, a failed sync or a full disk under an
//! IAMAT. The herd keeps its tables on disk from then on. The swarm draws these on their own
//! stream, at most a few a run, so its rarest properties are here; a child aims one at a moment.

use std::path::PathBuf;
use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use crate::scenario::Scenario;
use crate::swarm::{
    FAILED_DISK_DOWN, PowerFault, down_near, persistent_connected, power_fault_steps,
};

use super::compound::step;

/// The faults the edge draws from: the family's rare ones (one server losing power alone is
/// common in the swarm already).
pub const FAULTS: [PowerFault; 5] = [
    PowerFault::LoseAll,
    PowerFault::Torn,
    PowerFault::FlipBit,
    PowerFault::FailSync,
    PowerFault::Full,
];

/// No fault before this: every server has opened its store and started (a disk full from
/// the start is a server that cannot start, which it says and stops).
pub const UP_BY: Duration = Duration::from_secs(1);

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// One disk fault at `server` from `at` (no earlier than [`UP_BY`], and early enough that the
/// server is back up by `end`).
/// Skipped where a persistent link does not connect every server (a classic link loses what
/// it cannot deliver, so no record is owed as acknowledged) or where a server it takes down
/// is down, crashed or restarted within 200 ms of the fault. Expectations are dropped: a
/// server that loses power may take a reorder probe's answer with it.
pub fn disk_fault(
    s: &mut Scenario,
    rng: &mut SmallRng,
    server: String,
    at: Duration,
    end: Duration,
) {
    if !persistent_connected(&s.herd, None) {
        return;
    }
    let fault = FAULTS[rng.random_range(0..FAULTS.len())];
    disk_fault_of(s, rng, fault, server, at, end);
}

/// One disk fault of the kind `fault`, placed and skipped as [`disk_fault`] says.
pub fn disk_fault_of(
    s: &mut Scenario,
    rng: &mut SmallRng,
    fault: PowerFault,
    server: String,
    at: Duration,
    end: Duration,
) {
    if !persistent_connected(&s.herd, None) {
        return;
    }
    let down = ms(rng.random_range(300..=2000));
    let start = at
        .max(UP_BY)
        .min(end.saturating_sub(FAILED_DISK_DOWN + down + ms(200)));
    let servers = match fault {
        PowerFault::LoseAll => s.server_names(),
        _ => vec![server],
    };
    let until = start + FAILED_DISK_DOWN + down;
    let steps = || s.steps.iter().map(|st| (st.at, &st.action));
    if servers
        .iter()
        .any(|name| down_near(steps(), name, start, until))
    {
        return;
    }
    s.herd.data_dir.get_or_insert_with(|| PathBuf::from("data"));
    let steps = power_fault_steps(
        fault,
        rng,
        &servers,
        start,
        down,
        "torn-".into(),
        "disk".into(),
    );
    s.steps
        .extend(steps.into_iter().map(|(at, action)| step(at, action)));
    for st in &mut s.steps {
        st.expect = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::mutate::{chaos_end, sanitize};
    use crate::explore::search::run;
    use rand::SeedableRng;

    const PARENT: &str = "name: a parent\nseed: 3\nduration: 20s\nsteps:\n  - at: 1s\n    \
        iamat: { client: kiwi, server: Bailey, location: \"+34.1-118.4\" }\n  - at: 2s\n    \
        iamat: { client: lime, server: Bona, location: \"+1+1\" }\n";

    #[test]
    fn no_fault_comes_before_every_server_has_started() {
        for seed in 0..20 {
            let mut s = Scenario::from_yaml_str(PARENT, "parent.yaml").unwrap();
            let end = chaos_end(&s);
            let mut rng = SmallRng::seed_from_u64(seed);
            disk_fault(&mut s, &mut rng, "Clark".into(), Duration::ZERO, end);
            let first = s.steps.iter().skip(2).map(|st| st.at).min();
            assert!(
                first.is_some_and(|at| at >= UP_BY),
                "seed {seed}: {first:?}"
            );
        }
    }

    #[test]
    fn every_kind_of_disk_fault_reaches_its_property_and_a_correct_herd_passes() {
        let mut reached = std::collections::BTreeSet::new();
        for seed in 0..10 {
            let mut s = Scenario::from_yaml_str(PARENT, "parent.yaml").unwrap();
            let mut rng = SmallRng::seed_from_u64(seed);
            let end = chaos_end(&s);
            disk_fault(
                &mut s,
                &mut rng,
                "Clark".into(),
                Duration::from_secs(3),
                end,
            );
            sanitize(&mut s);
            let child = Scenario::from_yaml_str(&s.to_yaml(&[]), "child.yaml").unwrap();
            let result = run(&child);
            assert_eq!(result.label, None, "seed {seed}");
            reached.extend(result.features.keys().filter_map(|f| {
                let name = f.strip_prefix("sometimes:")?;
                [
                    "herd_power_cut",
                    "torn_write_cut",
                    "flipped_bit_caught",
                    "failed_sync_stopped",
                    "full_disk_stopped",
                ]
                .contains(&name)
                .then(|| name.to_string())
            }));
        }
        assert!(reached.len() >= 4, "{reached:?}");
    }
}
