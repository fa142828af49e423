//! The harness's fault steps as a diagram draws them: partitions, held links and crashes
//! become shaded intervals on the columns they affect; latency, clock skew and Places
//! behaviour changes become marks (they change a host without cutting it off).

use std::collections::BTreeSet;

use super::parts::{Columns, Mark, MarkStyle, Shade, ShadeKind, describe};
use crate::hosts::PLACES_HOST;
use crate::trace::{SimEvent, Trace, TraceEvent};

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
    for (event, sim) in trace.sim_events() {
        let Some(key) = interval_key(sim) else {
            marks.extend(fault_marks(event, sim, columns));
            continue;
        };
        match sim {
            SimEvent::Partition { .. } | SimEvent::Hold { .. } | SimEvent::Crash { .. } => open
                .push(Open {
                    kind: shade_kind(sim),
                    key,
                    start: event,
                }),
            _ => {
                let closes = closed_kind(sim);
                if let Some(i) = open.iter().position(|o| o.key == key && closes == o.kind) {
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

fn shade_kind(opener: &SimEvent) -> ShadeKind {
    match opener {
        SimEvent::Partition { .. } => ShadeKind::Partition,
        SimEvent::Hold { .. } => ShadeKind::Hold,
        _ => ShadeKind::Crash,
    }
}

/// The kind of interval a closing event ends.
fn closed_kind(closer: &SimEvent) -> ShadeKind {
    match closer {
        SimEvent::Repair { .. } => ShadeKind::Partition,
        SimEvent::Release { .. } => ShadeKind::Hold,
        _ => ShadeKind::Crash,
    }
}

/// The two groups of a link fault and whether it is one-way.
fn link_groups(event: &SimEvent) -> Option<(BTreeSet<String>, BTreeSet<String>, bool)> {
    let set = |hosts: &[String]| hosts.iter().cloned().collect::<BTreeSet<String>>();
    match event {
        SimEvent::Partition {
            from, to, oneway, ..
        }
        | SimEvent::Repair {
            from, to, oneway, ..
        } => Some((set(from), set(to), *oneway)),
        SimEvent::Hold { from, to, .. } | SimEvent::Release { from, to, .. } => {
            Some((set(from), set(to), false))
        }
        _ => None,
    }
}

/// What pairs an opening event with its closing one: the server for crashes; for link
/// faults the two groups (in either order unless one-way), so that `repair` of `[Bona],
/// [Clark]` closes `partition` of `[Clark], [Bona]`.
fn interval_key(event: &SimEvent) -> Option<String> {
    if let Some(server) = event.memory_lost() {
        return Some(server.to_string());
    }
    let (from, to, oneway) = link_groups(event)?;
    let (a, b) = if oneway || from <= to {
        (from, to)
    } else {
        (to, from)
    };
    Some(format!("{a:?}|{b:?}|{oneway}"))
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
        ShadeKind::Crash => match start.sim_event().and_then(SimEvent::memory_lost) {
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
    let Some((from, to, oneway)) = start.sim_event().and_then(link_groups) else {
        return Vec::new();
    };
    let list = |hosts: &BTreeSet<String>| short_list(hosts);
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
fn fault_marks(event: &TraceEvent, sim: &SimEvent, columns: &Columns) -> Vec<Mark> {
    let (hosts, label): (BTreeSet<String>, String) = match sim {
        SimEvent::Latency {
            from, to, latency, ..
        } => (
            from.iter().cloned().collect(),
            format!("latency to {}: {latency}", to.join(",")),
        ),
        SimEvent::Skew { server, by, .. } => ([server.clone()].into(), format!("clock skew {by}")),
        SimEvent::PlacesFault { settings, .. } => (
            [PLACES_HOST.to_string()].into(),
            places_fault_label(settings),
        ),
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
fn places_fault_label(settings: &std::collections::BTreeMap<String, String>) -> String {
    let settings: Vec<String> = settings
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    format!("Places: {}", settings.join(" "))
}
