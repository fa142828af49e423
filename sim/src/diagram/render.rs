//! The SVG document: a model laid out on a window of the run. Columns left to right, time
//! down; shades under lifelines under arrows under dots under labels, so nothing important
//! hides. Labels that would overlap another are moved along their arrow or left to the hover
//! text. Coordinates are printed with one decimal, so the bytes never depend on float noise.

use std::fmt::Write as _;
use std::time::Duration;

use super::layout::{
    AXIS_PX, COLUMN_PX, COLUMN_PX_MIN, Layout, PLOT_PAD_PX, PLOT_WIDTH_PX, escape, px,
};
use super::legend;
use super::model::Model;
use super::parts::{Arrow, Kind, Mark, MarkStyle, Shade};
use super::scale::TimeScale;

/// How far a lost message travels before its X: this share of the way to its receiver, but
/// at most [`LOST_COLUMNS_MAX`] columns, so that the X never sits on another host's line.
const LOST_SHARE: f64 = 0.45;
const LOST_COLUMNS_MAX: f64 = 0.5;
/// How far down a lost message's X is drawn from its send.
const LOST_DROP_PX: f64 = 12.0;
/// A label line's height, for moving a forced label below one it would overlap.
const LABEL_LINE_PX: f64 = 12.0;
/// How many lines a forced label may move down to find room.
const FORCED_SHIFTS_MAX: usize = 8;
/// Font size of labels on arrows, dots and shades.
pub const LABEL_FONT_PX: f64 = 10.5;

/// The whole SVG document for `model` between `from` and `to`.
pub fn svg(model: &Model, title: &str, from: Duration, to: Duration) -> String {
    let count = model.columns.len().max(1) as f64;
    let column_px = (PLOT_WIDTH_PX / count).clamp(COLUMN_PX_MIN, COLUMN_PX);
    let width = AXIS_PX + column_px * count + 16.0;
    let mut head = String::new();
    let header_bottom = legend::header(&mut head, title, from, to, width);
    let scale = TimeScale::new(
        model.times.iter().copied(),
        from,
        to,
        header_bottom + PLOT_PAD_PX,
    );
    let layout = Layout {
        column_px,
        scale,
        width,
    };
    let height = legend::footer_bottom(&layout);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#,
        w = px(width),
        h = px(height)
    );
    legend::defs(&mut out);
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    out.push_str(&head);
    let mut labels = Labels::default();
    shades(&mut out, &mut labels, &model.shades, &layout);
    legend::columns(&mut out, &model.columns, &layout);
    legend::axis(&mut out, &layout, &model.key_times);
    arrows(&mut out, &mut labels, &model.arrows, &layout);
    marks(&mut out, &mut labels, &model.marks, &layout);
    out.push_str(&labels.text);
    out.push_str("</svg>\n");
    out
}

/// Labels placed so far, and their SVG (drawn last, above everything).
#[derive(Default)]
pub struct Labels {
    boxes: Vec<[f64; 4]>,
    text: String,
}

impl Labels {
    /// Places `text` at the first of `spots` (x, y of its baseline, anchor) where it overlaps
    /// no earlier label; with `force`, where none is free, at the first spot moved down a line
    /// at a time until it overlaps nothing (at most [`FORCED_SHIFTS_MAX`] lines), else there.
    fn place(&mut self, text: &str, class: &str, spots: &[Spot], force: bool) {
        let shifted: Vec<Spot> = match (force, spots.first()) {
            (true, Some(&(x, y, anchor))) => (1..=FORCED_SHIFTS_MAX)
                .map(|k| (x, y + LABEL_LINE_PX * k as f64, anchor))
                .collect(),
            _ => Vec::new(),
        };
        let spots: Vec<Spot> = spots.iter().copied().chain(shifted).collect();
        let spots = spots.as_slice();
        let width = text.chars().count() as f64 * LABEL_FONT_PX * 0.56;
        let bounds = |&(x, y, anchor): &Spot| {
            let x0 = match anchor {
                "middle" => x - width / 2.0,
                "end" => x - width,
                _ => x,
            };
            [x0, y - LABEL_FONT_PX, x0 + width, y + 2.0]
        };
        let overlaps = |b: &[f64; 4], o: &[f64; 4]| {
            !(b[2] < o[0] || o[2] < b[0] || b[3] < o[1] || o[3] < b[1])
        };
        let free = spots.iter().find(|spot| {
            let b = bounds(spot);
            self.boxes.iter().all(|o| !overlaps(&b, o))
        });
        let Some(spot) = free.or_else(|| spots.first().filter(|_| force)) else {
            return;
        };
        self.boxes.push(bounds(spot));
        let _ = writeln!(
            self.text,
            r#"<text class="lbl {class}" x="{}" y="{}" text-anchor="{}">{}</text>"#,
            px(spot.0),
            px(spot.1),
            spot.2,
            escape(text)
        );
    }
}

/// Where a label may go: x and y of its baseline, and its `text-anchor`.
type Spot = (f64, f64, &'static str);

/// Each shade: a hatched band on its column, labelled at its top and bottom.
fn shades(out: &mut String, labels: &mut Labels, shades: &[Shade], layout: &Layout) {
    let scale = &layout.scale;
    for shade in shades {
        let end = shade.to.unwrap_or(scale.to());
        if end < scale.from() || shade.from > scale.to() {
            continue;
        }
        let (top, bottom) = (
            scale.y(shade.from.max(scale.from())),
            scale.y(end.min(scale.to())),
        );
        let x = layout.x(shade.column) - layout.column_px * 0.42;
        let class = shade.kind.class();
        let _ = writeln!(
            out,
            r#"<g class="shade {class}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" fill="url(#hatch-{class})"/></g>"#,
            escape(&shade.title),
            px(x),
            px(top),
            px(layout.column_px * 0.84),
            px((bottom - top).max(2.0)),
        );
        let cx = layout.x(shade.column);
        for (i, line) in wrap(&shade.label, layout.column_px).iter().enumerate() {
            let y = top + 12.0 + 12.0 * i as f64;
            labels.place(line, class, &[(cx, y, "middle")], true);
        }
        if shade.to.is_some_and(|t| t <= scale.to()) && !shade.end_label.is_empty() {
            labels.place(
                &shade.end_label,
                class,
                &[(cx, bottom - 4.0, "middle"), (cx, bottom + 12.0, "middle")],
                true,
            );
        }
    }
}

/// `text` in lines of at most about `width_px` (bold label text), broken at spaces.
fn wrap(text: &str, width_px: f64) -> Vec<String> {
    let chars_max = (width_px / (LABEL_FONT_PX * 0.58)).max(1.0) as usize;
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= chars_max => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Where an arrow is drawn: start, end, whether it ends in a head (received inside the
/// window) or an X (lost). `None` when it lies wholly outside the window.
struct Segment {
    start: (f64, f64),
    end: (f64, f64),
    head: bool,
    lost: bool,
}

fn segment(arrow: &Arrow, layout: &Layout) -> Option<Segment> {
    let scale = &layout.scale;
    let (x1, x2) = (layout.x(arrow.from), layout.x(arrow.to));
    let Some(received) = arrow.received else {
        if !scale.contains(arrow.sent) {
            return None;
        }
        let y1 = scale.y(arrow.sent);
        let reach = (LOST_SHARE * (x2 - x1).abs()).min(LOST_COLUMNS_MAX * layout.column_px);
        let end = (
            x1 + reach * (x2 - x1).signum(),
            (y1 + LOST_DROP_PX).min(scale.bottom()),
        );
        return Some(Segment {
            start: (x1, y1),
            end,
            head: false,
            lost: true,
        });
    };
    if received < scale.from() || arrow.sent > scale.to() {
        return None;
    }
    let span = (received - arrow.sent).as_secs_f64();
    let at = |t: Duration| {
        let share = if span > 0.0 {
            (t - arrow.sent).as_secs_f64() / span
        } else {
            0.0
        };
        (x1 + share * (x2 - x1), scale.y(t))
    };
    Some(Segment {
        start: at(arrow.sent.max(scale.from())),
        end: at(received.min(scale.to())),
        head: received <= scale.to(),
        lost: false,
    })
}

/// The arrows, quiet ones first so that the ones that matter are drawn over them.
fn arrows(out: &mut String, labels: &mut Labels, arrows: &[Arrow], layout: &Layout) {
    let mut order: Vec<&Arrow> = arrows.iter().collect();
    order.sort_by_key(|a| (!a.faint, a.stale));
    let mut labelled = Vec::new();
    for arrow in order {
        let Some(segment) = segment(arrow, layout) else {
            continue;
        };
        draw_arrow(out, arrow, &segment);
        if let Some(label) = &arrow.label {
            labelled.push((arrow, segment, label));
        }
    }
    // Warnings first, then losses and reconciliations, then the rest: when labels collide,
    // the one that explains a fault wins the spot.
    labelled.sort_by_key(|(a, s, _)| (!a.stale, !s.lost, a.kind != Kind::Reconcile));
    for (arrow, segment, label) in labelled {
        let (x, y) = segment.end;
        let spots: Vec<Spot> = if segment.lost {
            vec![
                (x, y + 14.0, "middle"),
                (x, y - 7.0, "middle"),
                (x + 8.0, y + 4.0, "start"),
            ]
        } else {
            [0.5, 0.35, 0.65, 0.2, 0.8]
                .iter()
                .map(|share| {
                    let x = segment.start.0 + share * (segment.end.0 - segment.start.0);
                    let y = segment.start.1 + share * (segment.end.1 - segment.start.1);
                    (x, y - 3.0, "middle")
                })
                .collect()
        };
        let class = match (arrow.stale, segment.lost) {
            (true, _) => "stale",
            (_, true) => "lost",
            _ => arrow.kind.class(),
        };
        labels.place(label, class, &spots, arrow.stale);
    }
}

fn draw_arrow(out: &mut String, arrow: &Arrow, segment: &Segment) {
    let kind = arrow.kind.class();
    let mut class = format!("msg {kind}");
    for (on, name) in [
        (arrow.faint, "faint"),
        (arrow.stale, "stale"),
        (segment.lost, "lost"),
    ] {
        if on {
            class.push(' ');
            class.push_str(name);
        }
    }
    let head = if segment.head {
        format!(r#" marker-end="url(#head-{kind})""#)
    } else {
        String::new()
    };
    let ((x1, y1), (x2, y2)) = (segment.start, segment.end);
    let _ = write!(
        out,
        r#"<g class="{class}"><title>{}</title><line x1="{}" y1="{}" x2="{}" y2="{}"{head}/>"#,
        escape(&arrow.title),
        px(x1),
        px(y1),
        px(x2),
        px(y2)
    );
    if arrow.stale {
        let _ = write!(
            out,
            r#"<circle class="ring" cx="{}" cy="{}" r="8"/>"#,
            px(x1),
            px(y1)
        );
    }
    if segment.lost {
        let d = 5.0;
        let _ = write!(
            out,
            r#"<path class="x" d="M{} {} L{} {} M{} {} L{} {}"/>"#,
            px(x2 - d),
            px(y2 - d),
            px(x2 + d),
            px(y2 + d),
            px(x2 - d),
            px(y2 + d),
            px(x2 + d),
            px(y2 - d)
        );
    }
    out.push_str("</g>\n");
}

/// A dot per event inside the window, with its text on hover; new records and fault steps
/// labelled beside it.
fn marks(out: &mut String, labels: &mut Labels, marks: &[Mark], layout: &Layout) {
    for mark in marks.iter().filter(|m| layout.scale.contains(m.at)) {
        let (x, y) = (layout.x(mark.column), layout.scale.y(mark.at));
        let (class, r) = match mark.style {
            MarkStyle::NewRecord => ("new", 3.8),
            MarkStyle::Refused => ("refused", 2.6),
            MarkStyle::Error => ("error", 3.6),
            MarkStyle::Fault => ("fault", 4.0),
            MarkStyle::Plain => ("plain", 1.9),
        };
        let _ = writeln!(
            out,
            r#"<g class="mk {class}"><title>{}</title><circle cx="{}" cy="{}" r="{r}"/></g>"#,
            escape(&mark.title),
            px(x),
            px(y)
        );
        if let Some(label) = &mark.label {
            let spots = [(x + 6.0, y + 4.0, "start"), (x - 6.0, y + 4.0, "end")];
            labels.place(label, class, &spots, mark.style == MarkStyle::Fault);
        }
    }
}
