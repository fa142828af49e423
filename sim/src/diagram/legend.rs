//! What explains a diagram: its title and key, the styles and markers every element uses,
//! the column headings and lifelines, and the time axis with real simulated times.

use std::fmt::Write as _;
use std::time::Duration;

use super::layout::{AXIS_PX, Layout, escape, px};
use super::parts::{Column, Kind};
use crate::trace::fmt_at;

/// One row of the key.
const KEY_ROW_PX: f64 = 18.0;
/// Room for the column headings above the plot.
const HEADINGS_PX: f64 = 38.0;
/// A gap at least this long before a row gets that row's time on the axis, if there is room.
const BURST_GAP: Duration = Duration::from_millis(50);

/// Styles of every class the renderer uses; colours of message kinds come from [`Kind`].
fn style() -> String {
    let mut css = String::from(
        ".msg line{stroke-width:1.5}.msg.faint{opacity:.35}.msg.stale line{stroke-width:3.5}\
         .msg.lost line{stroke-dasharray:5 3}.x{stroke:#D55E00;stroke-width:2.6;fill:none}\
         .mk.new circle{fill:#222}.mk.refused circle{fill:#fff;stroke:#777;stroke-width:1.2}\
         .mk.error circle{fill:#D55E00}.mk.fault circle{fill:#7B5EA7}.mk.plain circle{fill:#aaa}\
         .lbl{font-size:10.5px;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\
         .lbl.stale{fill:#C00000;font-weight:bold;font-size:12px}\
         .lbl.partition{fill:#B03A00;font-weight:bold}.lbl.crash{fill:#333;font-weight:bold}\
         .lbl.hold{fill:#8A6D00;font-weight:bold}.lbl.new{fill:#222}.lbl.fault{fill:#7B5EA7}\
         .lbl.error{fill:#D55E00}.lbl.lost{fill:#C04000}.ring{fill:none;stroke:#C00000;stroke-width:2}.life{stroke:#999;stroke-width:1}.grid{stroke:#eee}\
         .axis{stroke:#666;fill:none}.tick{font-size:10px;fill:#333}\
         .gap{font-size:9px;fill:#999;font-style:italic}\
         .host{font-size:13px;font-weight:bold}.role{font-size:10px;fill:#777}\
         .title{font-size:15px;font-weight:bold}.note{font-size:11px;fill:#444}",
    );
    for kind in Kind::ALL {
        let _ = write!(
            css,
            ".msg.{k} line{{stroke:{c}}}.lbl.{k}{{fill:{c}}}",
            k = kind.class(),
            c = kind.colour()
        );
    }
    css
}

/// Styles, arrowheads and hatchings.
pub fn defs(out: &mut String) {
    let _ = writeln!(out, "<defs><style>{}</style>", style());
    for kind in Kind::ALL {
        let _ = writeln!(
            out,
            r#"<marker id="head-{}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="{}"/></marker>"#,
            kind.class(),
            kind.colour()
        );
    }
    for (name, colour, angle, cross) in [
        ("partition", "#D55E00", 45, false),
        ("hold", "#E69F00", -45, false),
        ("crash", "#555555", 45, true),
    ] {
        let cross = if cross {
            format!(
                r#"<line x1="0" y1="4" x2="8" y2="4" stroke="{colour}" stroke-opacity=".5" stroke-width="1.5"/>"#
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            r#"<pattern id="hatch-{name}" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate({angle})"><rect width="8" height="8" fill="{colour}" fill-opacity=".13"/><line x1="4" y1="0" x2="4" y2="8" stroke="{colour}" stroke-opacity=".5" stroke-width="2"/>{cross}</pattern>"#
        );
    }
    out.push_str("</defs>\n");
}

/// The title, the window and the key; returns the y where the plot may start.
pub fn header(out: &mut String, title: &str, from: Duration, to: Duration, width: f64) -> f64 {
    let _ = writeln!(
        out,
        r#"<text class="title" x="12" y="22">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        out,
        r#"<text class="note" x="12" y="39">simulated time {} to {}, running down; quiet stretches are compressed (breaks on the axis). Hover an arrow or a dot for its events.</text>"#,
        fmt_at(from),
        fmt_at(to)
    );
    let bottom = key(out, 56.0, width);
    bottom + HEADINGS_PX
}

/// Width of one cell of the key.
const KEY_CELL_PX: f64 = 252.0;

/// The key, in cells of equal width wrapped to `width`; returns the y below it.
fn key(out: &mut String, top: f64, width: f64) -> f64 {
    let arrow = |kind: Kind| {
        format!(
            r#"<g class="msg {k}"><line x1="0" y1="0" x2="26" y2="0" marker-end="url(#head-{k})"/></g>"#,
            k = kind.class()
        )
    };
    let swatch = |name: &str| {
        format!(r#"<rect x="4" y="-6" width="22" height="12" fill="url(#hatch-{name})"/>"#)
    };
    let dot = |class: &str, r: f64| {
        format!(r#"<g class="mk {class}"><circle cx="14" cy="0" r="{r}"/></g>"#)
    };
    let lost = r#"<g class="msg flood lost"><line x1="0" y1="0" x2="20" y2="0"/><path class="x" d="M16 -5 L26 5 M16 5 L26 -5"/></g>"#;
    let faint = r#"<g class="msg flood faint"><line x1="0" y1="0" x2="26" y2="0"/></g>"#;
    let items: [(String, &str); 14] = [
        (arrow(Kind::Command), "client command"),
        (arrow(Kind::Reply), "reply (kiwi v2: kiwi's 2nd location)"),
        (arrow(Kind::Flood), "flood to a neighbour"),
        (arrow(Kind::Reconcile), "reconciliation (table on link up)"),
        (arrow(Kind::Places), "Places request / answer"),
        (lost.to_string(), "lost message"),
        (faint.to_string(), "faint: changed nothing"),
        (swatch("partition"), "partition: link cut"),
        (swatch("hold"), "link held"),
        (swatch("crash"), "crashed"),
        (dot("new", 3.8), "record stored (new)"),
        (dot("refused", 2.6), "record refused (duplicate, stale)"),
        (dot("error", 3.6), "error"),
        (dot("plain", 1.9), "other event"),
    ];
    let per_row = (((width - 24.0) / KEY_CELL_PX).floor() as usize).max(1);
    for (i, (sample, text)) in items.iter().enumerate() {
        let x = 12.0 + KEY_CELL_PX * (i % per_row) as f64;
        let y = top + KEY_ROW_PX * (i / per_row) as f64;
        let _ = writeln!(
            out,
            r#"<g transform="translate({},{})">{sample}<text class="note" x="34" y="4">{}</text></g>"#,
            px(x),
            px(y),
            escape(text)
        );
    }
    top + KEY_ROW_PX * items.len().div_ceil(per_row) as f64 - KEY_ROW_PX / 2.0
}

/// Column headings above and below the plot, and each host's lifeline.
pub fn columns(out: &mut String, columns: &[Column], layout: &Layout) {
    let (top, bottom) = (layout.plot_top(), layout.plot_bottom());
    for (i, column) in columns.iter().enumerate() {
        let x = px(layout.x(i));
        let _ = writeln!(
            out,
            r#"<line class="life" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
            px(top),
            px(bottom)
        );
        for (name_y, role_y) in [(top - 20.0, top - 7.0), (bottom + 16.0, bottom + 28.0)] {
            let _ = writeln!(
                out,
                r#"<text class="host" x="{x}" y="{}" text-anchor="middle">{}</text><text class="role" x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                px(name_y),
                escape(&column.label),
                px(role_y),
                column.role
            );
        }
    }
}

/// The height of the whole document.
pub fn footer_bottom(layout: &Layout) -> f64 {
    layout.plot_bottom() + 38.0
}

/// The time axis: labelled rows (the window's ends, `key_times`, starts of bursts, then any
/// other row; as many as fit), a faint grid line at the first kinds, and a break where time
/// is compressed.
pub fn axis(out: &mut String, layout: &Layout, key_times: &[Duration]) {
    let scale = &layout.scale;
    let x = px(AXIS_PX - 10.0);
    let _ = writeln!(
        out,
        r#"<line class="axis" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
        px(layout.plot_top()),
        px(layout.plot_bottom())
    );
    let mut wanted = vec![scale.from(), scale.to()];
    wanted.extend_from_slice(key_times);
    wanted.extend(scale.burst_starts(BURST_GAP));
    let gridded = wanted.len();
    wanted.extend(scale.row_times());
    for (t, y, i) in scale.labels(&wanted) {
        let y = px(y);
        if i < gridded {
            let _ = write!(
                out,
                r#"<line class="grid" x1="{}" y1="{y}" x2="{}" y2="{y}"/>"#,
                px(AXIS_PX),
                px(layout.width - 16.0)
            );
        }
        let _ = writeln!(
            out,
            r#"<line class="axis" x1="{}" y1="{y}" x2="{x}" y2="{y}"/><text class="tick" x="{}" y="{y}" dy="3.5" text-anchor="end">{}</text>"#,
            px(AXIS_PX - 14.0),
            px(AXIS_PX - 17.0),
            fmt_at(t),
        );
    }
    for (y, gap) in scale.breaks() {
        axis_break(out, AXIS_PX - 10.0, y, gap);
    }
}

/// A break in the axis at `y`: two slanted strokes, and how much time the gap hides.
fn axis_break(out: &mut String, x: f64, y: f64, gap: Duration) {
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="{}" width="10" height="6" fill="#fff"/><path class="axis" d="M{} {} L{} {} M{} {} L{} {}"/><text class="gap" x="{}" y="{}" text-anchor="end">+{}</text>"##,
        px(x - 5.0),
        px(y - 3.0),
        px(x - 5.0),
        px(y - 1.0),
        px(x + 5.0),
        px(y - 5.0),
        px(x - 5.0),
        px(y + 5.0),
        px(x + 5.0),
        px(y + 1.0),
        px(x - 8.0),
        px(y + 3.0),
        fmt_at(gap),
    );
}
