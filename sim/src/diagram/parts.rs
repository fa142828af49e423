//! The parts a diagram is made of, in trace terms (hosts and simulated times, no pixels):
//! message kinds, columns, arrows, shades and marks, and the hover text of an event. Kept
//! below the model and the passes that build it (`pairing`, `faults`), so those passes never
//! import the model that calls them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::hosts::HARNESS_HOST;
use crate::trace::{self, TraceEvent};

/// The kinds of message, each with its colour and CSS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Command,
    Reply,
    Flood,
    Reconcile,
    Places,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Command,
        Kind::Reply,
        Kind::Flood,
        Kind::Reconcile,
        Kind::Places,
    ];

    pub fn class(self) -> &'static str {
        match self {
            Kind::Command => "command",
            Kind::Reply => "reply",
            Kind::Flood => "flood",
            Kind::Reconcile => "reconcile",
            Kind::Places => "places",
        }
    }

    /// Okabe-Ito colours: told apart by most colour-blind readers too.
    pub fn colour(self) -> &'static str {
        match self {
            Kind::Command => "#0072B2",
            Kind::Reply => "#009E73",
            Kind::Flood => "#E69F00",
            Kind::Reconcile => "#CC3399",
            Kind::Places => "#56B4E9",
        }
    }
}

/// One host's vertical line.
#[derive(Debug, Clone)]
pub struct Column {
    pub host: String,
    pub label: String,
    /// What the host is (`server`, `Places stub`, `client`), printed under its name.
    pub role: &'static str,
}

/// One message: sent by `from` at `sent`, received by `to` at `received` (`None`: lost).
#[derive(Debug, Clone)]
pub struct Arrow {
    pub kind: Kind,
    pub from: usize,
    pub sent: Duration,
    pub to: usize,
    pub received: Option<Duration>,
    pub label: Option<String>,
    /// The events behind the arrow, one per line (the hover text).
    pub title: String,
    /// Drawn lighter: a message that changed nothing (a duplicate flood, an empty table).
    pub faint: bool,
    /// Drawn as a warning: a reply older than what the herd already knew.
    pub stale: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadeKind {
    Partition,
    Hold,
    Crash,
}

impl ShadeKind {
    pub fn class(self) -> &'static str {
        match self {
            ShadeKind::Partition => "partition",
            ShadeKind::Hold => "hold",
            ShadeKind::Crash => "crash",
        }
    }
}

/// A column shaded over `[from, to]` (`to = None`: until the end of the run).
#[derive(Debug, Clone)]
pub struct Shade {
    pub kind: ShadeKind,
    pub column: usize,
    pub from: Duration,
    pub to: Option<Duration>,
    pub label: String,
    pub end_label: String,
    pub title: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkStyle {
    /// A record stored as new: the server's view changed.
    NewRecord,
    /// A record offered and refused (duplicate, stale, table full).
    Refused,
    /// A failure the host saw (Places error, transport error, refused connection).
    Error,
    /// A fault step that changes a host without cutting it (latency, skew, Places behaviour).
    Fault,
    Plain,
}

/// One event drawn as a dot on its host's line.
#[derive(Debug, Clone)]
pub struct Mark {
    pub column: usize,
    pub at: Duration,
    pub style: MarkStyle,
    pub label: Option<String>,
    pub title: String,
}

/// Host name to column index.
pub type Columns = BTreeMap<String, usize>;

/// The column key of a client: one column per client, although all clients send from the
/// harness's one `clients` host.
pub fn client_host(client: &str) -> String {
    format!("client.{client}")
}

/// The column an event is drawn on: its host's, or for the harness's client events the
/// client's. Fault events belong to no column (they become shades).
pub fn column_of(event: &TraceEvent, columns: &Columns) -> Option<usize> {
    if event.host == HARNESS_HOST {
        let client = event.sim_event()?.client()?;
        return columns.get(&client_host(client)).copied();
    }
    columns.get(&event.host).copied()
}

/// `1.250s Clark record_stored client=kiwi ...`: one event as hover text, fields in the
/// trace's rendering order, long values cut, reply bodies digested, and the ephemeral port
/// of `remote` hidden as the trace snapshot hides it (it shifts whenever one more
/// connection happens earlier: noise in a reviewed diagram).
pub fn describe(event: &TraceEvent) -> String {
    let mut text = format!(
        "{} {} {}",
        trace::fmt_at(event.at),
        event.host,
        event.name()
    );
    for (key, value) in event.ordered_fields() {
        text.push(' ');
        text.push_str(&key);
        text.push('=');
        match (key.as_str(), value.rsplit_once(':')) {
            ("remote", Some((host, port))) if port.bytes().all(|b| b.is_ascii_digit()) => {
                text.push_str(host);
                text.push_str(":*");
            }
            _ => text.push_str(&trace::render::render_value(&key, &value)),
        }
    }
    text
}
