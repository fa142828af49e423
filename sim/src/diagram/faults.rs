//! The harness's fault steps as a diagram draws them: partitions, held links and crashes
//! become shaded intervals on the columns they affect; latency, clock skew and Places
//! behaviour changes become marks (they change a host without cutting it off).

use std::collections::BTreeSet;

use super::model::{Columns, Mark, MarkStyle, Shade, ShadeKind, describe};
use crate::scenario::PLACES_HOST;
use crate::trace::{self, HARNESS_HOST, Trace, TraceEvent};

/// An interval opened by one harness event and waiting for the event that closes it.
struct Open<'a> {
    kind: ShadeKind,
    key: String,
    start: &'a TraceEvent,
}

pub fn shades_and_marks(trace: &Trace, columns: &Columns) -> (Vec<Shade>, Vec<Mark>) {
    let mut open: Vec<Open<'_>> = Vec::new();
    let mut shades = Vec::new();
    let mut marks = Vec::new();
    for event in trace.events.iter().filter(|e| e.host == HARNESS_HOST) {
        let Some(key) = interval_key(event) else {
            marks.extend(fault_marks(event, columns));
            continue;
        };
        match event.name.as_str() {
            trace::PARTITION | trace::HOLD | trace::CRASH => open.push(Open {
                kind: shade_kind(&event.name),
                key,
                start: event,
            }),
            _ => {
                let closes = opener_of(&event.name);
                if let Some(i) = open
                    .iter()
                    .position(|o| o.key == key && shade_kind(closes) == o.kind)
                {
                    let opened = open.remove(i);
                    shades.extend(shade(opened.kind, opened.start, Some(event), columns));
                }
            }
        }
    }
    for opened in open {
        shades.extend(shade(opened.kind, opened.start, None, columns));
    }
    (shades, marks)
}

fn shade_kind(name: &str) -> ShadeKind {
    match name {
        trace::PARTITION => ShadeKind::Partition,
        trace::HOLD => ShadeKind::Hold,
        _ => ShadeKind::Crash,
    }
}

fn opener_of(closer: &str) -> &'static str {
    match closer {
        trace::REPAIR => trace::PARTITION,
        trace::RELEASE => trace::HOLD,
        _ => trace::CRASH,
    }
}

/// What pairs an opening event with its closing one: the server for crashes; for link
/// faults the two groups (in either order unless one-way), so that `repair` of `[Bona],
/// [Clark]` closes `partition` of `[Clark], [Bona]`.
fn interval_key(event: &TraceEvent) -> Option<String> {
    match event.name.as_str() {
        trace::CRASH | trace::RESTART => event.field("server").map(str::to_string),
        trace::PARTITION | trace::REPAIR | trace::HOLD | trace::RELEASE => {
            let from = group(event.field("from")?);
            let to = group(event.field("to")?);
            let oneway = event.field("oneway") == Some("true");
            let (a, b) = if oneway || from <= to {
                (from, to)
            } else {
                (to, from)
            };
            Some(format!("{a:?}|{b:?}|{oneway}"))
        }
        _ => None,
    }
}

/// A comma-separated host list as a sorted set.
fn group(list: &str) -> BTreeSet<String> {
    list.split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect()
}

/// The shades of one interval: one per affected column, each saying what it is cut from.
fn shade(
    kind: ShadeKind,
    start: &TraceEvent,
    end: Option<&TraceEvent>,
    columns: &Columns,
) -> Vec<Shade> {
    let title = match end {
        Some(end) => format!("{}\n{}", describe(start), describe(end)),
        None => format!("{}\n(not undone before the end)", describe(start)),
    };
    let sides: Vec<(String, String, &str)> = match kind {
        ShadeKind::Crash => match start.field("server") {
            Some(server) => vec![(
                server.to_string(),
                "crashed: memory lost".into(),
                "restarted",
            )],
            None => Vec::new(),
        },
        _ => link_sides(kind, start),
    };
    sides
        .into_iter()
        .filter_map(|(host, label, end_label)| {
            Some(Shade {
                kind,
                column: *columns.get(&host)?,
                from: start.at,
                to: end.map(|e| e.at),
                label,
                end_label: if end.is_some() { end_label } else { "" }.to_string(),
                title: title.clone(),
            })
        })
        .collect()
}

/// Each host of a link fault with its label: `cut from Bona, Jaquez` on Clark, `cut from
/// Clark` on Bona and Jaquez (one-way cuts say which direction is lost).
fn link_sides(kind: ShadeKind, start: &TraceEvent) -> Vec<(String, String, &'static str)> {
    let from = group(start.field("from").unwrap_or(""));
    let to = group(start.field("to").unwrap_or(""));
    let list = |hosts: &BTreeSet<String>| short_list(hosts);
    let oneway = start.field("oneway") == Some("true");
    let (from_label, to_label, end_label) = match (kind, oneway) {
        (ShadeKind::Hold, _) => (
            format!("held with {}", list(&to)),
            format!("held with {}", list(&from)),
            "released",
        ),
        (_, true) => (
            format!("cut: sends to {} lost", list(&to)),
            format!("cut: hears nothing from {}", list(&from)),
            "repaired",
        ),
        _ => (
            format!("cut from {}", list(&to)),
            format!("cut from {}", list(&from)),
            "repaired",
        ),
    };
    let from_side = from
        .iter()
        .map(|h| (h.clone(), from_label.clone(), end_label));
    let to_side = to.iter().map(|h| (h.clone(), to_label.clone(), end_label));
    from_side.chain(to_side).collect()
}

/// `Bona, Jaquez`, or for more than two hosts `Avila +5`: a label must fit its column (the
/// hover text has the full lists).
fn short_list(hosts: &BTreeSet<String>) -> String {
    let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
    match names.as_slice() {
        [first, _, _, ..] => format!("{first} +{}", names.len() - 1),
        _ => names.join(", "),
    }
}

/// Latency, skew and Places behaviour changes: a labelled mark on each host they change.
fn fault_marks(event: &TraceEvent, columns: &Columns) -> Vec<Mark> {
    let (hosts, label) = match event.name.as_str() {
        trace::LATENCY => (
            group(event.field("from").unwrap_or("")),
            format!(
                "latency to {}: {}",
                event.field("to").unwrap_or("?"),
                event.field("latency").unwrap_or("?")
            ),
        ),
        trace::SKEW => (
            group(event.field("server").unwrap_or("")),
            format!("clock skew {}", event.field("by").unwrap_or("?")),
        ),
        trace::PLACES_FAULT => (group(PLACES_HOST), places_fault_label(event)),
        _ => return Vec::new(),
    };
    hosts
        .iter()
        .filter_map(|host| {
            Some(Mark {
                column: *columns.get(host)?,
                at: event.at,
                style: MarkStyle::Fault,
                label: Some(label.clone()),
                title: describe(event),
            })
        })
        .collect()
}

/// `Places: http_status=503` from the fault's settings (every field but `step`).
fn places_fault_label(event: &TraceEvent) -> String {
    let settings: Vec<String> = event
        .ordered_fields()
        .into_iter()
        .filter(|(key, _)| *key != "step")
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    format!("Places: {}", settings.join(" "))
}
