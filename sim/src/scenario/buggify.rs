//! A scenario's `buggify:`: which of the server's named fault points (`server::buggify`) fire,
//! with what chance each time the code passes one, and until when. The dice are the
//! simulation's, seeded from the run's seed and the server, so a run replays.

use std::time::Duration;

use serde::Deserialize;
use server::buggify::Point;

/// The chances of the fault points, each in `0..=1`, and when they stop firing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuggifySettings {
    /// No point fires from this simulated time on, so the quiet phase after it judges a
    /// settled herd.
    #[serde(deserialize_with = "super::de::duration")]
    pub until: Duration,
    #[serde(default)]
    pub batch_delay: f64,
    #[serde(default)]
    pub short_write: f64,
    #[serde(default)]
    pub batch_reconnect: f64,
}

impl BuggifySettings {
    pub fn chance(&self, point: Point) -> f64 {
        match point {
            Point::BatchDelay => self.batch_delay,
            Point::ShortWrite => self.short_write,
            Point::BatchReconnect => self.batch_reconnect,
        }
    }

    /// Whether a point that ends links may fire: then the run is faulted until `until`.
    pub fn ends_links(&self) -> bool {
        Point::ALL
            .into_iter()
            .any(|p| p.ends_link() && self.chance(p) > 0.0)
    }

    /// Every chance is a probability, and `until` lies within the run.
    pub fn check(&self, duration: Duration) -> Result<(), String> {
        for point in Point::ALL {
            let chance = self.chance(point);
            if !(0.0..=1.0).contains(&chance) {
                return Err(format!(
                    "buggify.{point} is {chance}: a chance is between 0 and 1"
                ));
            }
        }
        if self.until > duration {
            return Err("buggify.until must be within the run's duration".into());
        }
        Ok(())
    }

    /// The YAML flow map `--emit` writes.
    pub fn flow(&self) -> String {
        let mut fields = vec![format!("until: {}", super::fmt_duration(self.until))];
        for point in Point::ALL {
            let chance = self.chance(point);
            if chance > 0.0 {
                fields.push(format!("{point}: {chance}"));
            }
        }
        format!("{{ {} }}", fields.join(", "))
    }
}
