//! The herd's wire protocol (SPEC sections 1-5): one line of bytes <-> [`Command`], the
//! value types inside it, the `? ` reply for anything invalid, and [`Record`]'s total order.
//!
//! Every value keeps the text it was parsed from and prints it back verbatim, because the
//! SPEC echoes client and peer text unchanged (`+34.068930` keeps its trailing zero). Numbers
//! are checked exactly, in decimal or integer nanoseconds, never through floating point.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// Timestamps and time differences carry at most nanoseconds.
const FRACTION_DIGITS_MAX: usize = 9;
const LATITUDE_DEGREES_MAX: u32 = 90;
const LONGITUDE_DEGREES_MAX: u32 = 180;
const RADIUS_KM_MAX: u32 = 50;
/// WHATSAT's bound on results: Places returns at most 20.
const BOUND_MAX: usize = 20;

/// Why a line is not a valid command. Callers answer `? ` for every variant; the variant is for
/// logs and tests, so each names the one rule the line broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line is not valid UTF-8")]
    NotUtf8,
    #[error("line is empty or only white space")]
    Empty,
    #[error("unknown command word (expected IAMAT, WHATSAT, AT, PEER, PING or PONG)")]
    UnknownCommand,
    #[error("{command} takes exactly {expected} fields, found {found}")]
    FieldCount {
        command: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{command} takes at least {at_least} fields, found {found}")]
    TooFewFields {
        command: &'static str,
        at_least: usize,
        found: usize,
    },
    #[error("location is not a signed decimal latitude immediately followed by a signed longitude")]
    BadLocation,
    #[error("latitude is outside [-90, 90]")]
    LatitudeOutOfRange,
    #[error("longitude is outside [-180, 180]")]
    LongitudeOutOfRange,
    #[error("timestamp is not unsigned POSIX seconds with at most 9 fraction digits")]
    BadTimestamp,
    #[error("time difference is not a signed decimal with at most 9 fraction digits")]
    BadTimeDiff,
    #[error("radius is not an unsigned decimal number of km")]
    BadRadius,
    #[error("radius must satisfy 0 < r <= 50 km")]
    RadiusOutOfRange,
    #[error("bound is not an integer from 1 to 20")]
    BadBound,
    #[error("heartbeat number is not an unsigned 64-bit integer")]
    BadNumber,
}

/// SPEC white space: space, tab, CR, LF, FF, VT (note: VT 0x0B is NOT
/// `char::is_ascii_whitespace`, which is why this exists).
pub fn is_spec_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0B | 0x0C)
}

fn is_spec_whitespace_char(c: char) -> bool {
    u8::try_from(c).is_ok_and(is_spec_whitespace)
}

fn trim_spec_whitespace(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|&b| !is_spec_whitespace(b))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|&b| !is_spec_whitespace(b))
        .map_or(start, |i| i + 1);
    line.get(start..end).unwrap_or_default()
}

/// The `? ` reply for an invalid line: "? " + the line with leading/trailing SPEC white space
/// removed, non-UTF-8 bytes replaced lossily. No trailing newline.
pub fn invalid_reply(line: &[u8]) -> String {
    format!("? {}", String::from_utf8_lossy(trim_spec_whitespace(line)))
}

/// `DIGITS` or `DIGITS.DIGITS`, ASCII digits only, at least one on each side of the dot.
fn split_decimal(s: &str) -> Option<(&str, Option<&str>)> {
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
    digits.chars().try_fold(0_i128, |acc, c| {
        acc.checked_mul(10)?
            .checked_add(i128::from(c.to_digit(10)?))
    })
}

/// Whole seconds plus up to 9 fraction digits, as integer nanoseconds.
fn nanos_of(int: &str, frac: Option<&str>) -> Option<i128> {
    let frac_nanos = match frac {
        None => 0,
        Some(f) if f.len() <= FRACTION_DIGITS_MAX => {
            (f.len()..FRACTION_DIGITS_MAX).try_fold(digits_value(f)?, |v, _| v.checked_mul(10))?
        }
        Some(_) => return None,
    };
    digits_value(int)?
        .checked_mul(NANOS_PER_SECOND)?
        .checked_add(frac_nanos)
}

fn is_all_zeros(digits: &str) -> bool {
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

    /// Metres as a float, for Places math only (e.g. filtering an offline place set).
    pub fn metres(&self) -> f64 {
        self.metres_text().parse().unwrap_or_default()
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

/// [`Record::order_key`]: timestamp nanos, origin, location, time-diff nanos, time-diff text,
/// timestamp text, client.
pub type OrderKey<'a> = (i128, &'a str, &'a str, i128, &'a str, &'a str, &'a str);

/// One client's location as the herd floods it: the AT line made by the server that received
/// the IAMAT. Every field is echoed verbatim; `origin` and `client` must hold no white space
/// (parsing guarantees it) for the printed line to parse back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub origin: String,
    pub time_diff: TimeDiff,
    pub client: String,
    pub location: Location,
    pub timestamp: Timestamp,
}

impl Record {
    /// SPEC section 5 order: client timestamp, then origin server name, then location text,
    /// then time difference (numeric nanos). The remaining fields (time-diff text, timestamp
    /// text, client) follow only to make the order total on distinct records, so that every
    /// server picks the same winner whatever the arrival order and `Eq` agrees with it.
    pub fn order_key(&self) -> OrderKey<'_> {
        (
            self.timestamp.nanos(),
            &self.origin,
            self.location.as_str(),
            self.time_diff.nanos(),
            self.time_diff.as_str(),
            self.timestamp.as_str(),
            &self.client,
        )
    }

    pub fn is_newer_than(&self, other: &Record) -> bool {
        self.order_key() > other.order_key()
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AT {} {} {} {} {}",
            self.origin, self.time_diff, self.client, self.location, self.timestamp
        )
    }
}

/// One line of the protocol: the SPEC's client commands, peers' AT records, and this project's
/// link extensions (PEER, PING, PONG).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A client reports where it is.
    IAmAt {
        client: String,
        location: Location,
        timestamp: Timestamp,
    },
    /// A client asks for places near another client; `bound` is 1..=20.
    WhatsAt {
        client: String,
        radius: Radius,
        bound: usize,
    },
    /// A record from a peer: exactly 6 fields, or more (extra trailing fields ignored, per
    /// SPEC section 5, since classic peers append the servers visited).
    At(Record),
    /// `PEER <name>`: the first line a herd neighbour sends on a persistent link, so the
    /// receiver knows which link a record came from. Exactly 2 fields.
    Peer { name: String },
    /// `PING <n>` link heartbeat (extension). Exactly 2 fields.
    Ping(u64),
    /// `PONG <n>` answer to `PING <n>` (extension). Exactly 2 fields.
    Pong(u64),
}

fn field_count(command: &'static str, expected: usize, found: usize) -> ParseError {
    ParseError::FieldCount {
        command,
        expected,
        found,
    }
}

/// Digits only, so `+5` and `5.0` are refused; leading zeros are harmless and accepted.
fn parse_bound(s: &str) -> Result<usize, ParseError> {
    match split_decimal(s) {
        Some((int, None)) => {
            let int = int.trim_start_matches('0');
            let bound = if int.len() > 2 {
                None
            } else {
                int.parse::<usize>().ok()
            };
            bound
                .filter(|b| (1..=BOUND_MAX).contains(b))
                .ok_or(ParseError::BadBound)
        }
        _ => Err(ParseError::BadBound),
    }
}

fn parse_heartbeat(s: &str) -> Result<u64, ParseError> {
    match split_decimal(s) {
        Some((int, None)) => int.parse().map_err(|_| ParseError::BadNumber),
        _ => Err(ParseError::BadNumber),
    }
}

impl Command {
    /// Parses one line (with or without its `\n`): non-UTF-8 is an error, leading and trailing
    /// SPEC white space is ignored, fields are split on runs of SPEC white space, and command
    /// words are case-sensitive.
    pub fn parse_line(line: &[u8]) -> Result<Command, ParseError> {
        let text = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
        let fields: Vec<&str> = text
            .split(is_spec_whitespace_char)
            .filter(|f| !f.is_empty())
            .collect();
        let found = fields.len();
        let Some((&word, args)) = fields.split_first() else {
            return Err(ParseError::Empty);
        };
        match (word, args) {
            ("IAMAT", [client, location, timestamp]) => Ok(Command::IAmAt {
                client: (*client).to_owned(),
                location: location.parse()?,
                timestamp: timestamp.parse()?,
            }),
            ("IAMAT", _) => Err(field_count("IAMAT", 4, found)),
            ("WHATSAT", [client, radius, bound]) => Ok(Command::WhatsAt {
                client: (*client).to_owned(),
                radius: radius.parse()?,
                bound: parse_bound(bound)?,
            }),
            ("WHATSAT", _) => Err(field_count("WHATSAT", 4, found)),
            ("AT", [origin, time_diff, client, location, timestamp, ..]) => {
                Ok(Command::At(Record {
                    origin: (*origin).to_owned(),
                    time_diff: time_diff.parse()?,
                    client: (*client).to_owned(),
                    location: location.parse()?,
                    timestamp: timestamp.parse()?,
                }))
            }
            ("AT", _) => Err(ParseError::TooFewFields {
                command: "AT",
                at_least: 6,
                found,
            }),
            ("PEER", [name]) => Ok(Command::Peer {
                name: (*name).to_owned(),
            }),
            ("PEER", _) => Err(field_count("PEER", 2, found)),
            ("PING", [n]) => Ok(Command::Ping(parse_heartbeat(n)?)),
            ("PING", _) => Err(field_count("PING", 2, found)),
            ("PONG", [n]) => Ok(Command::Pong(parse_heartbeat(n)?)),
            ("PONG", _) => Err(field_count("PONG", 2, found)),
            _ => Err(ParseError::UnknownCommand),
        }
    }
}

impl FromStr for Command {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Command::parse_line(s.as_bytes())
    }
}

/// The canonical one-line text, without newline; it parses back to the same command.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::IAmAt {
                client,
                location,
                timestamp,
            } => {
                write!(f, "IAMAT {client} {location} {timestamp}")
            }
            Command::WhatsAt {
                client,
                radius,
                bound,
            } => write!(f, "WHATSAT {client} {radius} {bound}"),
            Command::At(record) => record.fmt(f),
            Command::Peer { name } => write!(f, "PEER {name}"),
            Command::Ping(n) => write!(f, "PING {n}"),
            Command::Pong(n) => write!(f, "PONG {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn parse(line: &str) -> Result<Command, ParseError> {
        Command::parse_line(line.as_bytes())
    }

    fn at(line: &str) -> Result<Record, Box<dyn std::error::Error>> {
        match parse(line)? {
            Command::At(record) => Ok(record),
            other => Err(format!("not an AT line: {other:?}").into()),
        }
    }

    // SPEC section 1: lines and fields.

    #[test]
    fn spec_white_space_is_exactly_space_tab_cr_lf_ff_vt() {
        let spaces: Vec<u8> = (0..=u8::MAX).filter(|&b| is_spec_whitespace(b)).collect();
        assert_eq!(spaces, vec![b'\t', b'\n', 0x0B, 0x0C, b'\r', b' ']);
        assert!(
            !0x0B_u8.is_ascii_whitespace(),
            "VT is why the helper exists"
        );
    }

    #[test]
    fn fields_split_on_runs_of_every_kind_of_white_space() -> TestResult {
        let line = "\x0B\t IAMAT\t\tkiwi \x0B\x0C +1+2\r\r 1.5 \r\n";
        let expected = Command::IAmAt {
            client: "kiwi".into(),
            location: "+1+2".parse()?,
            timestamp: "1.5".parse()?,
        };
        assert_eq!(parse(line)?, expected);
        assert_eq!(parse("IAMAT   kiwi   +1+2   1.5")?, expected);
        assert_eq!(parse("IAMAT kiwi +1+2 1.5\n")?, expected);
        Ok(())
    }

    #[test]
    fn an_empty_or_blank_line_is_invalid_with_a_bare_question_mark() {
        for line in ["", " ", "\n", "\r\n", "\t\x0B\x0C \r\n"] {
            assert_eq!(parse(line), Err(ParseError::Empty), "{line:?}");
            assert_eq!(invalid_reply(line.as_bytes()), "? ");
        }
    }

    #[test]
    fn non_utf8_bytes_make_the_line_invalid_and_the_reply_lossy() {
        let line = b"  IAMAT kiwi\xff\xfe +1+2 1.5 \x0B\n";
        assert_eq!(Command::parse_line(line), Err(ParseError::NotUtf8));
        assert_eq!(invalid_reply(line), "? IAMAT kiwi\u{FFFD}\u{FFFD} +1+2 1.5");
    }

    #[test]
    fn the_invalid_reply_trims_vt_and_ff_but_keeps_inner_white_space() {
        assert_eq!(
            invalid_reply(b"\x0B\x0C IAMAT  a\tb \x0B\x0C\r\n"),
            "? IAMAT  a\tb"
        );
    }

    #[test]
    fn unicode_white_space_is_part_of_a_client_id_not_a_separator() -> TestResult {
        let cmd = parse("IAMAT a\u{A0}b\u{2003}c +1+2 1")?;
        let Command::IAmAt { client, .. } = cmd else {
            return Err("not IAMAT".into());
        };
        assert_eq!(client, "a\u{A0}b\u{2003}c");
        Ok(())
    }

    #[test]
    fn huge_lines_parse_or_fail_without_trouble() -> TestResult {
        let client = "x".repeat(64 * 1024);
        let line = format!("IAMAT {client} +1+2 1");
        assert_eq!(parse(&line)?.to_string(), line);
        let many = format!("IAMAT{}", " a".repeat(10_000));
        assert_eq!(
            parse(&many),
            Err(ParseError::FieldCount {
                command: "IAMAT",
                expected: 4,
                found: 10_001
            })
        );
        Ok(())
    }

    #[test]
    fn command_words_are_case_sensitive() {
        for line in [
            "iamat kiwi +1+2 1",
            "Iamat kiwi +1+2 1",
            "whatsat kiwi 10 5",
            "at A +0 c +1+2 1",
        ] {
            assert_eq!(parse(line), Err(ParseError::UnknownCommand), "{line}");
        }
    }

    // SPEC section 2: IAMAT.

    #[test]
    fn the_spec_iamat_example_parses_into_its_fields() -> TestResult {
        let Command::IAmAt {
            client,
            location,
            timestamp,
        } = parse("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503")?
        else {
            return Err("not IAMAT".into());
        };
        assert_eq!(client, "kiwi.cs.ucla.edu");
        assert_eq!(location.as_str(), "+34.068930-118.445127");
        assert_eq!(location.query_value(), "34.068930,-118.445127");
        assert_eq!(timestamp.nanos(), 1_621_464_827_959_498_503);
        assert_eq!(timestamp.as_str(), "1621464827.959498503");
        Ok(())
    }

    #[test]
    fn the_spec_location_examples_are_valid_and_echo_verbatim() -> TestResult {
        for (text, query, lat, lng) in [
            (
                "+34.068930-118.445127",
                "34.068930,-118.445127",
                34.06893,
                -118.445127,
            ),
            ("-0.5+0.25", "-0.5,0.25", -0.5, 0.25),
            ("+12-118", "12,-118", 12.0, -118.0),
        ] {
            let location: Location = text.parse()?;
            assert_eq!(location.to_string(), text);
            assert_eq!(location.query_value(), query);
            assert_eq!((location.latitude(), location.longitude()), (lat, lng));
        }
        Ok(())
    }

    #[test]
    fn the_spec_timestamp_examples_are_valid() -> TestResult {
        for (text, nanos) in [
            ("1621464827.959498503", 1_621_464_827_959_498_503),
            ("1621464827.5", 1_621_464_827_500_000_000),
            ("1621464827", 1_621_464_827_000_000_000),
            ("0", 0),
            ("0001.000000001", 1_000_000_001),
        ] {
            let timestamp: Timestamp = text.parse()?;
            assert_eq!(
                (timestamp.nanos(), timestamp.to_string().as_str()),
                (nanos, text)
            );
        }
        Ok(())
    }

    #[test]
    fn timestamps_refuse_signs_exponents_bare_dots_and_a_tenth_fraction_digit() {
        for text in [
            "",
            ".5",
            "5.",
            "+5",
            "-5",
            "1e9",
            "1E9",
            "1.2.3",
            " 1",
            "1 ",
            "1_000",
            "0x10",
            "\u{661}",
            "1.0000000000",
            "NaN",
            "inf",
        ] {
            assert_eq!(
                text.parse::<Timestamp>(),
                Err(ParseError::BadTimestamp),
                "{text:?}"
            );
        }
    }

    #[test]
    fn timestamps_accept_exactly_up_to_i128_nanoseconds_and_refuse_overflow() -> TestResult {
        let max: Timestamp = "170141183460469231731687303715.884105727".parse()?;
        assert_eq!(max.nanos(), i128::MAX);
        for text in [
            "170141183460469231731687303715.884105728",
            "170141183460469231731687303716",
            &"9".repeat(5000),
        ] {
            assert_eq!(text.parse::<Timestamp>(), Err(ParseError::BadTimestamp));
        }
        Ok(())
    }

    #[test]
    fn the_spec_at_reply_is_built_from_the_receive_time_in_integer_nanoseconds() -> TestResult {
        let Command::IAmAt {
            client,
            location,
            timestamp,
        } = parse("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503")?
        else {
            return Err("not IAMAT".into());
        };
        let received = timestamp.nanos() + 263_873_386;
        let time_diff = TimeDiff::between(received, &timestamp);
        assert_eq!(time_diff.as_str(), "+0.263873386");
        assert_eq!(time_diff.nanos(), 263_873_386);
        let record = Record {
            origin: "Clark".into(),
            time_diff,
            client,
            location,
            timestamp,
        };
        assert_eq!(
            record.to_string(),
            "AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503"
        );
        Ok(())
    }

    #[test]
    fn a_client_timestamp_in_the_future_gives_a_negative_time_diff() -> TestResult {
        let timestamp: Timestamp = "1621464827.000001".parse()?;
        let diff = TimeDiff::between(1_621_464_827_000_000_000, &timestamp);
        assert_eq!((diff.as_str(), diff.nanos()), ("-0.000001000", -1000));
        let diff = TimeDiff::between(1_621_464_800_000_000_000, &timestamp);
        assert_eq!(diff.as_str(), "-27.000001000");
        Ok(())
    }

    #[test]
    fn a_zero_time_diff_is_positive_and_whole_seconds_keep_nine_zeros() -> TestResult {
        let timestamp: Timestamp = "100".parse()?;
        assert_eq!(
            TimeDiff::between(100_000_000_000, &timestamp).as_str(),
            "+0.000000000"
        );
        assert_eq!(
            TimeDiff::between(112_000_000_005, &timestamp).as_str(),
            "+12.000000005"
        );
        Ok(())
    }

    #[test]
    fn time_diff_saturates_instead_of_overflowing_on_absurd_inputs() -> TestResult {
        let max: Timestamp = "170141183460469231731687303715.884105727".parse()?;
        let diff = TimeDiff::between(i128::MIN, &max);
        assert_eq!(diff.nanos(), -i128::MAX);
        assert_eq!(diff.as_str().parse::<TimeDiff>()?, diff);
        let zero: Timestamp = "0".parse()?;
        assert_eq!(
            TimeDiff::between(i128::MIN, &zero)
                .as_str()
                .parse::<TimeDiff>()?
                .nanos(),
            -i128::MAX
        );
        Ok(())
    }

    #[test]
    fn location_ranges_are_checked_in_exact_decimal() -> TestResult {
        for text in [
            "+90+180",
            "-90-180",
            "+90.000+180.000000",
            "-90.0-180.0",
            "+0090+0",
            "-0+0",
            "+0.0-0.0",
        ] {
            assert_eq!(text.parse::<Location>()?.as_str(), text);
        }
        for (text, error) in [
            ("+90.0000000001+0", ParseError::LatitudeOutOfRange),
            ("-90.0000000001+0", ParseError::LatitudeOutOfRange),
            ("+91+0", ParseError::LatitudeOutOfRange),
            ("+00000000000000000000091+0", ParseError::LatitudeOutOfRange),
            (
                "+99999999999999999999999999999+0",
                ParseError::LatitudeOutOfRange,
            ),
            ("+0+180.0000001", ParseError::LongitudeOutOfRange),
            ("+0-181", ParseError::LongitudeOutOfRange),
            ("+0+1234567890", ParseError::LongitudeOutOfRange),
        ] {
            assert_eq!(text.parse::<Location>(), Err(error), "{text}");
        }
        Ok(())
    }

    #[test]
    fn locations_need_both_signs_and_digits_on_both_sides_of_a_dot() {
        for text in [
            "",
            "+1",
            "34.0-118.0",
            "+34.0118.0",
            "+34.0-118.0+1",
            "+34.-118",
            "+.5-1",
            "+1+.5",
            "+1+1.",
            "+1e5+0",
            "+1E5+0",
            "+NaN+0",
            "+inf-inf",
            "++1+1",
            "+1+",
            "+1--1",
            "+1 +1",
            "+1,+1",
            "é+1+1",
            "+\u{661}+1",
        ] {
            assert_eq!(
                text.parse::<Location>(),
                Err(ParseError::BadLocation),
                "{text:?}"
            );
        }
    }

    #[test]
    fn an_iamat_with_a_malformed_value_names_the_value() {
        assert_eq!(
            parse("IAMAT kiwi +91+0 1"),
            Err(ParseError::LatitudeOutOfRange)
        );
        assert_eq!(
            parse("IAMAT kiwi +1+2 1.0000000001"),
            Err(ParseError::BadTimestamp)
        );
        assert_eq!(parse("IAMAT kiwi 1.5 +1+2"), Err(ParseError::BadLocation));
    }

    // SPEC section 3: WHATSAT.

    #[test]
    fn the_spec_whatsat_example_parses_with_radius_in_metres() -> TestResult {
        let Command::WhatsAt {
            client,
            radius,
            bound,
        } = parse("WHATSAT kiwi.cs.ucla.edu 10 5")?
        else {
            return Err("not WHATSAT".into());
        };
        assert_eq!(
            (client.as_str(), radius.as_str(), bound),
            ("kiwi.cs.ucla.edu", "10", 5)
        );
        assert_eq!(radius.metres_text(), "10000");
        assert_eq!(radius.metres(), 10000.0);
        Ok(())
    }

    #[test]
    fn radius_metres_are_exact_decimal_without_needless_zeros() -> TestResult {
        for (km, metres) in [
            ("10", "10000"),
            ("0.5", "500"),
            ("1.2345", "1234.5"),
            ("50", "50000"),
            ("0.0001", "0.1"),
            ("50.000", "50000"),
            ("0.001", "1"),
            ("12.3456789", "12345.6789"),
            ("010", "10000"),
            ("0.10", "100"),
            ("0.000000000001", "0.000000001"),
        ] {
            let radius: Radius = km.parse()?;
            assert_eq!(
                (radius.as_str(), radius.metres_text().as_str()),
                (km, metres)
            );
        }
        assert_eq!("1.2345".parse::<Radius>()?.metres(), 1234.5);
        Ok(())
    }

    #[test]
    fn radius_must_be_a_plain_decimal_in_the_half_open_range_zero_to_fifty() {
        for text in ["", "+10", "-1", "1e1", ".5", "5.", "10km", "1.2.3", "NaN"] {
            assert_eq!(
                text.parse::<Radius>(),
                Err(ParseError::BadRadius),
                "{text:?}"
            );
        }
        for text in [
            "0",
            "0.0",
            "00",
            "50.0001",
            "51",
            "100000000000000000000000000",
        ] {
            assert_eq!(
                text.parse::<Radius>(),
                Err(ParseError::RadiusOutOfRange),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bounds_are_digit_only_integers_from_one_to_twenty() -> TestResult {
        for (text, bound) in [
            ("1", 1),
            ("20", 20),
            ("05", 5),
            ("020", 20),
            ("0000000000000000000007", 7),
        ] {
            assert_eq!(
                parse(&format!("WHATSAT c 1 {text}"))?,
                Command::WhatsAt {
                    client: "c".into(),
                    radius: "1".parse()?,
                    bound
                }
            );
        }
        for text in [
            "0",
            "21",
            "5.0",
            "+5",
            "-1",
            "99999999999999999999999",
            "five",
            "1e1",
        ] {
            assert_eq!(
                parse(&format!("WHATSAT c 1 {text}")),
                Err(ParseError::BadBound),
                "{text}"
            );
        }
        Ok(())
    }

    #[test]
    fn whatsat_takes_exactly_four_fields() {
        assert_eq!(
            parse("WHATSAT c 10"),
            Err(ParseError::FieldCount {
                command: "WHATSAT",
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            parse("WHATSAT c 10 5 extra"),
            Err(ParseError::FieldCount {
                command: "WHATSAT",
                expected: 4,
                found: 5
            })
        );
    }

    // SPEC section 4: invalid commands.

    #[test]
    fn the_five_spec_invalid_examples_get_their_exact_replies() {
        for (line, error) in [
            (
                "IAMAT Clark +12-118",
                ParseError::FieldCount {
                    command: "IAMAT",
                    expected: 4,
                    found: 3,
                },
            ),
            (
                "IAMAT Clark +12-118 160000 123",
                ParseError::FieldCount {
                    command: "IAMAT",
                    expected: 4,
                    found: 5,
                },
            ),
            (
                "AS Clark +0.25 testuser +12-118 1234",
                ParseError::UnknownCommand,
            ),
            (
                "WHATSAT kiwi.cs.ucla.edu 51 5",
                ParseError::RadiusOutOfRange,
            ),
            ("WHATSAT kiwi.cs.ucla.edu 10 21", ParseError::BadBound),
        ] {
            assert_eq!(parse(line), Err(error), "{line}");
            let padded = format!(" \t{line} \x0B\r\n");
            assert_eq!(Command::parse_line(padded.as_bytes()), parse(line));
            assert_eq!(invalid_reply(padded.as_bytes()), format!("? {line}"));
        }
    }

    #[test]
    fn parse_errors_say_which_rule_was_broken() {
        let error = ParseError::FieldCount {
            command: "IAMAT",
            expected: 4,
            found: 3,
        };
        assert_eq!(error.to_string(), "IAMAT takes exactly 4 fields, found 3");
        assert_eq!(
            ParseError::RadiusOutOfRange.to_string(),
            "radius must satisfy 0 < r <= 50 km"
        );
        assert_eq!(ParseError::NotUtf8.to_string(), "line is not valid UTF-8");
    }

    // SPEC section 5: records between peers.

    #[test]
    fn a_peer_at_line_parses_into_a_record_that_prints_back_verbatim() -> TestResult {
        let line =
            "AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
        let record = at(line)?;
        assert_eq!(record.origin, "Clark");
        assert_eq!(record.time_diff.nanos(), 263_873_386);
        assert_eq!(record.to_string(), line);
        Ok(())
    }

    #[test]
    fn a_peer_time_diff_is_echoed_as_received_not_reformatted() -> TestResult {
        let record = at("AT Bona -0.5 c +1+2 1")?;
        assert_eq!(
            (record.time_diff.as_str(), record.time_diff.nanos()),
            ("-0.5", -500_000_000)
        );
        assert_eq!(record.to_string(), "AT Bona -0.5 c +1+2 1");
        Ok(())
    }

    #[test]
    fn extra_trailing_fields_on_an_at_line_are_ignored() -> TestResult {
        let record = at("AT Clark +0.1 c +1+2 1.5 Bona Campbell\tJaquez")?;
        assert_eq!(record.to_string(), "AT Clark +0.1 c +1+2 1.5");
        Ok(())
    }

    #[test]
    fn an_at_line_needs_six_fields_and_valid_values() {
        assert_eq!(
            parse("AT Clark +0.1 c +1+2"),
            Err(ParseError::TooFewFields {
                command: "AT",
                at_least: 6,
                found: 5
            })
        );
        assert_eq!(parse("AT Clark 0.1 c +1+2 1"), Err(ParseError::BadTimeDiff));
        assert_eq!(
            parse("AT Clark +0.1 c +1+200 1"),
            Err(ParseError::LongitudeOutOfRange)
        );
        assert_eq!(
            parse("AT Clark +0.1 c +1+2 -1"),
            Err(ParseError::BadTimestamp)
        );
    }

    #[test]
    fn time_diffs_need_a_sign_and_at_most_nine_fraction_digits() -> TestResult {
        for (text, nanos) in [
            ("+0.263873386", 263_873_386),
            ("-0", 0),
            ("+12", 12_000_000_000),
            ("-1.000000001", -1_000_000_001),
        ] {
            let diff: TimeDiff = text.parse()?;
            assert_eq!((diff.nanos(), diff.to_string().as_str()), (nanos, text));
        }
        for text in [
            "",
            "0.5",
            "+.5",
            "+5.",
            "+1.0000000001",
            "+1e3",
            "+-1",
            "--1",
            "+",
            "+ 1",
            &format!("+{}", "9".repeat(40)),
        ] {
            assert_eq!(
                text.parse::<TimeDiff>(),
                Err(ParseError::BadTimeDiff),
                "{text:?}"
            );
        }
        Ok(())
    }

    // Link extensions.

    #[test]
    fn peer_ping_and_pong_take_exactly_one_argument() -> TestResult {
        assert_eq!(
            parse("PEER Bona")?,
            Command::Peer {
                name: "Bona".into()
            }
        );
        assert_eq!(parse("PING 42")?, Command::Ping(42));
        assert_eq!(parse("PONG 18446744073709551615")?, Command::Pong(u64::MAX));
        assert_eq!(
            parse("PEER"),
            Err(ParseError::FieldCount {
                command: "PEER",
                expected: 2,
                found: 1
            })
        );
        assert_eq!(
            parse("PEER a b"),
            Err(ParseError::FieldCount {
                command: "PEER",
                expected: 2,
                found: 3
            })
        );
        assert_eq!(
            parse("PING"),
            Err(ParseError::FieldCount {
                command: "PING",
                expected: 2,
                found: 1
            })
        );
        assert_eq!(
            parse("PONG 1 2"),
            Err(ParseError::FieldCount {
                command: "PONG",
                expected: 2,
                found: 3
            })
        );
        for n in ["18446744073709551616", "-1", "+1", "1.0", "x"] {
            assert_eq!(
                parse(&format!("PING {n}")),
                Err(ParseError::BadNumber),
                "{n}"
            );
        }
        Ok(())
    }

    #[test]
    fn every_command_prints_canonically_and_parses_back() -> TestResult {
        for (line, canonical) in [
            (
                "IAMAT kiwi +34.068930-118.445127 1621464827.959498503",
                None,
            ),
            ("WHATSAT kiwi 0.50 05", Some("WHATSAT kiwi 0.50 5")),
            (
                "AT Clark +0.1 c +1+2 1.5 extra",
                Some("AT Clark +0.1 c +1+2 1.5"),
            ),
            ("PEER Bona", None),
            ("PING 007", Some("PING 7")),
            ("PONG 0", None),
        ] {
            let command = parse(line)?;
            let printed = command.to_string();
            assert_eq!(printed, canonical.unwrap_or(line));
            assert_eq!(parse(&printed)?, command);
        }
        Ok(())
    }

    #[test]
    fn wire_values_serialize_as_their_text_and_refuse_invalid_text() -> TestResult {
        let record = at("AT Clark +0.1 c +34.068930-118.445127 1.50")?;
        let value = serde_json::to_value(&record)?;
        assert_eq!(value["location"], "+34.068930-118.445127");
        assert_eq!(value["timestamp"], "1.50");
        assert_eq!(serde_json::from_value::<Record>(value.clone())?, record);
        let mut bad = value;
        bad["location"] = "+91+0".into();
        assert!(serde_json::from_value::<Record>(bad).is_err());
        Ok(())
    }

    // Property tests.

    fn digits(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::char::range('0', '9'), range)
            .prop_map(String::from_iter)
    }

    fn sign() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("+"), Just("-")]
    }

    /// A coordinate valid for `limit` degrees: below the limit with any fraction, or the limit
    /// itself with an all-zero fraction.
    fn coordinate_text(limit: u32) -> impl Strategy<Value = String> {
        let frac = proptest::option::of(digits(1..=12));
        let below = (sign(), 0..limit, frac).prop_map(|(s, int, frac)| match frac {
            Some(f) => format!("{s}{int}.{f}"),
            None => format!("{s}{int}"),
        });
        let at_limit = (sign(), 0_usize..4).prop_map(move |(s, zeros)| match zeros {
            0 => format!("{s}{limit}"),
            n => format!("{s}{limit}.{}", "0".repeat(n)),
        });
        prop_oneof![4 => below, 1 => at_limit]
    }

    fn fraction(max: usize) -> impl Strategy<Value = String> {
        proptest::option::of(digits(1..=max))
            .prop_map(|f| f.map(|f| format!(".{f}")).unwrap_or_default())
    }

    fn timestamp_text() -> impl Strategy<Value = String> {
        (any::<u64>(), fraction(9)).prop_map(|(secs, frac)| format!("{secs}{frac}"))
    }

    fn radius_text() -> impl Strategy<Value = String> {
        prop_oneof![
            (1_u32..50, fraction(6)).prop_map(|(int, frac)| format!("{int}{frac}")),
            digits(1..=6)
                .prop_filter("positive", |f| !is_all_zeros(f))
                .prop_map(|f| format!("0.{f}")),
            Just("50".to_owned()),
            Just("50.00".to_owned()),
        ]
    }

    /// Client ids and server names: non-white-space runs, including non-ASCII characters.
    fn word() -> impl Strategy<Value = String> {
        "[!-~\u{A0}é漢😀]{1,16}"
    }

    fn location_text() -> impl Strategy<Value = String> {
        (coordinate_text(90), coordinate_text(180)).prop_map(|(lat, lng)| format!("{lat}{lng}"))
    }

    fn command_text() -> impl Strategy<Value = String> {
        let time_diff = (sign(), any::<u32>(), fraction(9))
            .prop_map(|(s, int, frac)| format!("{s}{int}{frac}"));
        prop_oneof![
            (word(), location_text(), timestamp_text())
                .prop_map(|(c, l, t)| format!("IAMAT {c} {l} {t}")),
            (word(), radius_text(), 1_usize..=20)
                .prop_map(|(c, r, b)| format!("WHATSAT {c} {r} {b}")),
            (word(), time_diff, word(), location_text(), timestamp_text())
                .prop_map(|(o, d, c, l, t)| format!("AT {o} {d} {c} {l} {t}")),
            word().prop_map(|n| format!("PEER {n}")),
            any::<u64>().prop_map(|n| format!("PING {n}")),
            any::<u64>().prop_map(|n| format!("PONG {n}")),
        ]
    }

    proptest! {
        #[test]
        fn valid_commands_print_verbatim_and_parse_back(line in command_text()) {
            let command = parse(&line)?;
            prop_assert_eq!(command.to_string(), line);
            prop_assert_eq!(parse(&command.to_string())?, command);
        }

        #[test]
        fn any_white_space_between_fields_parses_the_same(
            line in command_text(),
            spaces in proptest::collection::vec("[ \t\r\n\x0B\x0C]{1,3}", 8),
        ) {
            let mut spaced = spaces.first().cloned().unwrap_or_default();
            for (field, space) in line.split(' ').zip(spaces.iter().cycle().skip(1)) {
                spaced.push_str(field);
                spaced.push_str(space);
            }
            prop_assert_eq!(parse(&spaced)?, parse(&line)?);
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(
            line in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let _ = Command::parse_line(&line);
            let reply = invalid_reply(&line);
            prop_assert!(reply.starts_with("? "));
        }

        #[test]
        fn parsing_near_miss_lines_never_panics(
            tokens in proptest::collection::vec(
                prop_oneof![
                    Just("IAMAT"), Just("WHATSAT"), Just("AT"), Just("PING"), Just("+"), Just("-"),
                    Just("."), Just("9"), Just("0"), Just("90"), Just("180"), Just("50"), Just(" "),
                    Just("\x0B"), Just("é"), Just("e"), Just("99999999999999999999"),
                ],
                0..24,
            )
        ) {
            let line = tokens.concat();
            if let Ok(command) = parse(&line) {
                prop_assert_eq!(parse(&command.to_string())?, command);
            }
        }

        #[test]
        fn time_diff_matches_an_independent_decimal_rendering(
            received in any::<i64>(),
            secs in 0_u64..=u64::from(u32::MAX) * 2,
            frac in fraction(9),
        ) {
            let timestamp: Timestamp = format!("{secs}{frac}").parse()?;
            let diff = TimeDiff::between(i128::from(received), &timestamp);
            let expected = i128::from(received) - timestamp.nanos();
            let digits = format!("{:010}", expected.unsigned_abs());
            let (whole, nanos) = digits.split_at(digits.len() - 9);
            let sign = if expected < 0 { "-" } else { "+" };
            prop_assert_eq!(diff.as_str(), format!("{sign}{whole}.{nanos}"));
            prop_assert_eq!(diff.nanos(), expected);
            prop_assert_eq!(diff.as_str().parse::<TimeDiff>()?, diff);
        }

        #[test]
        fn latitude_range_check_agrees_with_integer_micro_degrees(
            int in 0_u32..200,
            micros in 0_u32..1_000_000,
        ) {
            let text = format!("-{int}.{micros:06}+0");
            let inside = u64::from(int) * 1_000_000 + u64::from(micros) <= 90_000_000;
            prop_assert_eq!(text.parse::<Location>().is_ok(), inside);
        }

        #[test]
        fn radius_metres_agree_with_integer_micro_km(int in 0_u32..50, micros in 1_u32..1_000_000) {
            let radius: Radius = format!("{int}.{micros:06}").parse()?;
            let millimetres = u64::from(int) * 1_000_000 + u64::from(micros);
            let expected = format!("{}.{:03}", millimetres / 1000, millimetres % 1000);
            let expected = expected.trim_end_matches('0').trim_end_matches('.');
            prop_assert_eq!(radius.metres_text(), expected);
        }
    }
}
