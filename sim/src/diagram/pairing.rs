//! Messages found in a trace of events: each send paired with its receipt by the fields both
//! ends log. What cannot be paired is drawn as lost.
//!
//! - reconciliation: a `reconcile` at the sender, then the receiver's `peer_up inbound` from
//!   it and the next `records` `record_stored` from `peer:SENDER` (one arrow, to the last);
//! - flood: a `flood_sent` at the sender and the receiver's other `record_stored` from
//!   `peer:SENDER` (or `classic`) for the same client, origin and timestamp;
//! - client command and reply: the harness's `client_send`, the server's `client_line` with
//!   that line, the `reply` on the same connection, the harness's `client_reply` of the step;
//! - Places: a server's `places_request`, the stub's `places_stub_request`, the server's
//!   `places_response`.
//!
//! A receipt goes to the latest unpaired send before it: a link or connection that broke
//! loses what it had in flight, so a later receipt belongs to the latest send.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::events::{Direction, Event, Source};

use super::parts::{Arrow, Columns, Kind, client_host, column_of, describe};
use super::versions::Versions;
use super::versions::stored_record;
use crate::hosts::PLACES_HOST;
use crate::trace::replay::{self, Exchange};
use crate::trace::{SimEvent, Trace, TraceEvent};

/// Hover text of a message that was never received.
const LOST: &str = "no receipt in the trace: lost (or still in flight when the run ended)";

/// Every message of the trace that has both ends on drawn columns.
pub fn arrows(trace: &Trace, columns: &Columns, versions: &Versions) -> Vec<Arrow> {
    let (mut arrows, reconciled) = reconciliations(trace, columns);
    arrows.extend(floods(trace, columns, &reconciled, versions));
    arrows.extend(commands_and_replies(trace, columns, versions));
    arrows.extend(places(trace, columns));
    arrows
}

/// An arrow from `send`'s column to `to`'s, received at `receipt` (`None`: lost).
fn arrow(
    kind: Kind,
    columns: &Columns,
    send: &TraceEvent,
    to: &str,
    receipt: Option<&TraceEvent>,
) -> Option<Arrow> {
    let from = column_of(send, columns)?;
    let to = *columns.get(to)?;
    let title = match receipt {
        Some(receipt) => format!("{}\n{}", describe(send), describe(receipt)),
        None => format!("{}\n{LOST}", describe(send)),
    };
    Some(Arrow {
        kind,
        from,
        sent: send.at,
        to,
        received: receipt.map(|r| r.at),
        label: None,
        title,
        faint: false,
        stale: false,
    })
}

/// The sender named by a `record_stored` source: `peer:Clark` -> `Some("Clark")`,
/// `classic` -> `Some("")` (a classic peer does not say who it is), `client` -> `None`.
fn peer_source(event: &TraceEvent) -> Option<&str> {
    match event.server_event()? {
        Event::RecordStored { source, .. } => match source {
            Source::Classic => Some(""),
            Source::Peer(name) => Some(name),
            Source::Client | Source::Disk => None,
        },
        _ => None,
    }
}

/// The neighbour a `reconcile` or `flood_sent` went to.
fn peer_of(event: &TraceEvent) -> Option<&str> {
    match event.server_event()? {
        Event::Reconcile { peer, .. } | Event::FloodSent { peer, .. } => Some(peer),
        _ => None,
    }
}

/// Whether an event is the server event `matches` picks out.
fn is(event: &TraceEvent, matches: fn(&Event) -> bool) -> bool {
    event.server_event().is_some_and(matches)
}

/// Reconciliation arrows, and the indices of the `record_stored` events they delivered (so
/// that floods do not claim them).
fn reconciliations(trace: &Trace, columns: &Columns) -> (Vec<Arrow>, BTreeSet<usize>) {
    let events = &trace.events;
    let sends: Vec<usize> = (0..events.len())
        .filter(|&i| is(&events[i], |e| matches!(e, Event::Reconcile { .. })))
        .collect();
    let mut paired = BTreeSet::new();
    let mut arrows: Vec<Arrow> = Vec::new();
    let mut batches: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let mut reconciled = BTreeSet::new();
    for (i, event) in events.iter().enumerate() {
        if let Some(Event::Reconcile { peer: receiver, .. }) = event.server_event() {
            // The receiver says the link is up (after checking the proof) just before the
            // sender starts its catch-up: the latest such `peer_up` is this link's.
            let (sender, receiver) = (event.host.as_str(), receiver.as_str());
            let up = (0..i).rev().find(|&j| {
                events[j].host == receiver
                    && matches!(
                        events[j].server_event(),
                        Some(Event::PeerUp { peer, direction: Direction::Inbound }) if peer == sender
                    )
            });
            let Some(up) = up else { continue };
            paired.insert(i);
            let Some(arrow) = reconcile_arrow(columns, event, Some(&events[up])) else {
                continue;
            };
            let records = record_count(event);
            batches.remove(&(receiver, sender));
            if records > 0 {
                batches.insert((receiver, sender), (arrows.len(), records));
            }
            arrows.push(arrow);
        } else if let Some(sender) = peer_source(event)
            && let Some((arrow, left)) = batches.get_mut(&(event.host.as_str(), sender))
        {
            reconciled.insert(i);
            if let Some(arrow) = arrows.get_mut(*arrow) {
                arrow.received = Some(event.at);
                arrow.title.push('\n');
                arrow.title.push_str(&describe(event));
            }
            *left -= 1;
            if *left == 0 {
                batches.remove(&(event.host.as_str(), sender));
            }
        }
    }
    let lost = sends.iter().filter(|s| !paired.contains(*s));
    arrows.extend(lost.filter_map(|&s| reconcile_arrow(columns, &events[s], None)));
    (arrows, reconciled)
}

fn record_count(reconcile: &TraceEvent) -> usize {
    match reconcile.server_event() {
        Some(Event::Reconcile { records, .. }) => usize::try_from(*records).unwrap_or(usize::MAX),
        _ => 0,
    }
}

/// One reconciliation: labelled with its record count, faint when the table was empty.
fn reconcile_arrow(
    columns: &Columns,
    send: &TraceEvent,
    peer_up: Option<&TraceEvent>,
) -> Option<Arrow> {
    let mut arrow = arrow(Kind::Reconcile, columns, send, peer_of(send)?, peer_up)?;
    // The receiver's `peer_up` comes just before the send; the arrow never runs backwards.
    arrow.received = arrow.received.map(|at| at.max(send.at));
    let records = record_count(send);
    arrow.faint = records == 0;
    if records > 0 {
        let plural = if records == 1 { "" } else { "s" };
        arrow.label = Some(format!("reconcile: {records} record{plural}"));
    }
    Some(arrow)
}

/// Flood arrows: each flood receipt paired with the latest unpaired `flood_sent` of the same
/// record on the same link; sends left over are lost.
fn floods(
    trace: &Trace,
    columns: &Columns,
    reconciled: &BTreeSet<usize>,
    versions: &Versions,
) -> Vec<Arrow> {
    let events = &trace.events;
    let sends: Vec<usize> = (0..events.len())
        .filter(|&i| is(&events[i], |e| matches!(e, Event::FloodSent { .. })))
        .collect();
    let mut receipt_of: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, event) in events.iter().enumerate() {
        if reconciled.contains(&i) {
            continue;
        }
        let (Some(sender), Some(stored)) = (peer_source(event), stored_record(event)) else {
            continue;
        };
        let send = sends.iter().rev().find(|&&s| {
            let send = &events[s];
            !receipt_of.contains_key(&s)
                && send.at <= event.at
                && (sender.is_empty() || send.host == sender)
                && matches!(send.server_event(), Some(Event::FloodSent { peer, record })
                    if *peer == event.host
                        && record.client == stored.client
                        && record.origin == stored.origin
                        && record.timestamp == stored.timestamp)
        });
        if let Some(&send) = send {
            receipt_of.insert(send, i);
        }
    }
    sends
        .iter()
        .filter_map(|&s| {
            let receipt = receipt_of.get(&s).map(|&r| &events[r]);
            let mut arrow = arrow(
                Kind::Flood,
                columns,
                &events[s],
                peer_of(&events[s])?,
                receipt,
            )?;
            arrow.faint = receipt.is_some_and(|r| replay::stored_new(r).is_none());
            arrow.label = flood_label(&events[s], versions).filter(|_| receipt.is_none());
            Some(arrow)
        })
        .collect()
}

/// `kiwi v2 → Bona lost` for a lost flood: what was lost, and where it was going.
fn flood_label(send: &TraceEvent, versions: &Versions) -> Option<String> {
    let Some(Event::FloodSent { peer, record }) = send.server_event() else {
        return None;
    };
    let client = &record.client;
    let version = versions.version_by_stamp(client, &record.origin, record.timestamp.as_str())?;
    Some(format!("{client} v{version} → {peer} lost"))
}

/// Client command arrows (client -> server) and reply arrows (server -> client).
fn commands_and_replies(trace: &Trace, columns: &Columns, versions: &Versions) -> Vec<Arrow> {
    let events = &trace.events;
    let exchanges = replay::exchanges(trace);
    let lines: Vec<usize> = (0..events.len())
        .filter(|&i| is(&events[i], |e| matches!(e, Event::ClientLine { .. })))
        .collect();
    let mut taken = BTreeSet::new();
    // (server, conn, at of the line, exchange): which command a connection carried.
    let mut carried: Vec<(&str, u64, Duration, usize)> = Vec::new();
    let mut arrows = Vec::new();
    for (x, exchange) in exchanges.iter().enumerate() {
        let line = received_line(trace, exchange, &lines, &taken);
        if let Some(l) = line {
            taken.insert(l);
            if let Some(Event::ClientLine { conn, .. }) = events[l].server_event() {
                carried.push((exchange.server(), *conn, events[l].at, x));
            }
        }
        let receipt = line.map(|l| &events[l]);
        if let Some(mut arrow) = arrow(
            Kind::Command,
            columns,
            exchange.send,
            exchange.server(),
            receipt,
        ) {
            arrow.label = Some(command_label(exchange, versions));
            arrows.push(arrow);
        }
    }
    for (reply, event) in trace.server_events() {
        let Event::Reply { conn: replied, .. } = event else {
            continue;
        };
        let exchange = carried
            .iter()
            .rev()
            .find(|(server, conn, at, _)| {
                *server == reply.host && replied == conn && *at <= reply.at
            })
            .and_then(|(_, _, _, x)| exchanges.get(*x));
        if let Some(exchange) = exchange {
            arrows.extend(reply_arrow(columns, versions, reply, exchange));
        }
    }
    arrows
}

/// The server's `client_line` that received `exchange`'s command: the earliest unpaired one
/// on that server after the send (and before the client heard back), with the same line, or
/// else the line's first bytes (the server logs at most 256).
fn received_line(
    trace: &Trace,
    exchange: &Exchange<'_>,
    lines: &[usize],
    taken: &BTreeSet<usize>,
) -> Option<usize> {
    let events = &trace.events;
    let deadline = [exchange.reply, exchange.error]
        .into_iter()
        .flatten()
        .map(|(_, e)| e.at)
        .min();
    let sent = exchange.line();
    let candidates: Vec<usize> = lines
        .iter()
        .copied()
        .filter(|l| {
            let event = &events[*l];
            !taken.contains(l)
                && event.host == exchange.server()
                && event.at >= exchange.send.at
                && deadline.is_none_or(|d| event.at <= d)
        })
        .collect();
    let logged = |l: &usize| match events[*l].server_event() {
        Some(Event::ClientLine { line, .. }) => line.as_str(),
        _ => "",
    };
    candidates
        .iter()
        .find(|l| logged(l) == sent)
        .or_else(|| {
            candidates.iter().find(|l| {
                let prefix = logged(l).trim_end_matches('\u{FFFD}');
                !prefix.is_empty() && sent.starts_with(prefix)
            })
        })
        .copied()
}

/// `IAMAT kiwi v2`, `WHATSAT kiwi`, or the line's first characters.
fn command_label(exchange: &Exchange<'_>, versions: &Versions) -> String {
    let words: Vec<&str> = exchange.line().split_whitespace().collect();
    match words.as_slice() {
        ["IAMAT", client, location, timestamp] => {
            match versions.version_of_fields(client, exchange.server(), location, timestamp) {
                Some(v) => format!("IAMAT {client} v{v}"),
                None => format!("IAMAT {client}"),
            }
        }
        ["WHATSAT", client, ..] => format!("WHATSAT {client}"),
        _ => crate::trace::shorten(exchange.line(), 24),
    }
}

/// The reply to `exchange`, labelled with the record it gives; a WHATSAT answered with a
/// record older than one some server already held is marked stale.
fn reply_arrow(
    columns: &Columns,
    versions: &Versions,
    reply: &TraceEvent,
    exchange: &Exchange<'_>,
) -> Option<Arrow> {
    let to = client_host(exchange.client());
    let receipt = exchange.reply.map(|(_, e)| e);
    let mut arrow = arrow(Kind::Reply, columns, reply, &to, receipt)?;
    let line = match reply.server_event() {
        Some(Event::Reply { line, .. }) => line.as_str(),
        _ => "",
    };
    let Some(record) = replay::at_line(line) else {
        arrow.label = Some(crate::trace::shorten(line, 20));
        return Some(arrow);
    };
    let name = versions.name(&record);
    arrow.label = Some(name.clone());
    let whatsat = exchange.line().starts_with("WHATSAT");
    let version = versions.version(&record);
    let newer = version.and_then(|v| versions.newer_than(&record.client, v, reply.at));
    if let (true, Some((newer, since, host))) = (whatsat, newer) {
        arrow.stale = true;
        arrow.label = Some(format!("{name}: STALE ({host} has v{newer})"));
        arrow.title.push_str(&format!(
            "\nstale: {} v{newer} was stored at {host} at {}",
            record.client,
            crate::trace::fmt_at(since)
        ));
    }
    Some(arrow)
}

/// Places arrows: each server's `places_request` to the stub, and the stub's answer back.
fn places(trace: &Trace, columns: &Columns) -> Vec<Arrow> {
    let events = &trace.events;
    // The stub's requests; its answers' records are for the judges (the server's
    // `places_response` already shows what came back).
    let stub: Vec<usize> = (0..events.len())
        .filter(|&i| {
            events[i].host == PLACES_HOST
                && !matches!(
                    events[i].sim_event(),
                    Some(SimEvent::PlacesStubAnswer { .. })
                )
        })
        .collect();
    let answers: Vec<usize> = (0..events.len())
        .filter(|&i| is(&events[i], |e| matches!(e, Event::PlacesResponse { .. })))
        .collect();
    let (mut stub_taken, mut answer_taken) = (BTreeSet::new(), BTreeSet::new());
    let mut arrows = Vec::new();
    for request in events
        .iter()
        .filter(|e| is(e, |e| matches!(e, Event::PlacesRequest { .. })))
    {
        let answer = answers.iter().copied().find(|a| {
            !answer_taken.contains(a)
                && events[*a].host == request.host
                && events[*a].at >= request.at
        });
        let until = answer.map(|a| events[a].at);
        let asked = stub.iter().copied().find(|s| {
            !stub_taken.contains(s)
                && stub_from(&events[*s]).is_none_or(|f| f == request.host)
                && events[*s].at >= request.at
                && until.is_none_or(|u| events[*s].at <= u)
        });
        answer_taken.extend(answer);
        stub_taken.extend(asked);
        let asked = asked.map(|s| &events[s]);
        arrows.extend(arrow(Kind::Places, columns, request, PLACES_HOST, asked));
        if let Some(asked) = asked {
            let answer = answer.map(|a| (a, &events[a]));
            arrows.extend(places_answer(trace, columns, asked, &request.host, answer));
        }
    }
    arrows
}

/// The stub's answer to `asked`, back at `server`; lost when the server timed out.
fn places_answer(
    trace: &Trace,
    columns: &Columns,
    asked: &TraceEvent,
    server: &str,
    answer: Option<(usize, &TraceEvent)>,
) -> Option<Arrow> {
    let error = answer.and_then(|(a, response)| {
        trace.events[..a]
            .iter()
            .rev()
            .take_while(|e| e.at == response.at)
            .find(|e| e.host == response.host && is(e, |e| matches!(e, Event::PlacesError { .. })))
    });
    let kind = |e: &TraceEvent| match e.server_event() {
        Some(Event::PlacesError { kind, .. }) => kind.clone(),
        _ => "?".to_string(),
    };
    let timed_out = error.is_some_and(|e| kind(e) == "timeout");
    let receipt = answer.map(|(_, e)| e).filter(|_| !timed_out);
    let mut arrow = arrow(Kind::Places, columns, asked, server, receipt)?;
    if let Some(error) = error {
        arrow.title.push('\n');
        arrow.title.push_str(&describe(error));
        arrow.label = Some(format!("error: {}", kind(error)));
    } else if let Some((_, response)) = answer
        && let Some(Event::PlacesResponse { results, .. }) = response.server_event()
    {
        arrow.label = Some(format!("{results} places"));
    }
    Some(arrow)
}

/// The server a Places stub request came from, when the stub knows it.
fn stub_from(event: &TraceEvent) -> Option<&str> {
    match event.sim_event()? {
        SimEvent::PlacesStubRequest { from, .. } => from.as_deref(),
        _ => None,
    }
}
