//! The trace events the server emits, as one typed vocabulary: the log is the trace.
//!
//! Each [`Event`] variant is one event with its fields and their types, defined here and
//! nowhere else. [`Event::emit`] sends it through `tracing` as one field ([`JSON_FIELD`])
//! holding the event's JSON, inside the `server{name}` span. The production binary writes that
//! JSON into its per-server log file ([`log_line`]); the simulation's recorder reads it back
//! with the same `Deserialize`. So a field renamed here changes writer and both readers
//! together, and an event that cannot be read is an error, never a silently missing field.
//!
//! The event vocabulary is here; the reasons an event gives (`reasons.rs`), the hand-written
//! JSON encoder (`json.rs`) and the log-file lines (`log_file.rs`) each have a file of their
//! own, re-exported here so callers name them all as `events::...`.

mod json;
mod log_file;
mod reasons;

use serde::{Deserialize, Serialize};

use crate::protocol::Record;
use crate::store::Outcome;

use json::{FloodSentJson, Json};
pub use log_file::{
    LogLine, ReadError, log_file_name, log_file_names, log_line, read_log, read_log_line,
    write_log_line,
};
pub use reasons::{
    ConnectionEnd, Direction, LineRefusal, LinkEnd, LinkRefusal, Source, StoreCutKind,
};

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
    /// A neighbour (or whatever answers at its address) did not answer our challenge with a
    /// proof of the herd's secret: an impostor, or the secret differs. Nothing was sent to it.
    PeerAnswerRefused { peer: String },
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
    /// On a graceful stop, as it is asked for: the server's metrics as a scrape shows them
    /// (Prometheus text), so a run's counters can be held to its trace.
    Metrics { text: String },
    /// The server is stopping.
    Shutdown { reason: String },
    // Acknowledged means kept: stops that drain links, and the durable store.
    /// On a stop, a link sent the neighbour the `sent` records it still lacked.
    LinkDrained { peer: String, sent: u64 },
    /// On a stop, records the neighbour lacks could not be sent: `records` of them within
    /// the grace period, or `None` when the link was down (how many is not known here).
    LinkUnsent { peer: String, records: Option<u64> },
    /// The durable store read its files on start: `records` held, up to change `head`;
    /// `same_life` when they were whole, so the server goes on in the epoch they name.
    StoreRecovered {
        generation: u64,
        records: u64,
        head: u64,
        resume_points: u64,
        same_life: bool,
    },
    /// A store file could not be trusted from `offset` on: a torn last write, or corruption
    /// (a checksum that failed). Nothing from there on is used.
    StoreCut {
        file: String,
        offset: u64,
        kind: StoreCutKind,
    },
    /// The store took a snapshot of the table and started a new log (generation).
    StoreSnapshot {
        generation: u64,
        records: u64,
        bytes: u64,
    },
    /// Writing or syncing the store failed: nothing more is acknowledged, and the server stops.
    StoreFailed { error: String },
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
            Event::PeerAnswerRefused { .. } => "peer_answer_refused",
            Event::LinksUnauthenticated => "links_unauthenticated",
            Event::PeerUp { .. } => "peer_up",
            Event::PeerDown { .. } => "peer_down",
            Event::PeerConnectFailed { .. } => "peer_connect_failed",
            Event::WhatsatWait { .. } => "whatsat_wait",
            Event::PlacesRequest { .. } => "places_request",
            Event::PlacesResponse { .. } => "places_response",
            Event::PlacesError { .. } => "places_error",
            Event::LinkDrained { .. } => "link_drained",
            Event::LinkUnsent { .. } => "link_unsent",
            Event::StoreRecovered { .. } => "store_recovered",
            Event::StoreCut { .. } => "store_cut",
            Event::StoreSnapshot { .. } => "store_snapshot",
            Event::StoreFailed { .. } => "store_failed",
            Event::PlacesSpared { .. } => "places_spared",
            Event::Metrics { .. } => "metrics",
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
                | Event::PeerAnswerRefused { .. }
                | Event::LinksUnauthenticated
                | Event::PlacesError { .. }
                | Event::LinkUnsent { .. }
                | Event::StoreCut { .. }
                | Event::StoreFailed { .. }
        )
    }

    /// Emits the event through `tracing` (INFO, or WARN for warnings). The JSON is made only
    /// when a layer records the field, so a filtered-out event costs nothing.
    pub fn emit(&self) {
        if let Some(hint) = self.operator_hint() {
            // The hint reaches the operator's terminal; log files and the trace keep the JSON.
            tracing::warn!(json = %Json(self), hint, "{}", self.name());
        } else if self.is_warning() {
            tracing::warn!(json = %Json(self), "{}", self.name());
        } else {
            tracing::info!(json = %Json(self), "{}", self.name());
        }
    }

    /// What an operator can do about a warning, where the event alone does not say.
    fn operator_hint(&self) -> Option<&'static str> {
        match self {
            Event::PeerSpeaksClassic { .. } => Some(
                "the neighbour answered `? PEER`, so it speaks only the classic dialect: \
                 mark the link `classic: true` in the herd file",
            ),
            _ => None,
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
