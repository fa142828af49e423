//! The trace events the server emits, as one typed vocabulary: the log is the trace.
//!
//! Each [`Event`] variant is one event with its fields and their types, defined here and
//! nowhere else. [`Event::emit`] sends it through `tracing` as one field ([`JSON_FIELD`])
//! holding the event's JSON, inside the `server{name}` span. The production binary writes that
//! JSON into its per-server log file ([`log_line`]); the simulation's recorder reads it back
//! with the same `Deserialize`. So a field renamed here changes writer and both readers
//! together, and an event that cannot be read is an error, never a silently missing field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::line::WriteFailed;
use crate::protocol::Record;
use crate::store::Outcome;

/// The `tracing` field that carries an event's JSON.
pub const JSON_FIELD: &str = "json";

/// One thing a server did that a checker, a metric or a diagram reads.
///
/// Serialized with the event name in an `event` key and the fields beside it (a record's five
/// fields appear flat: `origin`, `time_diff`, `client`, `location`, `timestamp`), which is also
/// the shape of a log-file line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The listener is bound.
    Listening { addr: String },
    /// A client (or classic peer) connection was accepted; `conn` counts per server.
    ConnectionOpened { conn: u64, remote: String },
    /// A connection ended.
    ConnectionClosed { conn: u64, reason: ConnectionEnd },
    /// A connection was refused because `connections_max` client connections (and
    /// `peer_links_max` links) were open. Logged at most once a second: `suppressed` counts
    /// the refusals since the last one logged.
    ConnectionRefused { remote: String, suppressed: u64 },
    /// One input line from a client connection (lossy UTF-8, at most 256 bytes).
    ClientLine { conn: u64, line: String },
    /// One reply: its first line, and the whole reply's size.
    Reply { conn: u64, line: String, bytes: u64 },
    /// A record was offered to the store.
    RecordStored {
        #[serde(flatten)]
        record: Record,
        outcome: Outcome,
        source: Source,
    },
    /// A record was queued to a neighbour by the flooding rule. The whole record, so one
    /// update is told from another even when a client sends two with one timestamp.
    FloodSent {
        peer: String,
        #[serde(flatten)]
        record: Record,
    },
    /// An outbound link came up and will first send what the neighbour lacks: `records` of
    /// them; `full` when the neighbour holds nothing of this server's life, so the whole
    /// table (less what it sent us) goes.
    Reconcile {
        peer: String,
        records: u64,
        full: bool,
    },
    /// A line a neighbour (`peer`) or a classic peer on a plain connection (`conn`) sent was
    /// refused; `line` is at most 256 bytes.
    LineRefused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conn: Option<u64>,
        reason: LineRefusal,
        line: String,
    },
    /// An incoming link's handshake failed; the connection goes on as a plain one.
    LinkRefused {
        conn: u64,
        peer: String,
        reason: LinkRefusal,
        line: String,
    },
    /// A neighbour answered our `PEER` with `? PEER`: it speaks the classic dialect, so the
    /// link probably needs `classic: true` in the herd file.
    PeerSpeaksClassic { peer: String },
    /// A neighbour refused our proof: the two servers do not share the herd's secret.
    PeerAuthRefused { peer: String },
    /// At start, when no secret is configured and some link is persistent: links are
    /// unauthenticated.
    LinksUnauthenticated,
    /// A link to a neighbour came up.
    PeerUp { peer: String, direction: Direction },
    /// A link to a neighbour went down.
    PeerDown {
        peer: String,
        direction: Direction,
        reason: LinkEnd,
    },
    /// Dialling a neighbour failed; the next try waits `retry_ms`. On a classic link the
    /// record that was lost with it is named by `client`.
    PeerConnectFailed {
        peer: String,
        error: String,
        retry_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// A WHATSAT for an unknown client waited for the record to arrive.
    WhatsatWait { client: String, found: bool },
    /// A request to Places (`api`: `legacy`, `new` or `offline`).
    PlacesRequest {
        api: String,
        radius_m: String,
        bound: u64,
    },
    /// A usable Places answer; `bytes` is the laid-out JSON's length.
    PlacesResponse {
        status: String,
        results: u64,
        bytes: u64,
    },
    /// Places failed; the client still gets the AT line and an error JSON.
    PlacesError { kind: String, detail: String },
    /// A WHATSAT's search made no upstream call of its own (`how`: `cached`, `merged` with an
    /// identical call in flight, or `over_rate`: the call rate bound was spent).
    PlacesSpared { how: String },
    /// The server is stopping.
    Shutdown { reason: String },
    /// On a graceful stop, one per record still held, so the final table is in the log (and
    /// the simulation can compare the real table with the one its trace implies).
    TableRecord {
        #[serde(flatten)]
        record: Record,
    },
}

impl Event {
    /// The event's name, as in the `event` key of its JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Listening { .. } => "listening",
            Event::ConnectionOpened { .. } => "connection_opened",
            Event::ConnectionClosed { .. } => "connection_closed",
            Event::ConnectionRefused { .. } => "connection_refused",
            Event::ClientLine { .. } => "client_line",
            Event::Reply { .. } => "reply",
            Event::RecordStored { .. } => "record_stored",
            Event::FloodSent { .. } => "flood_sent",
            Event::Reconcile { .. } => "reconcile",
            Event::LineRefused { .. } => "line_refused",
            Event::LinkRefused { .. } => "link_refused",
            Event::PeerSpeaksClassic { .. } => "peer_speaks_classic",
            Event::PeerAuthRefused { .. } => "peer_auth_refused",
            Event::LinksUnauthenticated => "links_unauthenticated",
            Event::PeerUp { .. } => "peer_up",
            Event::PeerDown { .. } => "peer_down",
            Event::PeerConnectFailed { .. } => "peer_connect_failed",
            Event::WhatsatWait { .. } => "whatsat_wait",
            Event::PlacesRequest { .. } => "places_request",
            Event::PlacesResponse { .. } => "places_response",
            Event::PlacesError { .. } => "places_error",
            Event::PlacesSpared { .. } => "places_spared",
            Event::Shutdown { .. } => "shutdown",
            Event::TableRecord { .. } => "table_record",
        }
    }

    /// Warnings are what an operator should look at; the rest is the ordinary trace.
    fn is_warning(&self) -> bool {
        matches!(
            self,
            Event::ConnectionRefused { .. }
                | Event::LineRefused { .. }
                | Event::LinkRefused { .. }
                | Event::PeerSpeaksClassic { .. }
                | Event::PeerAuthRefused { .. }
                | Event::LinksUnauthenticated
                | Event::PlacesError { .. }
        )
    }

    /// Emits the event through `tracing` (INFO, or WARN for warnings). The JSON is made only
    /// when a layer records the field, so a filtered-out event costs nothing.
    pub fn emit(&self) {
        if self.is_warning() {
            tracing::warn!(json = %Json(self), "{}", self.name());
        } else {
            tracing::info!(json = %Json(self), "{}", self.name());
        }
    }

    /// Emits [`Event::FloodSent`] for a record held as its AT line's five fields, without
    /// unpacking them into a [`Record`]: a link sends every change to every neighbour, and
    /// re-parsing each one cost as much as receiving it. The JSON is exactly what `emit`
    /// writes for the record the fields parse to (the fields are echoed verbatim either way).
    pub fn emit_flood_sent(peer: &str, fields: &str) {
        tracing::info!(json = %FloodSentJson { peer, fields }, "flood_sent");
    }

    /// Emits the event at DEBUG: detail (e.g. the retries after a first failed dial) that
    /// neither the log file nor the simulation's trace keeps by default.
    pub fn emit_detail(&self) {
        tracing::debug!(json = %Json(self), "{}", self.name());
    }
}

/// Writes an event as its JSON when formatted.
struct Json<'a>(&'a Event);

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_buffered(f, |json| self.0.write_json(json))
    }
}

/// Lays JSON out with `write` into this thread's buffer, then hands it to `f` in one piece
/// (writing each small piece to `f` costs more).
fn write_buffered(
    f: &mut fmt::Formatter<'_>,
    write: impl FnOnce(&mut String) -> serde_json::Result<()>,
) -> fmt::Result {
    JSON_BUFFER.with(|buffer| {
        let mut fresh = String::new();
        let mut borrowed = buffer.try_borrow_mut();
        let json = borrowed.as_deref_mut().unwrap_or(&mut fresh);
        json.clear();
        write(json).map_err(|_| fmt::Error)?;
        f.write_str(json)
    })
}

/// [`Event::emit_flood_sent`]'s JSON, written when formatted.
struct FloodSentJson<'a> {
    peer: &'a str,
    fields: &'a str,
}

impl fmt::Display for FloodSentJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_buffered(f, |json| write_flood_sent(json, self.peer, self.fields))
    }
}

/// `flood_sent`'s JSON for `peer` and a record's five fields as its AT line has them.
fn write_flood_sent(out: &mut String, peer: &str, fields: &str) -> serde_json::Result<()> {
    let mut split = fields.split(' ');
    let mut next = || split.next().unwrap_or_default();
    out.push_str(r#"{"event":"flood_sent","peer":"#);
    push_string(out, peer)?;
    out.push(',');
    push_fields(out, [next(), next(), next(), next(), next()])?;
    out.push('}');
    Ok(())
}

thread_local! {
    /// [`Json`]'s buffer: it grows to the longest event this thread wrote.
    static JSON_BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl Event {
    /// Appends the event's JSON to `out`: byte for byte what `serde_json` writes for it.
    ///
    /// The events written once per record and hop (a line, a reply, a stored or flooded
    /// record) are laid out here by hand: their keys are fixed text, and a value that needs
    /// no escaping is copied as it is. Through `serde_json` they cost a sixth of the whole
    /// herd's instructions, most of it escaping keys. Every other event goes through
    /// `serde_json`.
    pub fn write_json(&self, out: &mut String) -> serde_json::Result<()> {
        match self {
            Event::ClientLine { conn, line } => {
                out.push_str(r#"{"event":"client_line","conn":"#);
                push_number(out, *conn);
                out.push_str(r#","line":"#);
                push_string(out, line)?;
            }
            Event::Reply { conn, line, bytes } => {
                out.push_str(r#"{"event":"reply","conn":"#);
                push_number(out, *conn);
                out.push_str(r#","line":"#);
                push_string(out, line)?;
                out.push_str(r#","bytes":"#);
                push_number(out, *bytes);
            }
            Event::RecordStored {
                record,
                outcome,
                source,
            } => {
                out.push_str(r#"{"event":"record_stored","#);
                push_fields(out, record.fields())?;
                out.push_str(r#","outcome":""#);
                out.push_str(outcome.as_str());
                out.push_str(r#"","source":"#);
                match source {
                    Source::Client => out.push_str(r#""client""#),
                    Source::Classic => out.push_str(r#""classic""#),
                    Source::Peer(name) => {
                        // Written `peer:NAME`: the name is the only part that may need escaping.
                        out.push_str(r#""peer:"#);
                        push_string_contents(out, name)?;
                        out.push('"');
                    }
                }
            }
            Event::FloodSent { peer, record } => {
                out.push_str(r#"{"event":"flood_sent","peer":"#);
                push_string(out, peer)?;
                out.push(',');
                push_fields(out, record.fields())?;
            }
            Event::TableRecord { record } => {
                out.push_str(r#"{"event":"table_record","#);
                push_fields(out, record.fields())?;
            }
            other => {
                out.push_str(&serde_json::to_string(other)?);
                return Ok(());
            }
        }
        out.push('}');
        Ok(())
    }
}

/// The five fields of a record in its AT line's order: origin, time difference, client,
/// location, timestamp. The three numbers are text their parsers accepted (digits, signs and
/// a dot), which JSON never escapes; only the two names are checked.
fn push_fields(out: &mut String, fields: [&str; 5]) -> serde_json::Result<()> {
    let [origin, time_diff, client, location, timestamp] = fields;
    out.push_str(r#""origin":"#);
    push_string(out, origin)?;
    out.push_str(r#","time_diff":""#);
    push_number_text(out, time_diff);
    out.push_str(r#"","client":"#);
    push_string(out, client)?;
    out.push_str(r#","location":""#);
    push_number_text(out, location);
    out.push_str(r#"","timestamp":""#);
    push_number_text(out, timestamp);
    out.push('"');
    Ok(())
}

/// A parsed number's text, between quotes the caller wrote: as it is (the tests and the
/// simulation, built with debug assertions, check that it needs no escaping).
fn push_number_text(out: &mut String, text: &str) {
    debug_assert!(
        !needs_escape(text.as_bytes()),
        "{text:?} is not a number's text"
    );
    out.push_str(text);
}

/// A JSON string, between quotes.
fn push_string(out: &mut String, text: &str) -> serde_json::Result<()> {
    out.push('"');
    push_string_contents(out, text)?;
    out.push('"');
    Ok(())
}

/// A JSON string's contents: copied when nothing in it needs escaping (the usual case, checked
/// a whole slice at a time), else escaped by `serde_json` itself.
fn push_string_contents(out: &mut String, text: &str) -> serde_json::Result<()> {
    if !needs_escape(text.as_bytes()) {
        out.push_str(text);
    } else {
        let quoted = serde_json::to_string(text)?;
        out.push_str(&quoted[1..quoted.len() - 1]);
    }
    Ok(())
}

/// Whether JSON needs `bytes` escaped: a control character, `"` or `\\` in it. Eight bytes
/// at a time (the usual SWAR tests for a zero byte and for a byte below a bound), since this
/// runs over every text field of every log line.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let has_below_space = |word: u64| word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    let word_needs_escape = |eight: [u8; 8]| {
        let word = u64::from_ne_bytes(eight);
        has_below_space(word)
            || has_zero(word ^ (ONES * u64::from(b'"')))
            || has_zero(word ^ (ONES * u64::from(b'\\')))
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        // Always eight bytes; zeros (which need escaping) if it ever were not.
        if word_needs_escape(<[u8; 8]>::try_from(chunk).unwrap_or([0; 8])) {
            return true;
        }
    }
    let rest = chunks.remainder();
    // The last few bytes, padded with a byte that needs no escaping.
    let mut eight = [b'a'; 8];
    eight[..rest.len()].copy_from_slice(rest);
    !rest.is_empty() && word_needs_escape(eight)
}

fn push_number(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// Where a record came from; decides which neighbour the flood skips. Written `client`,
/// `peer:NAME` or `classic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An IAMAT from a client of this server.
    Client,
    /// A neighbour on a persistent link: the flood skips it.
    Peer(String),
    /// An AT line on a plain connection (a classic peer): the sender is unknown.
    Classic,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Client => f.write_str("client"),
            Source::Peer(name) => write!(f, "peer:{name}"),
            Source::Classic => f.write_str("classic"),
        }
    }
}

impl FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "client" => Ok(Source::Client),
            "classic" => Ok(Source::Classic),
            _ => match s.strip_prefix("peer:") {
                Some(name) if !name.is_empty() => Ok(Source::Peer(name.to_string())),
                _ => Err(format!("unknown record source `{s}`")),
            },
        }
    }
}

/// Which end of a link an event speaks for: the one this server dialled, or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

/// Why a client connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// The client closed its side and every reply owed went out.
    ClosedByClient,
    /// No input for `client_idle_timeout`.
    IdleTimeout,
    /// The server is stopping.
    Shutdown,
    /// The connection was a neighbour's link (it said `PEER name`) and the link ended.
    LinkEnded(String),
    /// Every client slot was taken and the connection did not become a link.
    NoClientSlot,
    /// It held only a link slot and its link's handshake was refused.
    LinkWithoutProof,
    /// The neighbour said `PEER` and then nothing within `heartbeat_timeout`.
    HandshakeTimedOut,
    /// The neighbour closed the connection during the handshake.
    ClosedDuringHandshake,
    /// A reply was not written within `client_write_timeout`.
    WriteTimedOut,
    /// Reading or writing failed; the transport's own words.
    Io(String),
}

impl fmt::Display for ConnectionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionEnd::ClosedByClient => f.write_str("closed by client"),
            ConnectionEnd::IdleTimeout => f.write_str("idle timeout"),
            ConnectionEnd::Shutdown => f.write_str("shutdown"),
            ConnectionEnd::LinkEnded(peer) => write!(f, "link from {peer} ended"),
            ConnectionEnd::NoClientSlot => f.write_str("refused: every client slot is taken"),
            ConnectionEnd::LinkWithoutProof => f.write_str("refused: link without a valid proof"),
            ConnectionEnd::HandshakeTimedOut => f.write_str("handshake timed out"),
            ConnectionEnd::ClosedDuringHandshake => f.write_str("closed during the handshake"),
            ConnectionEnd::WriteTimedOut => f.write_str(WRITE_TIMED_OUT),
            ConnectionEnd::Io(error) => f.write_str(error),
        }
    }
}

impl FromStr for ConnectionEnd {
    type Err = String;

    /// Total: any text that is not one of the fixed reasons is the transport's error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "closed by client" => ConnectionEnd::ClosedByClient,
            "idle timeout" => ConnectionEnd::IdleTimeout,
            "shutdown" => ConnectionEnd::Shutdown,
            "refused: every client slot is taken" => ConnectionEnd::NoClientSlot,
            "refused: link without a valid proof" => ConnectionEnd::LinkWithoutProof,
            "handshake timed out" => ConnectionEnd::HandshakeTimedOut,
            "closed during the handshake" => ConnectionEnd::ClosedDuringHandshake,
            WRITE_TIMED_OUT => ConnectionEnd::WriteTimedOut,
            _ => match s
                .strip_prefix("link from ")
                .and_then(|rest| rest.strip_suffix(" ended"))
            {
                Some(peer) => ConnectionEnd::LinkEnded(peer.to_string()),
                None => ConnectionEnd::Io(s.to_string()),
            },
        })
    }
}

impl From<WriteFailed> for ConnectionEnd {
    fn from(failed: WriteFailed) -> Self {
        match failed {
            WriteFailed::TimedOut => ConnectionEnd::WriteTimedOut,
            WriteFailed::Io(error) => ConnectionEnd::Io(error),
        }
    }
}

/// How a failed bounded write is told.
const WRITE_TIMED_OUT: &str = "write timed out";

/// Why a link to a neighbour went down (or never came up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEnd {
    /// This server is stopping.
    Shutdown,
    /// The table's change sequence closed: the server is going away.
    ServerStopping,
    /// Nothing heard for `heartbeat_timeout`.
    HeartbeatTimeout,
    /// The neighbour closed the connection.
    ClosedByPeer,
    /// A write did not finish within `heartbeat_timeout`.
    WriteTimedOut,
    /// A classic link's connection could not be made in time.
    ConnectTimedOut,
    /// The neighbour did not answer a handshake line within `heartbeat_timeout`.
    HandshakeTimedOut,
    /// The neighbour closed the connection during the handshake.
    ClosedDuringHandshake,
    /// The neighbour answered `? PEER`: it speaks the classic dialect.
    SpeaksClassic,
    /// The neighbour refused our proof: the herd secret differs.
    AuthRefused,
    /// The neighbour's handshake line was not the one expected; what it was.
    Handshake(String),
    /// Reading, writing or dialling failed; the transport's own words.
    Io(String),
}

impl fmt::Display for LinkEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkEnd::Shutdown => "shutdown",
            LinkEnd::ServerStopping => "server stopping",
            LinkEnd::HeartbeatTimeout => "heartbeat timeout",
            LinkEnd::ClosedByPeer => "closed by peer",
            LinkEnd::WriteTimedOut => WRITE_TIMED_OUT,
            LinkEnd::ConnectTimedOut => "connect timed out",
            LinkEnd::HandshakeTimedOut => "handshake timed out",
            LinkEnd::ClosedDuringHandshake => "closed by peer during the handshake",
            LinkEnd::SpeaksClassic => {
                "neighbour answered ? PEER: it speaks the classic dialect (classic: true?)"
            }
            LinkEnd::AuthRefused => "neighbour refused our proof: the herd secret differs",
            LinkEnd::Handshake(what) => return write!(f, "{HANDSHAKE_PREFIX}{what}"),
            LinkEnd::Io(error) => error,
        })
    }
}

/// How [`LinkEnd::Handshake`] is told.
const HANDSHAKE_PREFIX: &str = "handshake: ";

impl FromStr for LinkEnd {
    type Err = String;

    /// Total: any text that is not one of the fixed reasons is the transport's error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fixed = [
            LinkEnd::Shutdown,
            LinkEnd::ServerStopping,
            LinkEnd::HeartbeatTimeout,
            LinkEnd::ClosedByPeer,
            LinkEnd::WriteTimedOut,
            LinkEnd::ConnectTimedOut,
            LinkEnd::HandshakeTimedOut,
            LinkEnd::ClosedDuringHandshake,
            LinkEnd::SpeaksClassic,
            LinkEnd::AuthRefused,
        ];
        if let Some(end) = fixed.into_iter().find(|end| end.to_string() == s) {
            return Ok(end);
        }
        Ok(match s.strip_prefix(HANDSHAKE_PREFIX) {
            Some(what) => LinkEnd::Handshake(what.to_string()),
            None => LinkEnd::Io(s.to_string()),
        })
    }
}

impl From<WriteFailed> for LinkEnd {
    fn from(failed: WriteFailed) -> Self {
        match failed {
            WriteFailed::TimedOut => LinkEnd::WriteTimedOut,
            WriteFailed::Io(error) => LinkEnd::Io(error),
        }
    }
}

/// Why a line from a neighbour or a classic peer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRefusal {
    /// Longer than `line_bytes_max`.
    TooLong,
    /// Its timestamp is further ahead of our clock than `timestamp_ahead_max`.
    TooFarAhead,
    /// Its client id is longer than `client_id_bytes_max`.
    IdTooLong,
    /// A valid command, but not one a link carries.
    NotALinkLine,
    /// A classic peer's record whose origin is not a server of the herd.
    UnknownOrigin,
    /// It does not parse; the parser's words.
    Invalid(String),
}

impl fmt::Display for LineRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineRefusal::TooLong => "line over line_bytes_max",
            LineRefusal::TooFarAhead => "timestamp too far ahead of our clock",
            LineRefusal::IdTooLong => "client id longer than client_id_bytes_max",
            LineRefusal::NotALinkLine => "not a link line",
            LineRefusal::UnknownOrigin => "origin is not a server of the herd",
            LineRefusal::Invalid(error) => error,
        })
    }
}

impl FromStr for LineRefusal {
    type Err = String;

    /// Total: any text that is not one of the fixed reasons is the parser's error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fixed = [
            LineRefusal::TooLong,
            LineRefusal::TooFarAhead,
            LineRefusal::IdTooLong,
            LineRefusal::NotALinkLine,
            LineRefusal::UnknownOrigin,
        ];
        Ok(fixed
            .into_iter()
            .find(|refusal| refusal.to_string() == s)
            .unwrap_or_else(|| LineRefusal::Invalid(s.to_string())))
    }
}

/// Why an incoming link's handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkRefusal {
    /// The `AUTH` line was missing, malformed or did not prove the herd secret.
    #[serde(rename = "no valid proof of the herd secret")]
    NoValidProof,
}

/// Text values: the log and the trace show the words, and the reader maps them back.
macro_rules! as_text {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
as_text!(Source, ConnectionEnd, LinkEnd, LineRefusal);

/// One line of a server's log file, read back: when (the writer's wall clock, RFC 3339),
/// at what level, which server, and the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub ts: String,
    pub level: String,
    pub server: String,
    #[serde(flatten)]
    pub event: Event,
}

/// The log-file line for an event whose JSON is `json` (as [`Event::emit`] wrote it), without
/// the final newline: `{"ts":..,"level":..,"server":..,"event":..,fields..}`. The event's
/// JSON is spliced in as it is, not re-encoded.
pub fn log_line(ts: &str, level: &str, server: &str, json: &str) -> Option<String> {
    let mut out = String::with_capacity(64 + server.len() + json.len());
    write_log_line(&mut out, ts, level, server, json)?;
    Some(out)
}

/// Appends [`log_line`]'s line to `out`, without a map or a copy of the event's JSON beyond
/// the one into `out`: the binary writes every event this way, into a buffer it reuses.
/// `None` (and `out` unchanged) when `json` is not an object.
pub fn write_log_line(
    out: &mut String,
    ts: &str,
    level: &str,
    server: &str,
    json: &str,
) -> Option<()> {
    let fields = json.strip_prefix('{')?;
    let start = out.len();
    let mut head = || -> serde_json::Result<()> {
        out.push_str(r#"{"ts":"#);
        push_string(out, ts)?;
        out.push_str(r#","level":"#);
        push_string(out, level)?;
        out.push_str(r#","server":"#);
        push_string(out, server)
    };
    if head().is_err() {
        out.truncate(start);
        return None;
    }
    out.push(',');
    out.push_str(fields);
    Some(())
}

/// Why a log line could not be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct ReadError {
    /// 1-based line number in the file.
    pub line: usize,
    pub source: serde_json::Error,
}

/// Reads one log line. Lines without an `event` key are the server's free-form diagnostics
/// (e.g. a failed `accept`) and are not part of the trace: `Ok(None)`.
pub fn read_log_line(line: &str) -> Result<Option<LogLine>, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    if value.get("event").is_none() {
        return Ok(None);
    }
    serde_json::from_value(value).map(Some)
}

/// Reads a whole log file; the first line that fails to read is an error with its number.
/// Blank lines (a file cut while writing ends in one) are skipped.
pub fn read_log(text: &str) -> Result<Vec<LogLine>, ReadError> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match read_log_line(line) {
            Ok(Some(read)) => out.push(read),
            Ok(None) => {}
            Err(source) => {
                return Err(ReadError {
                    line: index + 1,
                    source,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Command;
    use proptest::prelude::*;

    fn record(origin: &str, client: &str) -> Record {
        let Ok(Command::At(mut record)) = Command::parse_line(
            b"AT Bailey +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
        ) else {
            panic!("the AT line parses");
        };
        record.origin = origin.to_string();
        record.client = client.to_string();
        record
    }

    /// Every event [`Event::write_json`] lays out by hand, with these strings in its text fields.
    fn hand_written(text: &str) -> Vec<Event> {
        let mut events = vec![
            Event::ClientLine {
                conn: 7,
                line: text.to_string(),
            },
            Event::Reply {
                conn: u64::MAX,
                line: text.to_string(),
                bytes: 0,
            },
            Event::FloodSent {
                peer: text.to_string(),
                record: record(text, text),
            },
            Event::TableRecord {
                record: record("Bona", text),
            },
        ];
        for outcome in [
            Outcome::New,
            Outcome::Stale,
            Outcome::Duplicate,
            Outcome::TableFull,
        ] {
            for source in [
                Source::Client,
                Source::Classic,
                Source::Peer(text.to_string()),
            ] {
                events.push(Event::RecordStored {
                    record: record(text, "kiwi"),
                    outcome,
                    source,
                });
            }
        }
        events
    }

    fn assert_same_as_serde(event: &Event) {
        let mut fast = String::new();
        event.write_json(&mut fast).unwrap();
        assert_eq!(fast, serde_json::to_string(event).unwrap());
    }

    #[test]
    fn the_hand_written_json_is_what_serde_json_writes() {
        for text in [
            "",
            "kiwi.cs.ucla.edu",
            "a \"quoted\" back\\slash",
            "tab\tnew\nline\r\u{8}\u{c}\u{1}\u{1f}\u{7f}",
            "ünï©ødé ✓ 𝄞",
        ] {
            for event in hand_written(text) {
                assert_same_as_serde(&event);
            }
        }
        // Any other event goes through serde_json.
        let other = Event::PeerDown {
            peer: "Bona".into(),
            direction: Direction::Outbound,
            reason: LinkEnd::HeartbeatTimeout,
        };
        assert_same_as_serde(&other);
    }

    #[test]
    fn needs_escape_finds_each_byte_to_escape_at_any_place_and_nothing_else() {
        for len in 0..20 {
            let plain = "a".repeat(len);
            assert!(!needs_escape(plain.as_bytes()));
            for at in 0..len {
                for b in 0..=255_u8 {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = b;
                    let expected = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(
                        needs_escape(&bytes),
                        expected,
                        "byte {b:#x} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn flood_sent_from_held_text_is_the_event_s_own_json() {
        for (peer, line) in [
            (
                "Bona",
                "AT Bailey +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
            ),
            (
                "Jaq\"uez",
                "AT Cl\\ark -0.5 émile\u{7f} -0.0+180 0.000000001",
            ),
        ] {
            let Ok(Command::At(record)) = Command::parse_line(line.as_bytes()) else {
                panic!("{line} parses");
            };
            let mut from_text = String::new();
            write_flood_sent(&mut from_text, peer, &line[3..]).unwrap();
            let event = Event::FloodSent {
                peer: peer.to_string(),
                record,
            };
            assert_eq!(from_text, serde_json::to_string(&event).unwrap());
            assert_eq!(
                format!(
                    "{}",
                    FloodSentJson {
                        peer,
                        fields: &line[3..]
                    }
                ),
                from_text
            );
        }
    }

    #[test]
    fn a_log_line_with_text_to_escape_in_its_head_reads_back() {
        let event = Event::Shutdown {
            reason: "Ctrl-C".into(),
        };
        let mut json = String::new();
        event.write_json(&mut json).unwrap();
        let line = log_line("2026-11-26T05:39:38\"Z", "IN\tFO", "Bo\\na", &json).unwrap();
        let read = read_log_line(&line).unwrap().unwrap();
        assert_eq!(read.ts, "2026-11-26T05:39:38\"Z");
        assert_eq!(read.level, "IN\tFO");
        assert_eq!(read.server, "Bo\\na");
        assert_eq!(read.event, event);
    }

    proptest! {
        #[test]
        fn needs_escape_agrees_with_a_byte_by_byte_test(
            bytes in proptest::collection::vec(
                prop_oneof![0x00..0x40_u8, 0x5a..0x60_u8, 0x7f..=0xff_u8, any::<u8>()],
                0..40,
            )
        ) {
            let expected = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(needs_escape(&bytes), expected);
        }

        #[test]
        fn any_text_gives_serde_json_s_bytes(text in any::<String>()) {
            for event in hand_written(&text) {
                assert_same_as_serde(&event);
            }
        }
    }
}
