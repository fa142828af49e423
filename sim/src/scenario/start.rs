//! A scenario's `start`: the simulated wall clock's first reading, written as an RFC 3339 UTC
//! date-time (`2000-02-29T23:59:58Z`), read and written with the `time` crate rather than the
//! server's own log-time code, which the harness judges.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{START_MAX, START_MIN};

/// `2000-02-29T23:59:58Z` (any RFC 3339 offset, a fraction to the nanosecond) as time since
/// the Unix epoch, within [`START_MIN`]..=[`START_MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let at = OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map_err(|e| format!("`start` {text:?} is not an RFC 3339 date-time ({e})"))?;
    let nanos = at.unix_timestamp_nanos();
    let in_range = u64::try_from(nanos.div_euclid(1_000_000_000))
        .ok()
        .map(|secs| Duration::new(secs, nanos.rem_euclid(1_000_000_000) as u32))
        .filter(|d| (START_MIN..=START_MAX).contains(d));
    in_range.ok_or_else(|| {
        format!(
            "`start` {text:?} is outside {} ..= {}",
            format(START_MIN),
            format(START_MAX)
        )
    })
}

/// Time since the Unix epoch as RFC 3339 UTC, as [`parse`] reads it back.
pub fn format(since_epoch: Duration) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(since_epoch.as_nanos() as i128)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{}s after the Unix epoch", since_epoch.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_read_and_print_back() {
        let leap = parse("2000-02-29T23:59:58Z").unwrap();
        assert_eq!(leap, Duration::from_secs(951_868_798));
        assert_eq!(format(leap), "2000-02-29T23:59:58Z");
        assert_eq!(
            parse(&format(super::super::START_DEFAULT)),
            Ok(super::super::START_DEFAULT)
        );
        assert_eq!(
            parse("2000-03-01T01:00:00.25+01:00").unwrap(),
            Duration::from_millis(951_868_800_250)
        );
    }

    #[test]
    fn bad_starts_are_explained() {
        let e = parse("yesterday").unwrap_err();
        assert!(e.contains("not an RFC 3339 date-time"), "{e}");
        let e = parse("1970-01-01T00:00:00Z").unwrap_err();
        assert!(
            e.contains("outside 1970-01-02T00:00:00Z ..= 9000-01-01T00:00:00Z"),
            "{e}"
        );
        assert!(parse("9000-01-01T00:00:01Z").is_err());
    }
}
