//! The values inside a command (timestamp, location, time difference, radius): each parsed
//! exactly from its decimal text, never through floating point, and printed back verbatim.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ParseError;

const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// Timestamps and time differences carry at most nanoseconds.
const FRACTION_DIGITS_MAX: usize = 9;
const LATITUDE_DEGREES_MAX: u32 = 90;
const LONGITUDE_DEGREES_MAX: u32 = 180;
const RADIUS_KM_MAX: u32 = 50;

/// `DIGITS` or `DIGITS.DIGITS`, ASCII digits only, at least one on each side of the dot.
pub(super) fn split_decimal(s: &str) -> Option<(&str, Option<&str>)> {
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (s, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    (digits(int) && frac.is_none_or(digits)).then_some((int, frac))
}

/// A leading `+` or `-` (mandatory) and the rest; `true` means negative.
fn split_sign(s: &str) -> Option<(bool, &str)> {
    match s.strip_prefix('+') {
        Some(rest) => Some((false, rest)),
        None => s.strip_prefix('-').map(|rest| (true, rest)),
    }
}

/// Checked so that a thousand-digit number is an error, not an overflow.
fn digits_value(digits: &str) -> Option<i128> {
    // Up to 18 digits fit a u64 unchecked: the common case, without i128 arithmetic.
    if digits.len() <= 18 {
        return digits
            .bytes()
            .try_fold(0_u64, |acc, b| {
                let digit = b.wrapping_sub(b'0');
                (digit <= 9).then_some(acc * 10 + u64::from(digit))
            })
            .map(i128::from);
    }
    digits.chars().try_fold(0_i128, |acc, c| {
        acc.checked_mul(10)?
            .checked_add(i128::from(c.to_digit(10)?))
    })
}

/// Whole seconds plus up to 9 fraction digits, as integer nanoseconds.
fn nanos_of(int: &str, frac: Option<&str>) -> Option<i128> {
    let frac = frac.unwrap_or_default();
    let scale = FRACTION_SCALE.get(frac.len())?;
    let frac_nanos = if frac.is_empty() {
        0
    } else {
        digits_value(frac)? * scale
    };
    // Up to 18 digits of seconds, times 10^9, stay far below i128::MAX: no checks needed.
    if int.len() <= 18 {
        return Some(digits_value(int)? * NANOS_PER_SECOND + frac_nanos);
    }
    digits_value(int)?
        .checked_mul(NANOS_PER_SECOND)?
        .checked_add(frac_nanos)
}

/// What a fraction of `n` digits is multiplied by to be nanoseconds (index `n`, up to 9).
const FRACTION_SCALE: [i128; FRACTION_DIGITS_MAX + 1] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

pub(super) fn is_all_zeros(digits: &str) -> bool {
    digits.bytes().all(|b| b == b'0')
}

/// Exact decimal `int.frac <= limit`, whatever the number of digits.
fn at_most(int: &str, frac: Option<&str>, limit: u32) -> bool {
    let int = int.trim_start_matches('0');
    if int.len() > 9 {
        return false;
    }
    let whole = if int.is_empty() {
        Some(0)
    } else {
        int.parse::<u32>().ok()
    };
    match whole {
        Some(whole) => whole < limit || (whole == limit && frac.is_none_or(is_all_zeros)),
        None => false,
    }
}

/// Wire values serialize as their verbatim text, so logs and snapshots show what was on the
/// wire, and deserialize through `FromStr`, so a file can never smuggle in an invalid value.
macro_rules! wire_text {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
wire_text!(Timestamp, Location, TimeDiff, Radius);

/// A client's clock reading: POSIX seconds with up to 9 fraction digits. Ordered by `nanos`
/// (in [`Record`]), echoed by text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    nanos: i128,
    text: String,
}

impl Timestamp {
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Timestamp {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (int, frac) = split_decimal(s).ok_or(ParseError::BadTimestamp)?;
        let nanos = nanos_of(int, frac).ok_or(ParseError::BadTimestamp)?;
        Ok(Timestamp {
            nanos,
            text: s.to_owned(),
        })
    }
}

/// ISO 6709 style `±LAT±LNG`. Kept as text because the SPEC echoes it verbatim and Places is
/// queried with the client's own digits; the split point separates the two coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    text: String,
    /// Byte offset of the longitude's sign in `text`.
    split: usize,
}

impl Location {
    /// Verbatim, e.g. `+34.068930-118.445127`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn latitude_text(&self) -> &str {
        self.text.get(..self.split).unwrap_or_default()
    }

    fn longitude_text(&self) -> &str {
        self.text.get(self.split..).unwrap_or_default()
    }

    /// Degrees, for Places math only (distances, offline place sets); never for the wire.
    pub fn latitude(&self) -> f64 {
        self.latitude_text().parse().unwrap_or_default()
    }

    /// Degrees, for Places math only; see [`Location::latitude`].
    pub fn longitude(&self) -> f64 {
        self.longitude_text().parse().unwrap_or_default()
    }

    /// `LAT,LNG` for a Places query: the client's digits verbatim, `+` dropped, `-` kept, so no
    /// precision is lost or invented: `34.068930,-118.445127`.
    pub fn query_value(&self) -> String {
        let unsigned = |t: &str| t.strip_prefix('+').unwrap_or(t).to_owned();
        format!(
            "{},{}",
            unsigned(self.latitude_text()),
            unsigned(self.longitude_text())
        )
    }
}

/// One signed coordinate's syntax: `[+-]DIGITS(.DIGITS)?`, sign mandatory.
fn coordinate(text: &str) -> Result<(&str, Option<&str>), ParseError> {
    let (_, magnitude) = split_sign(text).ok_or(ParseError::BadLocation)?;
    split_decimal(magnitude).ok_or(ParseError::BadLocation)
}

impl FromStr for Location {
    type Err = ParseError;

    /// The longitude starts at the first sign after the latitude's own. Ranges are checked in
    /// exact decimal: `+90.0000000001` is out, `+90.000` is in.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let split = s
            .bytes()
            .enumerate()
            .skip(1)
            .find_map(|(i, b)| matches!(b, b'+' | b'-').then_some(i))
            .ok_or(ParseError::BadLocation)?;
        let (latitude, longitude) = s.split_at_checked(split).ok_or(ParseError::BadLocation)?;
        let (lat_int, lat_frac) = coordinate(latitude)?;
        let (lng_int, lng_frac) = coordinate(longitude)?;
        if !at_most(lat_int, lat_frac, LATITUDE_DEGREES_MAX) {
            return Err(ParseError::LatitudeOutOfRange);
        }
        if !at_most(lng_int, lng_frac, LONGITUDE_DEGREES_MAX) {
            return Err(ParseError::LongitudeOutOfRange);
        }
        Ok(Location {
            text: s.to_owned(),
            split,
        })
    }
}

/// Server receive time minus client timestamp. Made by [`TimeDiff::between`] for our own
/// records; parsed from peers' AT lines and echoed as received, so the herd agrees on text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeDiff {
    nanos: i128,
    text: String,
}

impl TimeDiff {
    /// `received_nanos - client`, formatted with explicit sign and exactly 9 fraction digits:
    /// `+0.263873386`, `-0.000001000`; zero is `+0.000000000`. Integer arithmetic only, so no
    /// digit is lost. Absurd inputs saturate at +-`i128::MAX` rather than overflow, so the
    /// text always parses back.
    pub fn between(received_nanos: i128, client: &Timestamp) -> TimeDiff {
        let nanos = received_nanos
            .saturating_sub(client.nanos())
            .max(-i128::MAX);
        let sign = if nanos < 0 { '-' } else { '+' };
        let magnitude = nanos.unsigned_abs();
        let per_second = NANOS_PER_SECOND.unsigned_abs();
        let text = format!(
            "{sign}{}.{:09}",
            magnitude / per_second,
            magnitude % per_second
        );
        TimeDiff { nanos, text }
    }

    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for TimeDiff {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (negative, magnitude) = split_sign(s).ok_or(ParseError::BadTimeDiff)?;
        let (int, frac) = split_decimal(magnitude).ok_or(ParseError::BadTimeDiff)?;
        let nanos = nanos_of(int, frac).ok_or(ParseError::BadTimeDiff)?;
        let nanos = if negative { -nanos } else { nanos };
        Ok(TimeDiff {
            nanos,
            text: s.to_owned(),
        })
    }
}

/// WHATSAT's search radius in km, `0 < r <= 50`, kept as text so the Places query gets exact
/// metres.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Radius {
    text: String,
}

impl Radius {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Exact decimal km*1000 with no float noise and no needless trailing zeros or dot:
    /// `10` -> `10000`, `0.5` -> `500`, `1.2345` -> `1234.5`, `0.0001` -> `0.1`.
    pub fn metres_text(&self) -> String {
        let (int, frac) = split_decimal(&self.text).unwrap_or((&self.text, None));
        let mut frac = frac.unwrap_or_default().to_owned();
        while frac.len() < 3 {
            frac.push('0');
        }
        let (moved, rest) = frac.split_at_checked(3).unwrap_or((&frac, ""));
        let whole = format!("{int}{moved}");
        let whole = match whole.trim_start_matches('0') {
            "" => "0",
            trimmed => trimmed,
        };
        match rest.trim_end_matches('0') {
            "" => whole.to_owned(),
            rest => format!("{whole}.{rest}"),
        }
    }

    /// Metres as a float, for Places math only (e.g. filtering an offline place set). Never 0:
    /// a radius with hundreds of leading fraction zeros is valid but underflows `f64`, and
    /// Places (New) refuses a radius of 0.
    pub fn metres(&self) -> f64 {
        let metres: f64 = self.metres_text().parse().unwrap_or_default();
        metres.max(f64::MIN_POSITIVE)
    }
}

impl FromStr for Radius {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (int, frac) = split_decimal(s).ok_or(ParseError::BadRadius)?;
        let zero = is_all_zeros(int) && frac.is_none_or(is_all_zeros);
        if zero || !at_most(int, frac, RADIUS_KM_MAX) {
            return Err(ParseError::RadiusOutOfRange);
        }
        Ok(Radius { text: s.to_owned() })
    }
}
