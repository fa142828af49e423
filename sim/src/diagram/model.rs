//! What a diagram shows, in trace terms (hosts and simulated times, no pixels): the columns,
//! the messages, the shaded fault intervals, and a mark per event.

use std::collections::BTreeMap;
use std::time::Duration;

use server::events::Event;
use server::store::Outcome;

use super::versions::Versions;
use super::{faults, pairing};
use crate::hosts::{HARNESS_HOST, PLACES_HOST};
use crate::scenario::Scenario;
use crate::trace::{self, SimEvent, Trace, TraceEvent, What};

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

/// Everything to draw, before the window and the scale are applied.
#[derive(Debug, Default)]
pub struct Model {
    pub columns: Vec<Column>,
    pub arrows: Vec<Arrow>,
    pub shades: Vec<Shade>,
    pub marks: Vec<Mark>,
    /// Every event's time: each is a row of the time scale.
    pub times: Vec<Duration>,
    /// Times of the harness's steps (faults, commands): labelled on the axis first.
    pub key_times: Vec<Duration>,
}

/// Host name to column index.
pub type Columns = BTreeMap<String, usize>;

impl Model {
    pub fn build(scenario: &Scenario, trace: &Trace) -> Model {
        let columns = columns(scenario, trace);
        let index: Columns = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.host.clone(), i))
            .collect();
        let versions = Versions::from_trace(trace);
        let (shades, fault_marks) = faults::shades_and_marks(trace, &index);
        let mut arrows = pairing::arrows(trace, &index, &versions);
        arrows.sort_by_key(|a| (a.sent, a.kind));
        let mut marks = marks(trace, &index, &versions);
        marks.extend(fault_marks);
        let times = trace.events.iter().map(|e| e.at).collect();
        let key_times = trace
            .events
            .iter()
            .filter(|e| {
                e.sim_event().is_some_and(|s| {
                    !matches!(
                        s,
                        SimEvent::ClientReply { .. } | SimEvent::PlacesStubRequest { .. }
                    )
                })
            })
            .map(|e| e.at)
            .collect();
        Model {
            columns,
            arrows,
            shades,
            marks,
            times,
            key_times,
        }
    }
}

/// Herd servers in herd order, then the Places stub, then every client host in name order
/// (the scenario's clients and any other the trace names).
fn columns(scenario: &Scenario, trace: &Trace) -> Vec<Column> {
    let mut clients = scenario.client_names();
    clients.extend(
        trace
            .events
            .iter()
            .filter_map(|e| e.sim_event()?.client().map(str::to_string)),
    );
    clients.sort();
    clients.dedup();
    let servers = scenario.server_names().into_iter().map(|name| Column {
        host: name.clone(),
        label: name,
        role: "server",
    });
    let places = std::iter::once(Column {
        host: PLACES_HOST.to_string(),
        label: PLACES_HOST.to_string(),
        role: "Places stub",
    });
    let clients = clients.into_iter().map(|name| Column {
        host: client_host(&name),
        label: name,
        role: "client",
    });
    servers.chain(places).chain(clients).collect()
}

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

/// A dot for every server, Places and client event, labelled when a server's view changed.
fn marks(trace: &Trace, columns: &Columns, versions: &Versions) -> Vec<Mark> {
    let mut marks = Vec::new();
    for event in &trace.events {
        let Some(column) = column_of(event, columns) else {
            continue;
        };
        let (style, label) = mark_style(event, versions);
        marks.push(Mark {
            column,
            at: event.at,
            style,
            label,
            title: describe(event),
        });
    }
    marks
}

fn mark_style(event: &TraceEvent, versions: &Versions) -> (MarkStyle, Option<String>) {
    match &event.what {
        What::Server(Event::RecordStored {
            record,
            outcome: Outcome::New,
            ..
        }) => (MarkStyle::NewRecord, Some(versions.name(record))),
        What::Server(Event::RecordStored { .. }) => (MarkStyle::Refused, None),
        What::Server(Event::PlacesError { .. } | Event::ConnectionRefused { .. })
        | What::Sim(SimEvent::ClientError { .. }) => (MarkStyle::Error, None),
        _ => (MarkStyle::Plain, None),
    }
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
