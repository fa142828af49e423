//! The herd's wire protocol (SPEC sections 1-5): one line of bytes <-> [`Command`], the
//! value types inside it, the `? ` reply for anything invalid, and [`Record`]'s total order.
//!
//! Every value keeps the text it was parsed from and prints it back verbatim, because the
//! SPEC echoes client and peer text unchanged (`+34.068930` keeps its trailing zero). Numbers
//! are checked exactly, in decimal or integer nanoseconds, never through floating point.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::TableDigest;

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
    #[error("{0}")]
    BadDigest(#[from] crate::digest::BadDigest),
}

/// SPEC white space: space, tab, CR, LF, FF, VT (note: VT 0x0B is NOT
/// `char::is_ascii_whitespace`, which is why this exists).
pub fn is_spec_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0B | 0x0C)
}

/// Fields of a line that [`Command::parse_line`] looks at: the longest command (`AT` and its
/// five fields) and one more, so a line with extra fields is still told from one without.
const FIELDS_KEPT: usize = 7;

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
    /// The five fields in the AT line's order (origin, time difference, client, location,
    /// timestamp), as the store packs them and the log writes them.
    pub fn fields(&self) -> [&str; 5] {
        [
            &self.origin,
            self.time_diff.as_str(),
            &self.client,
            self.location.as_str(),
            self.timestamp.as_str(),
        ]
    }

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
    /// `PEER <name> <epoch>`: the first line a herd neighbour sends on a persistent link, so
    /// the receiver knows which link a record came from; `epoch` names the sender's current
    /// life (it changes on every start), so resume points of an earlier life are never used.
    /// Exactly 3 fields.
    Peer { name: String, epoch: u64 },
    /// `HELLO <nonce> <epoch> <seq>`: the accepting side's answer to `PEER`: a fresh
    /// challenge, its own epoch, and the last change it holds of the dialler's current epoch
    /// (0: none, so the dialler compares whole tables, see [`Command::Linked`]).
    Hello { nonce: String, epoch: u64, seq: u64 },
    /// `AUTH <proof> <head>`: the dialler's proof that it knows the herd's secret (`-` without
    /// one), and its change head now: its catch-up covers at least that much, so once a `MARK`
    /// reaches it, the catch-up is in.
    Auth { proof: String, head: u64 },
    /// `LINKED <digest>`: the accepting side took the proof; records may follow. When it
    /// reported `seq` 0, `digest` is its whole table's, so the dialler sends only the buckets
    /// where its own differs; otherwise `-`, and the dialler sends what changed after `seq`.
    Linked { digest: Option<TableDigest> },
    /// `MARK <seq>`: every record of the dialler's up to change `seq` has been sent before
    /// this line; the receiver remembers it as where a reconnect resumes.
    Mark(u64),
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

/// A nonce or proof: `-` or lowercase hex, at most [`TOKEN_CHARS_MAX`] characters.
fn parse_token(s: &str) -> Result<String, ParseError> {
    let hex = s.len() <= TOKEN_CHARS_MAX
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if s == "-" || (hex && !s.is_empty()) {
        Ok(s.to_owned())
    } else {
        Err(ParseError::BadNumber)
    }
}

/// The longest nonce or proof a link handshake line may carry (a SHA-256 in hex is 64).
pub const TOKEN_CHARS_MAX: usize = 128;

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
        // The first FIELDS_KEPT fields, without an allocation; `found` counts them all.
        let mut kept = [""; FIELDS_KEPT];
        let mut found = 0;
        for field in text
            .split(is_spec_whitespace_char)
            .filter(|f| !f.is_empty())
        {
            if let Some(slot) = kept.get_mut(found) {
                *slot = field;
            }
            found += 1;
        }
        let fields = &kept[..found.min(FIELDS_KEPT)];
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
            ("PEER", [name, epoch]) => Ok(Command::Peer {
                name: (*name).to_owned(),
                epoch: parse_heartbeat(epoch)?,
            }),
            ("PEER", _) => Err(field_count("PEER", 3, found)),
            ("HELLO", [nonce, epoch, seq]) => Ok(Command::Hello {
                nonce: parse_token(nonce)?,
                epoch: parse_heartbeat(epoch)?,
                seq: parse_heartbeat(seq)?,
            }),
            ("HELLO", _) => Err(field_count("HELLO", 4, found)),
            ("AUTH", [proof, head]) => Ok(Command::Auth {
                proof: parse_token(proof)?,
                head: parse_heartbeat(head)?,
            }),
            ("AUTH", _) => Err(field_count("AUTH", 3, found)),
            ("LINKED", [digest]) => Ok(Command::Linked {
                digest: match *digest {
                    "-" => None,
                    digest => Some(digest.parse()?),
                },
            }),
            ("LINKED", _) => Err(field_count("LINKED", 2, found)),
            ("MARK", [n]) => Ok(Command::Mark(parse_heartbeat(n)?)),
            ("MARK", _) => Err(field_count("MARK", 2, found)),
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
            Command::Peer { name, epoch } => write!(f, "PEER {name} {epoch}"),
            Command::Hello { nonce, epoch, seq } => write!(f, "HELLO {nonce} {epoch} {seq}"),
            Command::Auth { proof, head } => write!(f, "AUTH {proof} {head}"),
            Command::Linked { digest } => match digest {
                Some(digest) => write!(f, "LINKED {digest}"),
                None => f.write_str("LINKED -"),
            },
            Command::Mark(n) => write!(f, "MARK {n}"),
            Command::Ping(n) => write!(f, "PING {n}"),
            Command::Pong(n) => write!(f, "PONG {n}"),
        }
    }
}

#[cfg(test)]
mod tests;
