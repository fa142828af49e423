//! What a diagram shows, in trace terms (hosts and simulated times, no pixels): the columns,
//! the messages, the shaded fault intervals, and a mark per event.

use std::time::Duration;

use server::events::Event;
use server::store::Outcome;

use super::parts::{
    Arrow, Column, Columns, Mark, MarkStyle, Shade, client_host, column_of, describe,
};
use super::versions::Versions;
use super::{faults, pairing};
use crate::hosts::PLACES_HOST;
use crate::scenario::Scenario;
use crate::trace::{SimEvent, Trace, TraceEvent, What};

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
                        SimEvent::ClientReply { .. }
                            | SimEvent::PlacesStubRequest { .. }
                            | SimEvent::PlacesStubAnswer { .. }
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

/// A dot for every server, Places and client event, labelled when a server's view changed.
fn marks(trace: &Trace, columns: &Columns, versions: &Versions) -> Vec<Mark> {
    let mut marks = Vec::new();
    for event in &trace.events {
        let Some(column) = column_of(event, columns) else {
            continue;
        };
        // The stub's answer is decided as its request comes: one mark (the request's) says it.
        if matches!(event.sim_event(), Some(SimEvent::PlacesStubAnswer { .. })) {
            continue;
        }
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
