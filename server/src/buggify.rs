//! BUGGIFY: named fault points in the server library, each a thing a real network or machine
//! can do to the server at that spot, which a run may turn on to push the code down its rare
//! paths more often than chance would.
//!
//! The seam ([`crate::net::Env`]) hands the server a [`Buggify`]. The binary passes
//! [`Buggify::off`], so no point ever fires in production; the simulation passes one that rolls
//! seeded dice per point, with the chances the scenario names, so a run replays. Every point
//! that fires is said in the trace: a link a point ended says why in its `peer_down` reason,
//! which starts with [`REASON_PREFIX`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A named fault point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Point {
    /// A link waits [`BATCH_DELAY`] before it writes a batch (a scheduler or a busy machine
    /// holding the task back).
    BatchDelay,
    /// A link's write of a batch ends early: only its first lines go, then the connection
    /// fails (a reset in the middle of a write).
    ShortWrite,
    /// A link's connection fails right after a batch and its `MARK` were written (a reset
    /// at a batch boundary); the link redials.
    BatchReconnect,
}

impl Point {
    pub const ALL: [Point; 3] = [Point::BatchDelay, Point::ShortWrite, Point::BatchReconnect];

    pub fn name(self) -> &'static str {
        match self {
            Point::BatchDelay => "batch_delay",
            Point::ShortWrite => "short_write",
            Point::BatchReconnect => "batch_reconnect",
        }
    }

    /// The point called `name`, or an error naming them all.
    pub fn parse(name: &str) -> Result<Point, String> {
        Point::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Point::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown BUGGIFY point `{name}`, expected one of {}",
                    names.join(", ")
                )
            })
    }

    /// Whether the point ends a link (the others only slow it).
    pub fn ends_link(self) -> bool {
        !matches!(self, Point::BatchDelay)
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long [`Point::BatchDelay`] holds a batch back: well under `heartbeat_interval`'s
/// default, so a delayed link lags but is never taken for dead.
pub const BATCH_DELAY: Duration = Duration::from_millis(200);

/// How a link a point ended gives its reason: this, then the point's name.
pub const REASON_PREFIX: &str = "buggify ";

/// Decides, each time the code passes a point, whether it fires.
pub trait Dice: Send + Sync + 'static {
    fn roll(&self, point: Point) -> bool;
}

/// The server's handle on the fault points: off, or a [`Dice`] that decides.
#[derive(Clone, Default)]
pub struct Buggify(Option<Arc<dyn Dice>>);

impl Buggify {
    /// No point ever fires (the binary).
    pub fn off() -> Buggify {
        Buggify(None)
    }

    pub fn with(dice: Arc<dyn Dice>) -> Buggify {
        Buggify(Some(dice))
    }

    /// Whether `point` fires now.
    pub fn fires(&self, point: Point) -> bool {
        self.0.as_ref().is_some_and(|dice| dice.roll(point))
    }

    /// The reason a link ended by `point` gives.
    pub fn reason(point: Point) -> String {
        format!("{REASON_PREFIX}{point}")
    }

    /// [`Point::BatchDelay`]: waits [`BATCH_DELAY`] if it fires.
    pub async fn delay_batch(&self) {
        if self.fires(Point::BatchDelay) {
            tokio::time::sleep(BATCH_DELAY).await;
        }
    }

    /// [`Point::ShortWrite`]: if it fires, cuts `out` (whole lines) to its first half of
    /// lines, at least one, and says it did; the caller writes what is left, then fails.
    pub fn short_write(&self, out: &mut String) -> bool {
        let lines = out.matches('\n').count();
        if lines < 2 || !self.fires(Point::ShortWrite) {
            return false;
        }
        let keep = lines / 2;
        let end = out
            .match_indices('\n')
            .nth(keep - 1)
            .map_or(out.len(), |(i, _)| i + 1);
        out.truncate(end);
        true
    }
}

impl Buggify {
    /// After a batch went: the point that ends the link now, if any: the short write that
    /// cut it (`cut`), or [`Point::BatchReconnect`] if it fires.
    pub fn after_batch(&self, cut: bool) -> Option<Point> {
        if cut {
            Some(Point::ShortWrite)
        } else {
            self.fires(Point::BatchReconnect)
                .then_some(Point::BatchReconnect)
        }
    }
}

impl fmt::Debug for Buggify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Buggify(on)"
        } else {
            "Buggify(off)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Always;
    impl Dice for Always {
        fn roll(&self, _: Point) -> bool {
            true
        }
    }

    #[test]
    fn off_never_fires_and_a_short_write_keeps_whole_lines() {
        let mut out = "AT a\nAT b\nAT c\nMARK 3\n".to_string();
        assert!(!Buggify::off().short_write(&mut out));
        assert!(!Buggify::off().fires(Point::BatchReconnect));
        let on = Buggify::with(Arc::new(Always));
        assert!(on.short_write(&mut out));
        assert_eq!(out, "AT a\nAT b\n");
        let mut one = "MARK 3\n".to_string();
        assert!(!on.short_write(&mut one), "a single line is written whole");
    }

    #[test]
    fn names_round_trip() {
        for point in Point::ALL {
            assert_eq!(Point::parse(point.name()), Ok(point));
        }
        assert!(Point::parse("slow_disk").is_err());
    }
}
