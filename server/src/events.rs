//! The names of the structured `tracing` events the server emits: the log is the trace.
//!
//! Every event is `tracing::info!`/`warn!` with the event name as its message and the fields
//! listed here, inside a span named `server` whose `name` field is the server's name. The
//! production binary writes them to one log file per server; the simulation records them with a
//! `tracing_subscriber::Layer` and stamps them with simulated time. Checkers and snapshots match
//! on these constants, so renaming one is a trace change that a reviewer sees.

/// The listener is bound. Fields: `addr`.
pub const LISTENING: &str = "listening";
/// A client (or classic peer) connection was accepted. Fields: `conn` (per-server counter), `remote`.
pub const CONNECTION_OPENED: &str = "connection_opened";
/// A connection ended. Fields: `conn`, `reason`.
pub const CONNECTION_CLOSED: &str = "connection_closed";
/// A connection was refused because `connections_max` client connections (and
/// `peer_links_max` links) were open (WARN, at most once a second). Fields: `remote`,
/// `suppressed` (refusals since the last one logged).
pub const CONNECTION_REFUSED: &str = "connection_refused";
/// One input line from a client connection. Fields: `conn`, `line` (lossy UTF-8, at most 256 bytes).
pub const CLIENT_LINE: &str = "client_line";
/// One reply. Fields: `conn`, `line` (the first line of the reply), `bytes` (whole reply size).
pub const REPLY: &str = "reply";
/// A record was offered to the store. Fields: `client`, `origin`, `timestamp`, `location`,
/// `time_diff`, `outcome` (`new`|`stale`|`duplicate`|`table_full`), `source` (`client`,
/// `peer:NAME` or `classic`).
pub const RECORD_STORED: &str = "record_stored";
/// A record was queued to a neighbour by the flooding rule. Fields: `peer`, `client`, `origin`,
/// `timestamp`, `location`, `time_diff` (all of the record, so one update is told from another
/// even when a client sends two with one timestamp).
pub const FLOOD_SENT: &str = "flood_sent";
/// Kept for reading traces of servers from before links streamed from a cursor: a neighbour's
/// queue was full and a record was dropped. Today's server never logs it. Fields: `peer`,
/// `client`.
pub const PEER_QUEUE_FULL: &str = "peer_queue_full";
/// An outbound link came up and will first send what the neighbour lacks. Fields: `peer`,
/// `records` (how many), `full` (`true`: the neighbour holds nothing of this server's life,
/// so the whole table, less what it sent us, goes).
pub const RECONCILE: &str = "reconcile";
/// A line a neighbour or a classic peer sent was refused (WARN). Fields: `peer` (or `conn`
/// for a plain connection), `reason`, `line` (at most 256 bytes).
pub const LINE_REFUSED: &str = "line_refused";
/// An incoming link's handshake failed: not a neighbour, or no valid proof (WARN). Fields:
/// `conn`, `peer`, `reason`.
pub const LINK_REFUSED: &str = "link_refused";
/// A neighbour answered our `PEER` with `? PEER`: it speaks the classic dialect, so the link
/// probably needs `classic: true` in the herd file (WARN). Fields: `peer`.
pub const PEER_SPEAKS_CLASSIC: &str = "peer_speaks_classic";
/// A neighbour refused our proof: the two servers do not share the herd's secret (WARN).
/// Fields: `peer`.
pub const PEER_AUTH_REFUSED: &str = "peer_auth_refused";
/// At start, when no secret is configured: links are unauthenticated (WARN). No fields.
pub const LINKS_UNAUTHENTICATED: &str = "links_unauthenticated";
/// A link to a neighbour came up. Fields: `peer`, `direction` (`outbound`|`inbound`).
pub const PEER_UP: &str = "peer_up";
/// A link to a neighbour went down. Fields: `peer`, `direction`, `reason`.
pub const PEER_DOWN: &str = "peer_down";
/// Dialling a neighbour failed; the next try waits `retry_ms`. Fields: `peer`, `error`, `retry_ms`.
pub const PEER_CONNECT_FAILED: &str = "peer_connect_failed";
/// A WHATSAT for an unknown client waited for the record to arrive. Fields: `client`, `found`.
pub const WHATSAT_WAIT: &str = "whatsat_wait";
/// A request to Places. Fields: `api`, `radius_m`, `bound`.
pub const PLACES_REQUEST: &str = "places_request";
/// A usable Places answer. Fields: `status`, `results`, `bytes`.
pub const PLACES_RESPONSE: &str = "places_response";
/// Places failed; the client still gets the AT line and an error JSON. Fields: `kind`, `detail`.
pub const PLACES_ERROR: &str = "places_error";
/// The server is stopping. Fields: `reason`.
pub const SHUTDOWN: &str = "shutdown";
/// On a graceful stop, one per record still held, so the final table is in the log (and the
/// simulation can compare the real table with the one its trace implies). Fields: `line` (the
/// record's AT line).
pub const TABLE_RECORD: &str = "table_record";
