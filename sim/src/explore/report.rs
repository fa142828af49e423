//! The explore report: features reached against runs, for the explorer and the swarm on the
//! same budget, as a Markdown table and a hand-written SVG plot; and the canary table of
//! `--against-swarm` (runs until each canary was found, median over search seeds).

use std::fmt::Write as _;

use super::search::Summary;

/// Features reached after `runs` runs (the last batch at or before it).
pub fn features_at(history: &[(usize, usize)], runs: usize) -> usize {
    history
        .iter()
        .take_while(|(r, _)| *r <= runs)
        .last()
        .map_or(0, |(_, f)| *f)
}

/// Run counts to tabulate: doubling from 8 up to `runs`, and `runs` itself.
fn checkpoints(runs: usize) -> Vec<usize> {
    let mut points = Vec::new();
    let mut at = 8;
    while at < runs {
        points.push(at);
        at *= 2;
    }
    points.push(runs);
    points
}

/// A Markdown table's header: `first` (aligned by `rule`), then `STRATEGY what` per search.
fn header(searches: &[&Summary], first: &str, rule: &str, what: &str) -> String {
    let mut out = format!("| {first} |");
    for s in searches {
        let _ = write!(out, " {} {what} |", s.strategy.as_str());
    }
    let _ = write!(out, "\n|{rule}|{}\n", "---:|".repeat(searches.len()));
    out
}

/// The features-against-runs table of several searches on one budget.
pub fn table(searches: &[&Summary]) -> String {
    let runs = searches.iter().map(|s| s.runs).max().unwrap_or(0);
    let mut out = header(searches, "runs", "---:", "features");
    for at in checkpoints(runs) {
        let _ = write!(out, "| {at} |");
        for s in searches {
            let _ = write!(out, " {} |", features_at(&s.history, at));
        }
        out.push('\n');
    }
    out
}

/// How many runs of each search hit each sometimes property, rarest (in the last search, the
/// baseline) first: the rare corners a guided search should reach more often.
pub fn sometimes_table(searches: &[&Summary]) -> String {
    let hits = |s: &Summary, name: &str| s.corpus.seen.get(name).copied().unwrap_or(0);
    let mut names: Vec<String> = searches
        .iter()
        .flat_map(|s| s.corpus.seen.keys())
        .filter(|k| k.starts_with("sometimes:"))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    if let Some(baseline) = searches.last() {
        names.sort_by_key(|n| hits(baseline, n));
    }
    let mut out = header(searches, "property", "---", "runs");
    for name in &names {
        let _ = write!(out, "| `{}` |", name.trim_start_matches("sometimes:"));
        for s in searches {
            let _ = write!(out, " {} |", hits(s, name));
        }
        out.push('\n');
    }
    out
}

/// Series colours, in order.
const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// A line plot of features against runs, one line per search, as standalone SVG.
pub fn svg(searches: &[&Summary]) -> String {
    let (w, h, left, bottom) = (640.0, 360.0, 60.0, 40.0);
    let runs = searches.iter().map(|s| s.runs).max().unwrap_or(1).max(1) as f64;
    let most = searches
        .iter()
        .flat_map(|s| s.history.iter().map(|(_, f)| *f))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |r: usize| left + (w - left - 20.0) * r as f64 / runs;
    let y = |f: usize| h - bottom - (h - bottom - 20.0) * f as f64 / most;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(out, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    let (x0, y0) = (x(0), y(0));
    let _ = writeln!(
        out,
        "<path d=\"M{x0:.1},20 L{x0:.1},{y0:.1} L{:.1},{y0:.1}\" stroke=\"black\" fill=\"none\"/>",
        w - 20.0
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">runs (0 to {runs})</text>",
        (w + left) / 2.0,
        h - 8.0
    );
    let _ = writeln!(
        out,
        "<text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" \
         text-anchor=\"middle\">features (0 to {most})</text>",
        h / 2.0,
        h / 2.0
    );
    for (i, s) in searches.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = s
            .history
            .iter()
            .map(|(r, f)| format!("{:.1},{:.1}", x(*r), y(*f)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" stroke=\"{colour}\" stroke-width=\"2\" fill=\"none\"/>",
            points.join(" ")
        );
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" fill=\"{colour}\">{} ({} features)</text>",
            left + 10.0,
            30 + 16 * i,
            s.strategy.as_str(),
            features_at(&s.history, s.runs)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The median of run counts, `None` counted as not found (larger than any found).
pub fn median(mut runs: Vec<Option<usize>>) -> Option<usize> {
    runs.sort_by_key(|r| r.unwrap_or(usize::MAX));
    runs.get(runs.len() / 2).copied().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::Strategy;

    fn summary(strategy: Strategy, history: Vec<(usize, usize)>) -> Summary {
        let mut corpus = crate::explore::Corpus::default();
        corpus.seen.insert(
            "sometimes:tie_broken_by_origin".into(),
            history.len() as u64,
        );
        Summary {
            strategy,
            runs: history.last().map_or(0, |(r, _)| *r),
            discarded: 0,
            history,
            failures: Vec::new(),
            stopped_at: None,
            corpus,
            wall: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn the_tables_put_each_search_in_its_own_column() {
        let explore = summary(Strategy::Explore, vec![(0, 0), (8, 40), (16, 50)]);
        let swarm = summary(Strategy::Swarm, vec![(0, 0), (16, 45)]);
        assert_eq!(
            table(&[&explore, &swarm]),
            "| runs | explore features | swarm features |\n|---:|---:|---:|\n\
             | 8 | 40 | 0 |\n| 16 | 50 | 45 |\n"
        );
        assert_eq!(
            sometimes_table(&[&explore, &swarm]),
            "| property | explore runs | swarm runs |\n|---|---:|---:|\n\
             | `tie_broken_by_origin` | 3 | 2 |\n"
        );
    }

    #[test]
    fn a_median_counts_a_miss_as_worse_than_any_find() {
        assert_eq!(median(vec![Some(9), None, Some(3)]), Some(9));
        assert_eq!(median(vec![None, None, Some(3)]), None);
        assert_eq!(median(vec![Some(4)]), Some(4));
    }

    #[test]
    fn features_at_takes_the_last_batch_not_after_the_count() {
        let history = [(0, 1), (8, 5), (16, 9)];
        assert_eq!(features_at(&history, 12), 5);
        assert_eq!(features_at(&history, 16), 9);
        assert_eq!(features_at(&history, 99), 9);
    }
}
