//! The time axis: a piecewise scale from simulated time to pixels. Every distinct event time
//! is a row; the space between two rows grows with the logarithm of the time between them,
//! so a burst of millisecond-apart events stays legible while a quiet second costs a few
//! rows, not a page. The axis labels real simulated times, and marks compressed gaps.

use std::time::Duration;

/// Space between two rows however close in time: arrows between them still slope.
const ROW_PX_MIN: f64 = 10.0;
/// Extra space per e-fold of the gap in milliseconds: 1 ms -> +5, 20 ms -> +21, 1 s -> +48.
const ROW_PX_PER_LOG_MS: f64 = 7.0;
/// The plot never gets taller than this; rows shrink evenly to fit.
pub const PLOT_PX_MAX: f64 = 3600.0;
/// Gaps at least this long are drawn as a break in the axis: time is compressed there.
pub const BREAK_GAP_MIN: Duration = Duration::from_millis(100);
/// Axis labels closer than this are skipped (lower-priority ones first).
const LABEL_PX_MIN: f64 = 13.0;

/// Rows: (simulated time, y), strictly increasing in both.
#[derive(Debug, Clone)]
pub struct TimeScale {
    rows: Vec<(Duration, f64)>,
}

impl TimeScale {
    /// A scale with a row for every time in `times` within `[from, to]` and for both ends,
    /// starting at pixel `top`.
    pub fn new(
        times: impl IntoIterator<Item = Duration>,
        from: Duration,
        to: Duration,
        top: f64,
    ) -> TimeScale {
        let mut times: Vec<Duration> = times
            .into_iter()
            .filter(|t| (from..=to).contains(t))
            .chain([from, to])
            .collect();
        times.sort();
        times.dedup();
        let gaps: Vec<f64> = times.windows(2).map(|w| gap_px(w[1] - w[0])).collect();
        let total: f64 = gaps.iter().sum();
        let shrink = if total > PLOT_PX_MAX {
            PLOT_PX_MAX / total
        } else {
            1.0
        };
        let mut y = top;
        let mut rows = Vec::with_capacity(times.len());
        for (t, gap) in times.iter().zip(std::iter::once(0.0).chain(gaps)) {
            y += gap * shrink;
            rows.push((*t, y));
        }
        TimeScale { rows }
    }

    pub fn top(&self) -> f64 {
        self.rows.first().map_or(0.0, |r| r.1)
    }

    pub fn bottom(&self) -> f64 {
        self.rows.last().map_or(0.0, |r| r.1)
    }

    pub fn from(&self) -> Duration {
        self.rows.first().map_or(Duration::ZERO, |r| r.0)
    }

    pub fn to(&self) -> Duration {
        self.rows.last().map_or(Duration::ZERO, |r| r.0)
    }

    pub fn contains(&self, t: Duration) -> bool {
        (self.from()..=self.to()).contains(&t)
    }

    /// The y of `t`: a row's, or linear between the two rows around it; clamped to the ends.
    pub fn y(&self, t: Duration) -> f64 {
        let after = self.rows.partition_point(|r| r.0 < t);
        match (
            after.checked_sub(1).and_then(|i| self.rows.get(i)),
            self.rows.get(after),
        ) {
            (_, Some(&(at, y))) if at == t => y,
            (Some(&(t0, y0)), Some(&(t1, y1))) => {
                let part = (t - t0).as_secs_f64() / (t1 - t0).as_secs_f64();
                y0 + part * (y1 - y0)
            }
            (None, _) => self.top(),
            (_, None) => self.bottom(),
        }
    }

    /// The gaps drawn as axis breaks: (y of the middle, how long the gap is).
    pub fn breaks(&self) -> Vec<(f64, Duration)> {
        self.rows
            .windows(2)
            .filter(|w| w[1].0 - w[0].0 >= BREAK_GAP_MIN)
            .map(|w| ((w[0].1 + w[1].1) / 2.0, w[1].0 - w[0].0))
            .collect()
    }

    /// Row times after a gap of at least `gap`: where bursts start.
    pub fn burst_starts(&self, gap: Duration) -> Vec<Duration> {
        self.rows
            .windows(2)
            .filter(|w| w[1].0 - w[0].0 >= gap)
            .map(|w| w[1].0)
            .collect()
    }

    /// Every row's time.
    pub fn row_times(&self) -> Vec<Duration> {
        self.rows.iter().map(|r| r.0).collect()
    }

    /// Axis labels: `wanted` times in priority order, each kept if it is inside the scale and
    /// not too close to one kept before; returned in time order as (time, y, index in
    /// `wanted`).
    pub fn labels(&self, wanted: &[Duration]) -> Vec<(Duration, f64, usize)> {
        let mut kept: Vec<(Duration, f64, usize)> = Vec::new();
        for (i, &t) in wanted.iter().enumerate() {
            let y = self.y(t);
            let free = kept
                .iter()
                .all(|(_, other, _)| (other - y).abs() >= LABEL_PX_MIN);
            if self.contains(t) && free {
                kept.push((t, y, i));
            }
        }
        kept.sort_by_key(|(t, _, _)| *t);
        kept
    }
}

/// The pixels between two rows `gap` apart.
fn gap_px(gap: Duration) -> f64 {
    let ms = gap.as_secs_f64() * 1000.0;
    ROW_PX_MIN + ROW_PX_PER_LOG_MS * ms.ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bursts_get_room_and_quiet_stretches_are_compressed() {
        let scale = TimeScale::new([ms(0), ms(1), ms(2), ms(5000)], ms(0), ms(5000), 0.0);
        let burst = scale.y(ms(2)) - scale.y(ms(0));
        let quiet = scale.y(ms(5000)) - scale.y(ms(2));
        assert!(burst >= 2.0 * ROW_PX_MIN, "{burst}");
        assert!(quiet < 100.0, "5 s of nothing stays short: {quiet}");
        assert_eq!(scale.breaks().len(), 1);
    }

    #[test]
    fn times_between_rows_are_interpolated_and_ends_clamped() {
        let scale = TimeScale::new([ms(1000)], ms(0), ms(2000), 10.0);
        assert_eq!(scale.y(ms(0)), 10.0);
        let (a, b, c) = (scale.y(ms(500)), scale.y(ms(1000)), scale.y(ms(1500)));
        assert!(10.0 < a && a < b && b < c && c < scale.bottom());
        assert_eq!(scale.y(ms(9000)), scale.bottom());
    }

    #[test]
    fn the_height_is_capped() {
        let scale = TimeScale::new((0..5000).map(|i| ms(i * 7)), ms(0), ms(35_000), 0.0);
        assert!(scale.bottom() <= PLOT_PX_MAX + 0.001, "{}", scale.bottom());
    }
}
