//! The log lines' `ts`: UTC in RFC 3339 with microseconds (`2026-11-26T05:39:38.123456Z`),
//! written by the binary and read back by the simulation's log reader and the load benchmark.
//! Pure conversions of a given time, without a date crate; the library never reads the clock.

use std::time::Duration;

/// Days from 1970-01-01 to 0000-03-01 in the proleptic Gregorian calendar (Hinnant's shift).
const EPOCH_SHIFT_DAYS: i64 = 719_468;
/// Days in a 400-year era.
const ERA_DAYS: i64 = 146_097;

/// `since_epoch` (time since the Unix epoch) as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format(since_epoch: Duration) -> String {
    let mut out = String::with_capacity(27);
    write(&mut out, since_epoch);
    out
}

/// Appends [`format`]'s text to `out`, so a caller writing many lines reuses one buffer.
pub fn write(out: &mut String, since_epoch: Duration) {
    let secs = since_epoch.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + EPOCH_SHIFT_DAYS;
    let era = z.div_euclid(ERA_DAYS);
    let doe = z - era * ERA_DAYS;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Digit by digit into a fixed array, then appended at once: `write!` with padding, or a
    // `push` per character, cost a tenth of a busy server's instructions.
    if year > 9999 {
        // Past the four digits the fixed text holds: the year in full, then the rest.
        use std::fmt::Write as _;
        let _ = write!(out, "{year}");
    } else {
        let mut digits = *b"0000";
        put_padded(&mut digits, year as u64);
        out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    }
    let mut text = *b"-00-00T00:00:00";
    put_padded(&mut text[1..3], month as u64);
    put_padded(&mut text[4..6], day as u64);
    put_padded(&mut text[7..9], (rem / 3600) as u64);
    put_padded(&mut text[10..12], (rem % 3600 / 60) as u64);
    put_padded(&mut text[13..15], (rem % 60) as u64);
    // Only ASCII digits were put into ASCII text.
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
    write_fraction(out, since_epoch);
}

/// Appends the part of [`format`]'s text after the seconds: `.ffffffZ`. A writer that
/// keeps the text of the current second appends only this to it.
pub fn write_fraction(out: &mut String, since_epoch: Duration) {
    let mut text = *b".000000Z";
    put_padded(&mut text[1..7], u64::from(since_epoch.subsec_micros()));
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// `value`'s last `field.len()` decimal digits, zero-padded, into `field`.
fn put_padded(field: &mut [u8], value: u64) {
    let mut rest = value;
    for digit in field.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

/// A `ts` as [`format`] writes it (fraction optional, up to microseconds) as time since the
/// Unix epoch; `None` for anything else, or a time before the epoch.
pub fn parse(ts: &str) -> Option<Duration> {
    let ts = ts.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut hms = hms.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: u64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    // Howard Hinnant's days_from_civil, the inverse of civil_from_days above.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * ERA_DAYS + doe - EPOCH_SHIFT_DAYS).ok()?;
    Some(Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s) + Duration::from_micros(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_and_read_back() {
        let t = Duration::from_micros(1_795_671_578_123_456);
        assert_eq!(format(t), "2026-11-26T05:39:38.123456Z");
        assert_eq!(parse(&format(t)), Some(t));
        assert_eq!(
            parse("1970-01-01T00:00:01.5Z"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(format(Duration::ZERO), "1970-01-01T00:00:00.000000Z");
        // A leap day, the last microsecond of a year, and a year past four digits.
        for (secs, micros, text) in [
            (1_709_164_800, 7, "2024-02-29T00:00:00.000007Z"),
            (253_402_300_799, 999_999, "9999-12-31T23:59:59.999999Z"),
            (253_402_300_800, 0, "10000-01-01T00:00:00.000000Z"),
        ] {
            let t = Duration::from_secs(secs) + Duration::from_micros(micros);
            assert_eq!(format(t), text);
            assert_eq!(parse(text), Some(t), "{text}");
        }
        for bad in [
            "yesterday",
            "2026-11-26T05:39:38",
            "2026-11-26T05:39:38.1x2Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
