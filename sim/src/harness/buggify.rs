//! The simulation's BUGGIFY dice: each server gets its own random stream, seeded from the
//! run's seed and its name, so the same seed fires the same points at the same moments; no
//! point fires from the scenario's `buggify.until` on.

use std::sync::{Arc, Mutex};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use server::backoff::stable_hash;
use server::buggify::{Buggify, Dice, Point};

use crate::scenario::buggify::BuggifySettings;

struct SeededDice {
    settings: BuggifySettings,
    rng: Mutex<SmallRng>,
}

impl Dice for SeededDice {
    fn roll(&self, point: Point) -> bool {
        let chance = self.settings.chance(point);
        if chance <= 0.0 || turmoil::elapsed() >= self.settings.until {
            return false;
        }
        self.rng
            .lock()
            .map(|mut rng| rng.random_bool(chance.min(1.0)))
            .unwrap_or(false)
    }
}

/// The fault points of server `name` in a run seeded `seed`: off without settings.
pub fn dice(settings: Option<&BuggifySettings>, seed: u64, name: &str) -> Buggify {
    match settings {
        None => Buggify::off(),
        Some(settings) => Buggify::with(Arc::new(SeededDice {
            settings: settings.clone(),
            rng: Mutex::new(SmallRng::seed_from_u64(
                seed ^ stable_hash(&["buggify", name]),
            )),
        })),
    }
}
