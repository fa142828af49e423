//! Layout helpers shared by the SVG body and its legend: where columns and the plot sit, and
//! how numbers and text are written into SVG. Kept below both, so the body and the legend
//! never import each other.

use std::fmt::Write as _;

use super::scale::TimeScale;

/// Width of the time axis on the left.
pub const AXIS_PX: f64 = 104.0;
/// Width of one host's column, when the columns fit in [`PLOT_WIDTH_PX`]...
pub const COLUMN_PX: f64 = 132.0;
/// ... and the least it shrinks to when there are many hosts.
pub const COLUMN_PX_MIN: f64 = 80.0;
/// The width the columns try to fit in (a laptop screen).
pub const PLOT_WIDTH_PX: f64 = 1240.0;
/// Space above the first row and below the last.
pub const PLOT_PAD_PX: f64 = 14.0;

/// Where things go: column x positions and the time scale.
pub struct Layout {
    pub column_px: f64,
    pub scale: TimeScale,
    pub width: f64,
}

impl Layout {
    pub fn x(&self, column: usize) -> f64 {
        AXIS_PX + self.column_px * (column as f64 + 0.5)
    }

    pub fn plot_top(&self) -> f64 {
        self.scale.top() - PLOT_PAD_PX
    }

    pub fn plot_bottom(&self) -> f64 {
        self.scale.bottom() + PLOT_PAD_PX
    }
}

/// A pixel value with one decimal (never `-0.0`).
pub fn px(value: f64) -> String {
    let text = format!("{value:.1}");
    if text == "-0.0" {
        "0.0".to_string()
    } else {
        text
    }
}

/// Text for XML content and attribute values: markup characters escaped, control characters
/// (not allowed in XML 1.0) shown as `\xNN`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}
