//! The reference grammar of a client line, from docs/protocol.md §1-4 alone: what the checkers
//! believe a line asks for, decided independently of the server's parser.
//!
//! Exact decimal throughout: coordinates are compared digit by digit, timestamps are integer
//! nanoseconds, so nothing a float would round can pass or fail by accident.

/// docs/protocol.md §1: space, tab, CR, LF, FF, VT (VT is not `char::is_ascii_whitespace`).
pub fn is_white_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{0B}' | '\u{0C}')
}

/// Timestamps carry at most nanoseconds (docs/protocol.md §2).
pub const TIMESTAMP_FRACTION_DIGITS_MAX: usize = 9;
const NANOS_PER_SECOND: i128 = 1_000_000_000;
const LATITUDE_DEGREES_MAX: u32 = 90;
const LONGITUDE_DEGREES_MAX: u32 = 180;
const RADIUS_KM_MAX: u32 = 50;
/// WHATSAT's bound on results (docs/protocol.md §3).
pub const BOUND_MAX: u32 = 20;

/// The command words of the herd's own link protocol (docs/protocol.md §8). A client that sends
/// them gets `?`, but an `AT` line on a herd with classic links is a classic peer's record and gets
/// no reply (docs/protocol.md §10), so a judge of client replies leaves them alone.
pub const LINK_WORDS: [&str; 8] = [
    "AT", "PEER", "HELLO", "AUTH", "LINKED", "MARK", "PING", "PONG",
];

/// An exact decimal number, normalised: no leading zeros in `int`, no trailing zeros in
/// `frac`, and zero is never negative, so equal values compare equal whatever their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    pub negative: bool,
    pub int: String,
    pub frac: String,
}

impl Decimal {
    /// `DIGITS` or `DIGITS.DIGITS` (at least one digit on each side of a dot), unsigned.
    fn unsigned(text: &str) -> Option<Decimal> {
        let (int, frac) = match text.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (text, None),
        };
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || !frac.is_none_or(digits) {
            return None;
        }
        let int = int.trim_start_matches('0').to_string();
        let frac = frac.unwrap_or("").trim_end_matches('0').to_string();
        Some(Decimal {
            negative: false,
            int,
            frac,
        })
    }

    /// `[+-]DIGITS(.DIGITS)?` with the sign mandatory (docs/protocol.md §2's coordinates).
    fn signed(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'+' => (false, &text[1..]),
            b'-' => (true, &text[1..]),
            _ => return None,
        };
        let mut value = Decimal::unsigned(rest)?;
        value.negative = negative && !value.is_zero();
        Some(value)
    }

    /// An unsigned decimal as a Places query writes one (`2500`, `1234.5`).
    pub fn parse_unsigned(text: &str) -> Option<Decimal> {
        Decimal::unsigned(text)
    }

    /// The value times 1000, exactly: km to metres (docs/protocol.md §11's `radius * 1000`).
    pub fn times_thousand(&self) -> Decimal {
        let mut frac = self.frac.clone();
        while frac.len() < 3 {
            frac.push('0');
        }
        let (moved, rest) = frac.split_at(3);
        Decimal {
            negative: self.negative,
            int: format!("{}{moved}", self.int)
                .trim_start_matches('0')
                .to_string(),
            frac: rest.trim_end_matches('0').to_string(),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.int.is_empty() && self.frac.is_empty()
    }

    /// `|self| <= limit`, exactly.
    fn magnitude_at_most(&self, limit: u32) -> bool {
        let limit = limit.to_string();
        match self.int.len().cmp(&limit.len()) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => match self.int.as_str().cmp(limit.as_str()) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Greater => false,
                std::cmp::Ordering::Equal => self.frac.is_empty(),
            },
        }
    }
}

impl std::fmt::Display for Decimal {
    /// Canonical text: `-` when negative, no `+`, `0` for an empty integer part.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        let int = if self.int.is_empty() { "0" } else { &self.int };
        if self.frac.is_empty() {
            write!(f, "{sign}{int}")
        } else {
            write!(f, "{sign}{int}.{}", self.frac)
        }
    }
}

/// An ISO 6709 location as docs/protocol.md §2 writes it: `+34.068930-118.445127`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub latitude: Decimal,
    pub longitude: Decimal,
}

impl Location {
    /// A signed latitude in [-90, 90] immediately followed by a signed longitude in
    /// [-180, 180]. The longitude's sign is the first `+` or `-` after the first character.
    pub fn parse(text: &str) -> Option<Location> {
        let split = text
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == '+' || c == '-')?
            .0;
        let latitude = Decimal::signed(&text[..split])?;
        let longitude = Decimal::signed(&text[split..])?;
        (latitude.magnitude_at_most(LATITUDE_DEGREES_MAX)
            && longitude.magnitude_at_most(LONGITUDE_DEGREES_MAX))
        .then_some(Location {
            latitude,
            longitude,
        })
    }

    /// docs/protocol.md §11's `location=LAT,LNG`: decimal degrees, latitude first, `-` for south
    /// and west (a `+` is a space in a query string, so none is written).
    pub fn places_query(&self) -> String {
        format!("{},{}", self.latitude, self.longitude)
    }

    /// The location a Places query value `LAT,LNG` names (`-` or no sign, any decimal
    /// digits), whatever its ranges: `None` if it is not two decimals.
    pub fn from_places_query(text: &str) -> Option<Location> {
        let (lat, lng) = text.split_once(',')?;
        let read = |t: &str| match t.strip_prefix('-') {
            Some(rest) => Decimal::unsigned(rest).map(|mut d| {
                d.negative = !d.is_zero();
                d
            }),
            None => Decimal::unsigned(t),
        };
        Some(Location {
            latitude: read(lat)?,
            longitude: read(lng)?,
        })
    }

    /// Whether both coordinates are within their ranges.
    pub fn in_range(&self) -> bool {
        self.latitude.magnitude_at_most(LATITUDE_DEGREES_MAX)
            && self.longitude.magnitude_at_most(LONGITUDE_DEGREES_MAX)
    }
}

/// A text that is not docs/protocol.md §2's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotATimestamp;

/// POSIX seconds with up to 9 fraction digits, no sign, no exponent (docs/protocol.md §2), as
/// integer nanoseconds; `None` for a valid text too large for `i128` nanoseconds, which is
/// beyond any clock and so always ahead of it by more than any bound.
pub fn timestamp_nanos(text: &str) -> Result<Option<i128>, NotATimestamp> {
    let value = Decimal::unsigned(text).ok_or(NotATimestamp)?;
    let written_frac = text.split_once('.').map_or(0, |(_, f)| f.len());
    if written_frac > TIMESTAMP_FRACTION_DIGITS_MAX {
        return Err(NotATimestamp);
    }
    let mut frac = value.frac.clone();
    while frac.len() < TIMESTAMP_FRACTION_DIGITS_MAX {
        frac.push('0');
    }
    let digits = |d: &str| {
        d.bytes().try_fold(0_i128, |acc, b| {
            acc.checked_mul(10)?.checked_add(i128::from(b - b'0'))
        })
    };
    Ok((|| {
        digits(&value.int)?
            .checked_mul(NANOS_PER_SECOND)?
            .checked_add(digits(&frac)?)
    })())
}

/// What a client line is, by docs/protocol.md alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLine {
    /// `IAMAT client location timestamp`, each field as written.
    IamAt {
        client: String,
        location_text: String,
        location: Location,
        timestamp_text: String,
        /// See [`timestamp_nanos`].
        timestamp_nanos: Option<i128>,
    },
    /// `WHATSAT client radius bound`: `0 < radius <= 50` km, `1 <= bound <= 20`.
    WhatsAt {
        client: String,
        radius_km: Decimal,
        bound: u32,
    },
    /// A line whose first word is one of [`LINK_WORDS`].
    Link,
    /// Anything else: docs/protocol.md §4 owes it `? ` and the trimmed line.
    Invalid(&'static str),
}

impl ClientLine {
    /// Classifies one line (without its newline). docs/protocol.md §1's white space separates
    /// fields and is ignored at both ends; command words are case-sensitive.
    pub fn parse(line: &str) -> ClientLine {
        let fields: Vec<&str> = line
            .split(is_white_space)
            .filter(|f| !f.is_empty())
            .collect();
        match fields.as_slice() {
            [] => ClientLine::Invalid("empty line"),
            ["IAMAT", client, location, timestamp] => iamat(client, location, timestamp),
            ["IAMAT", ..] => ClientLine::Invalid("IAMAT takes exactly 4 fields"),
            ["WHATSAT", client, radius, bound] => whatsat(client, radius, bound),
            ["WHATSAT", ..] => ClientLine::Invalid("WHATSAT takes exactly 4 fields"),
            [word, ..] if LINK_WORDS.contains(word) => ClientLine::Link,
            _ => ClientLine::Invalid("unknown command word"),
        }
    }
}

fn iamat(client: &str, location: &str, timestamp: &str) -> ClientLine {
    let Some(parsed) = Location::parse(location) else {
        return ClientLine::Invalid("location is not ±LAT±LNG within range");
    };
    let Ok(nanos) = timestamp_nanos(timestamp) else {
        return ClientLine::Invalid("timestamp is not seconds with up to 9 fraction digits");
    };
    ClientLine::IamAt {
        client: client.to_string(),
        location_text: location.to_string(),
        location: parsed,
        timestamp_text: timestamp.to_string(),
        timestamp_nanos: nanos,
    }
}

fn whatsat(client: &str, radius: &str, bound: &str) -> ClientLine {
    let Some(radius_km) = Decimal::unsigned(radius) else {
        return ClientLine::Invalid("radius is not a decimal number");
    };
    if radius_km.is_zero() || !radius_km.magnitude_at_most(RADIUS_KM_MAX) {
        return ClientLine::Invalid("radius is not in (0, 50]");
    }
    let bound_value = match Decimal::unsigned(bound) {
        Some(d) if !bound.contains('.') => match d.int.len() {
            0 => 0,
            1 | 2 => d.int.parse::<u32>().unwrap_or(0),
            _ => u32::MAX,
        },
        _ => return ClientLine::Invalid("bound is not an integer"),
    };
    if !(1..=BOUND_MAX).contains(&bound_value) {
        return ClientLine::Invalid("bound is not in 1..=20");
    }
    ClientLine::WhatsAt {
        client: client.to_string(),
        radius_km,
        bound: bound_value,
    }
}

#[cfg(test)]
mod tests;
