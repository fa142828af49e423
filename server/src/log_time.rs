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
    // Digit by digit: `write!` with padding cost a tenth of a busy server's instructions.
    push_padded(out, year as u64, 4);
    out.push('-');
    push_padded(out, month as u64, 2);
    out.push('-');
    push_padded(out, day as u64, 2);
    out.push('T');
    push_padded(out, (rem / 3600) as u64, 2);
    out.push(':');
    push_padded(out, (rem % 3600 / 60) as u64, 2);
    out.push(':');
    push_padded(out, (rem % 60) as u64, 2);
    out.push('.');
    push_padded(out, u64::from(since_epoch.subsec_micros()), 6);
    out.push('Z');
}

/// `value` in decimal, zero-padded to at least `width` digits.
fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for _ in digits.len() - start..width {
        out.push('0');
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
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
        for bad in [
            "yesterday",
            "2026-11-26T05:39:38",
            "2026-11-26T05:39:38.1x2Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
