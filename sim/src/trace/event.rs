//! The harness's and the Places stub's own trace events, typed like the server's
//! (`server::events::Event`): one enum, one field per value, the name in an `event` key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the harness did (a fault step, a client command and its outcome) or what the Places
/// stub saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SimEvent {
    /// Links cut from the `from` hosts to the `to` hosts (and back unless `oneway`).
    Partition {
        step: u64,
        from: Vec<String>,
        to: Vec<String>,
        oneway: bool,
    },
    /// Links repaired.
    Repair {
        step: u64,
        from: Vec<String>,
        to: Vec<String>,
        oneway: bool,
    },
    /// Messages held on links (delivered later, so they overtake each other).
    Hold {
        step: u64,
        from: Vec<String>,
        to: Vec<String>,
    },
    /// Held messages delivered at once.
    Release {
        step: u64,
        from: Vec<String>,
        to: Vec<String>,
    },
    /// Link latency changed to `latency` (`min..max`).
    Latency {
        step: u64,
        from: Vec<String>,
        to: Vec<String>,
        latency: String,
    },
    /// A server was crashed (its memory is gone).
    Crash { step: u64, server: String },
    /// A crashed server was started again, empty.
    Restart { step: u64, server: String },
    /// A server's disk fault changed (`flip_bit`, `fail_sync`, `full`, `freed`).
    DiskFault {
        step: u64,
        server: String,
        fault: String,
    },
    /// A server's clock offset changed by `by` (signed, `-3s`).
    Skew {
        step: u64,
        server: String,
        by: String,
    },
    /// The Places stub's behaviour changed: the settings of the step
    /// (`healthy`, `latency`, `http_status`, `malformed`, `status`, `unreachable`).
    PlacesFault {
        step: u64,
        #[serde(flatten)]
        settings: BTreeMap<String, String>,
    },
    /// A client wrote one command: `line` is the bytes as lossy UTF-8 without the final
    /// newline, `bytes` the count written (newline included), `utf8` whether they were UTF-8.
    ClientSend {
        id: u64,
        client: String,
        server: String,
        line: String,
        bytes: u64,
        utf8: bool,
    },
    /// A client read the whole reply to a command (newlines included).
    ClientReply {
        id: u64,
        client: String,
        server: String,
        text: String,
    },
    /// A client's command failed at the transport (refused, reset, closed before a reply).
    ClientError {
        id: u64,
        client: String,
        server: String,
        error: String,
    },
    /// A load step started: `clients` distinct ids `{prefix}0`.. over `connections`.
    LoadSent {
        id: u64,
        server: String,
        prefix: String,
        clients: u64,
        connections: u64,
    },
    /// A load step's connections all finished: `replies` lines read, `invalid` of them
    /// `? ` replies, `errors` connections that failed.
    LoadDone {
        id: u64,
        server: String,
        replies: u64,
        invalid: u64,
        errors: u64,
    },
    /// An impostor took `server`'s address (the server is down).
    Impostor { step: u64, server: String },
    /// The impostor at `server`'s address read one line from a server that dialled it.
    ImpostorGot { server: String, line: String },
    /// A `tamper` step armed the attacker on the direction `from -> to` of a link: `mode` is
    /// what it will do (`inject 42 bytes`, `replay 100 bytes`, `alter 4 bytes`).
    Tamper {
        step: u64,
        from: String,
        to: String,
        mode: String,
    },
    /// The attacker did it, on a connection from `from` to `to`: `bytes` is what it injected,
    /// replayed or made of the chunk (lossy UTF-8, its first 256 bytes); `records` counts the
    /// whole `AT ` lines it added (injected or replayed), which reach `to` as if `from` had
    /// sent them.
    Tampered {
        from: String,
        to: String,
        mode: String,
        bytes: String,
        records: u64,
    },
    /// Handshake stallers against `server` finished: `opened` connections, `failed` dials.
    HostileStall {
        id: u64,
        server: String,
        opened: u64,
        failed: u64,
    },
    /// A hostile client wrote one line.
    HostileSend {
        id: u64,
        server: String,
        line: String,
    },
    /// A hostile client read the whole reply.
    HostileReply {
        id: u64,
        server: String,
        text: String,
    },
    /// A hostile client holds connections open, silent.
    HostileHold {
        id: u64,
        server: String,
        opened: u64,
        failed: u64,
    },
    /// The Places stub got a request; `from` is the server that asked, when the stub knows it.
    /// `location` (`LAT,LNG`) and `radius` (metres) are as the request wrote them: the legacy
    /// query's text, or the Places (New) body's JSON numbers; empty when it had none.
    PlacesStubRequest {
        path: String,
        location: String,
        radius: String,
        key_present: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Places (New) only: the body's `maxResultCount`, when it had a readable one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_result_count: Option<u64>,
    },
    /// The Places stub's answer to a request, as it decided it: the HTTP status and the body
    /// (lossy UTF-8), recorded before any `latency` fault delays it, and not at all when an
    /// `unreachable` fault means it never comes. The request's fields are repeated (see
    /// [`SimEvent::PlacesStubRequest`]) so a checker can tell which WHATSAT it serves without
    /// pairing it with its request first.
    PlacesStubAnswer {
        path: String,
        location: String,
        radius: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_result_count: Option<u64>,
        http_status: u16,
        body: String,
    },
}

impl SimEvent {
    pub fn name(&self) -> &'static str {
        match self {
            SimEvent::Partition { .. } => "partition",
            SimEvent::Repair { .. } => "repair",
            SimEvent::Hold { .. } => "hold",
            SimEvent::Release { .. } => "release",
            SimEvent::Latency { .. } => "latency",
            SimEvent::Crash { .. } => "crash",
            SimEvent::Restart { .. } => "restart",
            SimEvent::DiskFault { .. } => "disk_fault",
            SimEvent::Skew { .. } => "skew",
            SimEvent::PlacesFault { .. } => "places_fault",
            SimEvent::ClientSend { .. } => "client_send",
            SimEvent::ClientReply { .. } => "client_reply",
            SimEvent::ClientError { .. } => "client_error",
            SimEvent::LoadSent { .. } => "load_sent",
            SimEvent::LoadDone { .. } => "load_done",
            SimEvent::HostileSend { .. } => "hostile_send",
            SimEvent::HostileReply { .. } => "hostile_reply",
            SimEvent::HostileHold { .. } => "hostile_hold",
            SimEvent::HostileStall { .. } => "hostile_stall",
            SimEvent::Impostor { .. } => "impostor",
            SimEvent::ImpostorGot { .. } => "impostor_got",
            SimEvent::Tamper { .. } => "tamper",
            SimEvent::Tampered { .. } => "tampered",
            SimEvent::PlacesStubRequest { .. } => "places_stub_request",
            SimEvent::PlacesStubAnswer { .. } => "places_stub_answer",
        }
    }

    /// The step id of a client event.
    pub fn client_id(&self) -> Option<u64> {
        match self {
            SimEvent::ClientSend { id, .. }
            | SimEvent::ClientReply { id, .. }
            | SimEvent::ClientError { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The client of a client event.
    pub fn client(&self) -> Option<&str> {
        match self {
            SimEvent::ClientSend { client, .. }
            | SimEvent::ClientReply { client, .. }
            | SimEvent::ClientError { client, .. } => Some(client),
            _ => None,
        }
    }

    /// The server whose memory is lost at this event (a crash or a restart).
    pub fn memory_lost(&self) -> Option<&str> {
        match self {
            SimEvent::Crash { server, .. } | SimEvent::Restart { server, .. } => Some(server),
            _ => None,
        }
    }
}
