//! The herd's wire protocol (docs/protocol.md §1-8): one line of bytes <-> [`Command`], the
//! value types inside it, the `? ` reply for anything invalid, and [`Record`]'s total order.
//!
//! Every value keeps the text it was parsed from and prints it back verbatim, because the
//! protocol echoes client and peer text unchanged (`+34.068930` keeps its trailing zero). Numbers
//! are checked exactly, in decimal or integer nanoseconds, never through floating point.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::TableDigest;

mod values;

use values::split_decimal;
pub use values::{Location, Radius, TimeDiff, Timestamp};

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

/// The protocol's white space (docs/protocol.md §1): space, tab, CR, LF, FF, VT (note: VT 0x0B is
/// NOT `char::is_ascii_whitespace`, which is why this exists).
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

/// The `? ` reply for an invalid line: "? " + the line with leading/trailing protocol white space
/// removed, non-UTF-8 bytes replaced lossily. No trailing newline.
pub fn invalid_reply(line: &[u8]) -> String {
    format!("? {}", String::from_utf8_lossy(trim_spec_whitespace(line)))
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

    /// docs/protocol.md §5 order: client timestamp, then origin server name, then location text,
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

/// One line of the protocol: the client commands (docs/protocol.md §2-3), peers' AT records, and
/// this project's link extensions (PEER, PING, PONG).
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
    /// docs/protocol.md §8.5, since classic peers append the servers visited).
    At(Record),
    /// `PEER <name> <epoch>`: the first line a herd neighbour sends on a persistent link, so
    /// the receiver knows which link a record came from; `epoch` names the sender's current
    /// life (it changes on every start), so resume points of an earlier life are never used.
    /// Exactly 3 fields.
    Peer { name: String, epoch: u64 },
    /// `HELLO`: the accepting side's answer to `PEER`: TLS starts next (on a herd that runs
    /// its links without TLS, the `AUTH` line follows at once). It says nothing of the
    /// server's state, so a stranger learns nothing.
    Hello,
    /// `AUTH <head> <epoch>`: the dialler's change head now, sent once the link is up (inside
    /// TLS): its catch-up covers at least that much, so once a `MARK` reaches it, the catch-up
    /// is in; and its epoch again, which the `PEER` line said in clear, where anyone on the
    /// path could alter it: the accepter takes the link only if the two agree.
    Auth { head: u64, epoch: u64 },
    /// `LINKED <epoch> <seq> <digest>`: the accepting side's own epoch and the last change it
    /// holds of the dialler's current epoch (0: none). When `seq` is 0, `digest` is its whole
    /// table's, so the dialler sends only the buckets where its own differs; otherwise `-`,
    /// and the dialler sends what changed after `seq`.
    Linked {
        epoch: u64,
        seq: u64,
        digest: Option<TableDigest>,
    },
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

fn parse_heartbeat(s: &str) -> Result<u64, ParseError> {
    match split_decimal(s) {
        Some((int, None)) => int.parse().map_err(|_| ParseError::BadNumber),
        _ => Err(ParseError::BadNumber),
    }
}

impl Command {
    /// Parses one line (with or without its `\n`): non-UTF-8 is an error, leading and trailing
    /// protocol white space is ignored, fields are split on runs of it, and command
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
            ("HELLO", []) => Ok(Command::Hello),
            ("HELLO", _) => Err(field_count("HELLO", 1, found)),
            ("AUTH", [head, epoch]) => Ok(Command::Auth {
                head: parse_heartbeat(head)?,
                epoch: parse_heartbeat(epoch)?,
            }),
            ("AUTH", _) => Err(field_count("AUTH", 3, found)),
            ("LINKED", [epoch, seq, digest]) => Ok(Command::Linked {
                epoch: parse_heartbeat(epoch)?,
                seq: parse_heartbeat(seq)?,
                digest: match *digest {
                    "-" => None,
                    digest => Some(digest.parse()?),
                },
            }),
            ("LINKED", _) => Err(field_count("LINKED", 4, found)),
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
            Command::Hello => write!(f, "HELLO"),
            Command::Auth { head, epoch } => write!(f, "AUTH {head} {epoch}"),
            Command::Linked { epoch, seq, digest } => match digest {
                Some(digest) => write!(f, "LINKED {epoch} {seq} {digest}"),
                None => write!(f, "LINKED {epoch} {seq} -"),
            },
            Command::Mark(n) => write!(f, "MARK {n}"),
            Command::Ping(n) => write!(f, "PING {n}"),
            Command::Pong(n) => write!(f, "PONG {n}"),
        }
    }
}

#[cfg(test)]
mod tests;
