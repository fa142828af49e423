//! Lamport (space-time) diagrams of a trace, as SVG or as a standalone HTML page.
//!
//! One vertical line per host (herd servers in herd order, then `places`, then one column
//! per client in name order), simulated time running down, and one arrow per message,
//! coloured by kind. The trace records events, not messages, so `model` pairs each send
//! with its receipt by the fields both ends log; a send with no receipt is drawn as lost (an
//! arrow ending in an X). Partitions, held links and crashes shade the columns they affect.
//!
//! Module map:
//! - `parts` (bottom): the pieces of a drawing in trace terms (columns, arrows, shades,
//!   marks) and an event's hover text; `versions` names each client's locations `v1`, `v2`,
//!   ...; `scale` is the piecewise time scale that keeps bursts legible and quiet stretches
//!   short; `layout` places columns and the plot and writes numbers and text into SVG.
//! - `pairing` finds the messages, `faults` the shaded intervals (both on `parts`).
//! - `model`: everything to draw, built from those two passes.
//! - `legend` (the key, axis and column heads) and then `render` (the SVG body); `page` the
//!   HTML around it.
//!
//! The output is a pure function of the scenario, the trace and the window: no map is
//! iterated in hash order, every coordinate is printed with one decimal, and nothing refers
//! to a font, script or file outside the document.

use std::time::Duration;

use crate::scenario::Scenario;
use crate::trace::Trace;

mod faults;
mod layout;
mod legend;
mod model;
mod page;
mod pairing;
mod parts;
mod render;
mod scale;
mod versions;

#[cfg(test)]
mod tests;

/// The part of the run to draw; `None` means from the start / to the end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub from: Option<Duration>,
    pub to: Option<Duration>,
}

impl Window {
    /// The window as a closed interval: from 0, to the later of the last event and the
    /// scenario's end, so that intervals left open (a partition never repaired) still show
    /// where the run stopped.
    fn bounds(&self, scenario: &Scenario, trace: &Trace) -> (Duration, Duration) {
        let last = trace.events.last().map_or(Duration::ZERO, |e| e.at);
        let from = self.from.unwrap_or(Duration::ZERO);
        let to = self.to.unwrap_or(last.max(scenario.duration));
        (from, to.max(from))
    }
}

/// The diagram of `trace` (a run of `scenario`) within `window`, as an SVG document.
pub fn svg(scenario: &Scenario, trace: &Trace, window: Window) -> String {
    let model = model::Model::build(scenario, trace);
    let (from, to) = window.bounds(scenario, trace);
    let title = format!("{} (seed {})", scenario.name, scenario.seed);
    render::svg(&model, &title, from, to)
}

/// The same diagram in a minimal HTML page: the scenario's name and story, a short legend,
/// and the SVG inline (its arrows carry `<title>`s, so hovering shows the events).
pub fn html(scenario: &Scenario, trace: &Trace, window: Window) -> String {
    let (from, to) = window.bounds(scenario, trace);
    page::html(scenario, &svg(scenario, trace, window), from, to)
}

/// Every start tag has its end tag, in order (self-closing tags, comments and declarations
/// aside): a cheap structural check of a drawing, enough to catch a renderer that forgets to
/// close what it opens. The tests run it on every drawing they make.
pub fn tags_balance(xml: &str) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').ok_or("a tag is not closed")? + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("");
        if tag.starts_with('/') {
            match open.pop() {
                Some(top) if top == name => {}
                top => return Err(format!("</{name}> closes {top:?}")),
            }
        } else {
            open.push(name);
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("left open: {open:?}"))
    }
}
