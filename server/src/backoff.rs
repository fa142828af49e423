//! Reconnect delays: exponential between two bounds, with seeded jitter.
//!
//! Jitter keeps a herd that lost a neighbour from redialling it in lockstep; the seed keeps a
//! simulated run repeatable.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
    rng: SmallRng,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The next delay: `min * 2^failures` capped at `max`, then a random point in its upper half.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.failures.min(16);
        let ceiling = self.min.saturating_mul(factor).min(self.max);
        self.failures = self.failures.saturating_add(1);
        let ceiling_us = ceiling.as_micros() as u64;
        let jittered = self.rng.random_range(ceiling_us / 2..=ceiling_us);
        Duration::from_micros(jittered)
    }

    /// A connection succeeded: start again from `min`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A stable 64-bit hash (FNV-1a) to derive per-link seeds; std's hasher is not promised stable.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_within_bounds_and_reset() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        let mut backoff = Backoff::new(min, max, 7);
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay()).collect();
        for (i, d) in delays.iter().enumerate() {
            let ceiling = min.saturating_mul(1 << i).min(max);
            assert!(*d >= ceiling / 2 && *d <= ceiling, "delay {i} = {d:?}");
        }
        backoff.reset();
        assert!(backoff.next_delay() <= min);
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let make = || Backoff::new(Duration::from_millis(10), Duration::from_secs(1), 42);
        let (mut a, mut b) = (make(), make());
        for _ in 0..20 {
            assert_eq!(a.next_delay(), b.next_delay());
        }
    }

    #[test]
    fn stable_hash_separates_parts() {
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
        assert_eq!(
            stable_hash(&["Clark", "Bona"]),
            stable_hash(&["Clark", "Bona"])
        );
    }
}
