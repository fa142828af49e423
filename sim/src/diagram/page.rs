//! The HTML page around a diagram: the scenario's name and story, a short key, and the SVG
//! inline. No script, no external font or style: the file is the whole page.

use std::fmt::Write as _;
use std::time::Duration;

use super::layout::escape;
use super::parts::Kind;
use crate::scenario::Scenario;
use crate::trace::fmt_at;

/// The key in words, one entry per message kind, with its colour.
const KEY: [(Kind, &str); 5] = [
    (Kind::Command, "client command"),
    (Kind::Reply, "reply (kiwi v2: kiwi's second location)"),
    (Kind::Flood, "flood"),
    (Kind::Reconcile, "reconciliation"),
    (Kind::Places, "Places"),
];

pub fn html(scenario: &Scenario, svg: &str, from: Duration, to: Duration) -> String {
    let mut out = String::new();
    let name = escape(&scenario.name);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{name}</title>\n<style>\
         body{{font-family:sans-serif;margin:16px;color:#222}}h1{{font-size:20px;margin:0 0 4px}}\
         p{{margin:4px 0;max-width:70em}}\
         .sw{{display:inline-block;width:22px;height:4px;vertical-align:middle;margin-right:6px}}\
         </style>\n</head>\n<body>\n<h1>{name}</h1>"
    );
    let _ = writeln!(
        out,
        "<p>Seed {}, simulated time {} to {}.</p>",
        scenario.seed,
        fmt_at(from),
        fmt_at(to)
    );
    if let Some(description) = &scenario.description {
        let _ = writeln!(out, "<p>{}</p>", escape(description.trim()));
    }
    out.push_str("<p>");
    for (kind, text) in KEY {
        let _ = write!(
            out,
            "<span class=\"sw\" style=\"background:{}\"></span>{text} &nbsp; ",
            kind.colour()
        );
    }
    out.push_str(
        "</p>\n<p>A red X ends a message that never arrived; red hatching is a partition, grey \
         cross-hatching a crashed server; a reply in bold red is stale. Hover an arrow, a dot or \
         a band for the events behind it.</p>\n",
    );
    out.push_str(svg);
    out.push_str("</body>\n</html>\n");
    out
}
