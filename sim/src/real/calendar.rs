//! The calendar a real-mode run lives on: the scenario's `start`, as in the simulation. Every
//! server process runs with its clock moved to it (`--clock-offset`, plus the server's skew),
//! and the clients' default IAMAT timestamps read the same clock, so an explicit timestamp in
//! a scenario (`"1700000002"`) means the same instant of the run in both modes.
//!
//! The clock starts at `start` as the processes are launched, which is a fraction of a second
//! before the run's `0s` (when every server listens); checkers that need a server's clock
//! bound it by the clients' clock at send and reply (`receipt_clock`), which reads this same
//! calendar.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS_PER_MILLI: i128 = 1_000_000;
/// `--clock-offset` reads to the microsecond, so the calendar moves by whole microseconds.
const NANOS_PER_MICRO: i128 = 1_000;

/// The system clock moved to the scenario's `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    /// The scenario's calendar minus the system clock, in nanoseconds (whole microseconds).
    shift_nanos: i128,
}

impl Calendar {
    /// A calendar that reads `start` (time since the Unix epoch) now.
    pub fn starting_at(start: Duration) -> Calendar {
        let shift = start.as_nanos() as i128 - system_nanos();
        Calendar {
            // Rounded up: the calendar never reads before `start`.
            shift_nanos: shift
                + (NANOS_PER_MICRO - shift.rem_euclid(NANOS_PER_MICRO)) % NANOS_PER_MICRO,
        }
    }

    /// The calendar's time now, since the Unix epoch (saturating at the epoch).
    pub fn now(&self) -> Duration {
        let nanos = (system_nanos() + self.shift_nanos).max(0);
        Duration::new(
            (nanos / 1_000_000_000) as u64,
            (nanos % 1_000_000_000) as u32,
        )
    }

    /// The calendar's time now as IAMAT timestamp text, to the nanosecond.
    pub fn timestamp_text(&self) -> String {
        let now = self.now();
        format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
    }

    /// The server's `--clock-offset` for a clock on this calendar, skewed by `skew_nanos`:
    /// signed milliseconds with three fraction digits, as it reads them (a skew's
    /// nanoseconds below the microsecond are dropped).
    pub fn offset_flag(&self, skew_nanos: i128) -> String {
        offset_text(self.shift_nanos + skew_nanos)
    }
}

fn offset_text(nanos: i128) -> String {
    let sign = if nanos < 0 { '-' } else { '+' };
    let micros = nanos.unsigned_abs() / NANOS_PER_MICRO.unsigned_abs();
    let per_milli = (NANOS_PER_MILLI / NANOS_PER_MICRO).unsigned_abs();
    format!("{sign}{}.{:03}ms", micros / per_milli, micros % per_milli)
}

fn system_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_reads_back_to_the_microsecond_as_the_server_parses_it() {
        for nanos in [
            0_i128,
            1_000,
            -1_000,
            999_000,
            -94_608_000_123_456_000,
            5_000_000_000,
        ] {
            let text = offset_text(nanos);
            let (sign, magnitude) = match text.strip_prefix('-') {
                Some(rest) => (-1, rest),
                None => (1, text.trim_start_matches('+')),
            };
            let read = server::config::parse_duration(magnitude).expect("a duration");
            assert_eq!(sign * read.as_nanos() as i128, nanos, "{text}");
        }
    }

    #[test]
    fn the_calendar_reads_the_scenario_start_when_made() {
        let start = Duration::from_secs(1_700_000_000);
        let calendar = Calendar::starting_at(start);
        let now = calendar.now();
        assert!(
            now >= start && now < start + Duration::from_secs(5),
            "{now:?}"
        );
        assert!(calendar.timestamp_text().starts_with("17000000"));
        assert_eq!(calendar.shift_nanos % NANOS_PER_MICRO, 0);
    }
}
