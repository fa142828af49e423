//! Herds at the bounds the herd-file rules document (`docs/running.md`), counted by the
//! harness rather than read from `server::config`: a client id bound exactly 199 bytes under
//! `line_bytes_max`, the least `line_bytes_max` and `log_file_bytes_max`, and durations to the
//! microsecond. A child set so runs under that herd, and is first judged as a herd file
//! ([`crate::herd_corpus::judge_made`]): a server that refuses it, or reads a limit back
//! otherwise, fails there.

use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;
use server::config::Limits;

use crate::herd_corpus::{
    AT_LINE_BESIDES_ID_BYTES, LINE_BYTES_LEAST, LOG_FILE_BYTES_LEAST, bounds_at, short_by_micros,
};
use crate::scenario::{Action, Hostile, Scenario};

/// Sets one limit at a documented bound; for the client id bound, also returns an IAMAT at
/// `server` whose id is exactly that long (one byte longer when `past`: refused as too long).
pub fn herd_at_bound(
    s: &mut Scenario,
    rng: &mut SmallRng,
    server: String,
    past: bool,
) -> Option<Action> {
    let id_at = |s: &mut Scenario, line: usize| {
        let id = line - AT_LINE_BESIDES_ID_BYTES;
        s.limits.line_bytes_max = Some(line);
        s.limits.client_id_bytes_max = Some(id);
        Some(Action::Hostile(Hostile {
            huge_id_bytes: Some(id + usize::from(past)),
            ..Hostile::lines(server.clone(), &[])
        }))
    };
    match rng.random_range(0..4) {
        0 => {
            let line = s.effective_limits().line_bytes_max;
            id_at(s, line)
        }
        1 => id_at(s, LINE_BYTES_LEAST),
        2 => {
            s.herd.limits.log_file_bytes_max = LOG_FILE_BYTES_LEAST;
            None
        }
        _ => {
            short_of_a_round_value(s, rng);
            None
        }
    }
}

/// A duration limit made 1 to 999 µs shorter than it was: `0.999xxx s` where it was `1s`,
/// `99.xxx ms` where it was `100ms`. Only limits whose shorter value keeps the herd valid
/// (`backoff_min <= backoff_max`, `heartbeat_interval < heartbeat_timeout`).
fn short_of_a_round_value(s: &mut Scenario, rng: &mut SmallRng) {
    let micros = rng.random_range(1..=999);
    let now = s.effective_limits();
    let l = &mut s.limits;
    match rng.random_range(0..5) {
        0 => l.backoff_min = Some(short_by_micros(now.backoff_min, micros)),
        1 => l.whatsat_wait = Some(short_by_micros(now.whatsat_wait, micros)),
        2 => l.heartbeat_interval = Some(short_by_micros(now.heartbeat_interval, micros)),
        3 => l.places_timeout = Some(short_by_micros(now.places_timeout, micros)),
        _ => {
            let timeout = &mut s.herd.limits.peer_handshake_timeout;
            *timeout = short_by_micros(*timeout, micros);
        }
    }
}

/// Which documented bounds `limits` sits at, as feature names (and `microseconds` for a
/// duration limit that is not a whole number of milliseconds), so the corpus keeps a run under
/// such a herd and its children are judged under it again.
pub fn features(limits: &Limits) -> Vec<&'static str> {
    let durations = [
        limits.backoff_min,
        limits.whatsat_wait,
        limits.heartbeat_interval,
        limits.places_timeout,
        limits.peer_handshake_timeout,
    ];
    let odd = |d: &Duration| !d.subsec_nanos().is_multiple_of(1_000_000);
    let mut names: Vec<&'static str> = bounds_at(limits).iter().map(|b| b.name).collect();
    if durations.iter().any(odd) {
        names.push("microseconds");
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::search::run;
    use crate::herd_corpus::judge_made;
    use rand::SeedableRng;
    use server::config::Herd;

    const PARENT: &str = "name: a parent\nseed: 3\nduration: 12s\nsteps:\n  - at: 1s\n    \
        iamat: { client: kiwi, server: Bailey, location: \"+34.1-118.4\" }\n";

    #[test]
    fn every_herd_at_a_documented_bound_is_taken_as_made_and_runs_clean() {
        let mut reached = std::collections::BTreeSet::new();
        for seed in 0..24 {
            let mut s = Scenario::from_yaml_str(PARENT, "parent.yaml").unwrap();
            let mut rng = SmallRng::seed_from_u64(seed);
            if let Some(action) = herd_at_bound(&mut s, &mut rng, "Clark".into(), seed % 2 == 1) {
                s.steps.push(crate::explore::compound::step(
                    Duration::from_secs(2),
                    action,
                ));
            }
            let herd = Herd {
                limits: s.effective_limits(),
                ..s.herd.clone()
            };
            assert_eq!(judge_made(&herd), None, "seed {seed}");
            let names = features(&herd.limits);
            assert!(!names.is_empty(), "seed {seed}: no bound reached");
            reached.extend(names);
            let text = s.to_yaml(&[]);
            let child = Scenario::from_yaml_str(&text, "child.yaml").unwrap();
            assert_eq!(child.effective_limits(), herd.limits, "seed {seed}");
            let result = run(&child);
            assert_eq!(result.label, None, "seed {seed}");
        }
        assert_eq!(reached.len(), 4, "{reached:?}");
    }

    #[test]
    fn the_harness_count_of_an_at_line_is_the_documented_199() {
        assert_eq!(crate::herd_corpus::AT_LINE_BESIDES_ID_BYTES, 199);
        let mut limits = Limits::default();
        assert!(features(&limits).is_empty());
        limits.client_id_bytes_max = limits.line_bytes_max - 199;
        assert_eq!(features(&limits), ["id_at_line_bound"]);
    }
}
