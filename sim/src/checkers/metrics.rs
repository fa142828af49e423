//! `metrics` (safety): what a server's metrics say agrees with what its trace says happened.
//!
//! A server stopped gracefully logs its scrape as the stop is asked for (`metrics`, the
//! Prometheus text an operator would read on `/metrics`). Against the trace of that server's
//! last life (since its last `listening`), up to that event:
//!
//! - `herd_records`: the clients with a record stored `new`;
//! - `herd_commands_total{kind, outcome}`: the replies, by the first word of the line each
//!   answers (`iamat`, `whatsat`, `other`) and whether it is `? ...` (`invalid`);
//! - `herd_refusals_total{reason}`: `line_refused` by reason, `link_refused`, and for
//!   `connections_max` at least the refusals logged (a refusal is logged at most once a
//!   second with the count since the last one, so the last few may not be logged yet; none
//!   logged means none happened);
//! - per neighbour: `herd_link_up` as the last `peer_up` / `peer_down` of each direction left
//!   it, `herd_link_reconciles_total` the `reconcile`s, `herd_link_records_received_total` the
//!   records stored from it (any outcome), and `herd_link_records_sent_total` at least the
//!   `flood_sent` and at most those plus the records the `reconcile`s announced;
//! - `herd_connections_open`: connections opened less those closed;
//! - `herd_places_answers_total{outcome}`: `cached`, `merged`, `over_rate` as `places_spared`
//!   says, and every other `places_request` as `called` (or `offline`).
//!
//! The scrape is read with this checker's own reading of the text format, not the server's
//! code. A server that crashed at the end has no scrape, and is not judged. Where a
//! neighbour's scrape comes first (real mode stops servers one after another), that
//! neighbour's links and the count of open connections may have changed after the trace
//! ended, and are not judged.

use std::collections::BTreeMap;

use server::events::{Direction, Event, LineRefusal, Source};
use server::store::Outcome;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::TraceEvent;

pub struct MetricsAgree;

/// A sample's name and its labels (less `server`), sorted: `name{a="x",b="y"}`.
type Samples = BTreeMap<String, f64>;

/// Reads the Prometheus text format: `name{label="value",...} value` lines, comments skipped.
/// Label values here are plain words, so no escapes are read.
pub fn parse_scrape(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut labels: Vec<&str> = labels
            .split(',')
            .filter(|l| !l.is_empty() && !l.starts_with("server="))
            .collect();
        labels.sort();
        samples.insert(key(name, &labels), value);
    }
    samples
}

fn key(name: &str, labels: &[&str]) -> String {
    if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

/// `name{k="v",...}` with the labels sorted, as [`parse_scrape`] keys samples.
fn sample(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    labels.sort();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    key(name, &labels)
}

/// The reason word a refused link line is counted under.
fn line_reason(reason: &LineRefusal) -> &'static str {
    match reason {
        LineRefusal::TooLong => "line_too_long",
        LineRefusal::TooFarAhead => "too_far_ahead",
        LineRefusal::IdTooLong => "id_too_long",
        LineRefusal::TextTooLong => "text_too_long",
        LineRefusal::NotALinkLine => "not_a_link_line",
        LineRefusal::UnknownOrigin => "unknown_origin",
        LineRefusal::OwnOrigin(_) => "own_origin",
        LineRefusal::AuthenticatedOrigin(_) => "authenticated_origin",
        LineRefusal::NotClassicAddress(_) => "not_classic_address",
        LineRefusal::Invalid(_) => "invalid_line",
    }
}

fn kind(line: &str) -> &'static str {
    match line.split_whitespace().next() {
        Some("IAMAT") => "iamat",
        Some("WHATSAT") => "whatsat",
        _ => "other",
    }
}

/// What one server's trace says its metrics must be: exact values, and bounds.
#[derive(Default)]
struct Expected {
    exact: BTreeMap<String, f64>,
    /// Sample -> (at least, at most).
    between: BTreeMap<String, (f64, f64)>,
}

impl Expected {
    fn add(&mut self, sample: String, n: f64) {
        *self.exact.entry(sample).or_default() += n;
    }
}

/// The expectations from one server's events of its last life, in order.
fn expected(events: &[&Event], neighbours: &[String]) -> Expected {
    let mut want = Expected::default();
    let mut stored = std::collections::BTreeSet::new();
    let mut last_line: BTreeMap<u64, String> = BTreeMap::new();
    let mut up: BTreeMap<(String, &'static str), bool> = BTreeMap::new();
    let mut sent: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut refused_connections = 0.0;
    let (mut open, mut requests, mut spared) = (0.0, 0.0, 0.0);
    for name in neighbours {
        for d in ["inbound", "outbound"] {
            up.insert((name.clone(), d), false);
        }
        want.add(sample("herd_link_reconciles_total", &[("peer", name)]), 0.0);
        want.add(
            sample("herd_link_records_received_total", &[("peer", name)]),
            0.0,
        );
    }
    for event in events {
        match event {
            Event::RecordStored {
                record,
                outcome,
                source,
            } => {
                if *outcome == Outcome::New {
                    stored.insert(record.client.clone());
                }
                if let Source::Peer(peer) = source {
                    want.add(
                        sample("herd_link_records_received_total", &[("peer", peer)]),
                        1.0,
                    );
                }
            }
            Event::ClientLine { conn, line } => {
                last_line.insert(*conn, line.clone());
            }
            Event::Reply { conn, line, .. } => {
                want.add(command_sample(last_line.get(conn), line), 1.0);
            }
            Event::LineRefused { reason, .. } => want.add(
                sample("herd_refusals_total", &[("reason", line_reason(reason))]),
                1.0,
            ),
            Event::LinkRefused { reason, .. } => want.add(
                sample("herd_refusals_total", &[("reason", reason.metric_word())]),
                1.0,
            ),
            Event::ConnectionRefused { suppressed, .. } => {
                refused_connections += 1.0 + *suppressed as f64;
            }
            Event::PeerUp { peer, direction }
            | Event::PeerDown {
                peer, direction, ..
            } => {
                let d = match direction {
                    Direction::Inbound => "inbound",
                    Direction::Outbound => "outbound",
                };
                up.insert((peer.clone(), d), matches!(event, Event::PeerUp { .. }));
            }
            Event::Reconcile { peer, records, .. } => {
                want.add(sample("herd_link_reconciles_total", &[("peer", peer)]), 1.0);
                sent.entry(peer).or_default().1 += *records as f64;
            }
            Event::FloodSent { peer, .. } => {
                let bounds = sent.entry(peer).or_default();
                bounds.0 += 1.0;
                bounds.1 += 1.0;
            }
            Event::ConnectionOpened { .. } => open += 1.0,
            Event::ConnectionClosed { .. } => open -= 1.0,
            Event::PlacesRequest { .. } => requests += 1.0,
            Event::PlacesSpared { how } => {
                spared += 1.0;
                want.add(
                    sample("herd_places_answers_total", &[("outcome", how)]),
                    1.0,
                );
            }
            _ => {}
        }
    }
    want.add("herd_records".into(), stored.len() as f64);
    want.add("herd_connections_open".into(), open);
    for ((peer, d), is_up) in up {
        let name = sample("herd_link_up", &[("direction", d), ("peer", &peer)]);
        want.add(name, if is_up { 1.0 } else { 0.0 });
    }
    for (peer, bounds) in sent {
        want.between.insert(
            sample("herd_link_records_sent_total", &[("peer", peer)]),
            bounds,
        );
    }
    let connections = sample("herd_refusals_total", &[("reason", "connections_max")]);
    let most = if refused_connections > 0.0 {
        f64::MAX
    } else {
        0.0
    };
    want.between
        .insert(connections, (refused_connections, most));
    want.between.insert(
        "herd_places_answers_called_or_offline".into(),
        (requests - spared, requests - spared),
    );
    want
}

/// The `herd_commands_total` sample a reply counts in: the kind of the line it answers
/// (`asked`, the connection's last line) and whether it was answered or invalid.
fn command_sample(asked: Option<&String>, reply: &str) -> String {
    let kind = asked.map_or("other", |l| kind(l));
    let outcome = if reply.starts_with('?') {
        "invalid"
    } else {
        "answered"
    };
    sample(
        "herd_commands_total",
        &[("kind", kind), ("outcome", outcome)],
    )
}

/// Every difference between what `scrape` shows and what `want` owes.
fn differences(scrape: &Samples, want: &Expected) -> Vec<String> {
    let mut found = Vec::new();
    let value = |name: &str| scrape.get(name).copied().unwrap_or(0.0);
    for (name, n) in &want.exact {
        if value(name) != *n {
            found.push(format!(
                "{name} is {} where the trace says {n}",
                value(name)
            ));
        }
    }
    // Counted families with no trace behind them must be zero.
    for (name, n) in scrape {
        let counted = [
            "herd_commands_total",
            "herd_refusals_total",
            "herd_places_answers_total",
        ];
        let family = name.split('{').next().unwrap_or_default();
        if counted.contains(&family)
            && *n != 0.0
            && !want.exact.contains_key(name)
            && !want.between.contains_key(name)
            && !(family == "herd_places_answers_total"
                && (name.contains("\"called\"") || name.contains("\"offline\"")))
        {
            found.push(format!("{name} is {n} where the trace says 0"));
        }
    }
    for (name, (least, most)) in &want.between {
        let got = if name == "herd_places_answers_called_or_offline" {
            value(&sample(
                "herd_places_answers_total",
                &[("outcome", "called")],
            )) + value(&sample(
                "herd_places_answers_total",
                &[("outcome", "offline")],
            ))
        } else {
            value(name)
        };
        if got < *least || got > *most {
            let range = if most == &f64::MAX {
                format!("at least {least}")
            } else if least == most {
                format!("{least}")
            } else {
                format!("{least} to {most}")
            };
            found.push(format!("{name} is {got} where the trace says {range}"));
        }
    }
    found
}

impl Checker for MetricsAgree {
    fn name(&self) -> CheckerName {
        CheckerName::Metrics
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut violations = Vec::new();
        let mut judged = 0;
        let links = run.persistent_links.iter().chain(&run.classic_links);
        for server in &run.servers {
            let events: Vec<&TraceEvent> = run
                .trace
                .events
                .iter()
                .filter(|e| &e.host == server)
                .collect();
            let Some(scrape_at) = events
                .iter()
                .rposition(|e| matches!(e.server_event(), Some(Event::Metrics { .. })))
            else {
                continue;
            };
            let life_start = events[..scrape_at]
                .iter()
                .rposition(|e| matches!(e.server_event(), Some(Event::Listening { .. })))
                .unwrap_or(0);
            let life: Vec<&Event> = events[life_start..scrape_at]
                .iter()
                .filter_map(|e| e.server_event())
                .collect();
            let Some(Event::Metrics { text }) = events[scrape_at].server_event() else {
                continue;
            };
            let neighbours: Vec<String> = links
                .clone()
                .filter_map(|(a, b)| {
                    (a == server)
                        .then(|| b.clone())
                        .or_else(|| (b == server).then(|| a.clone()))
                })
                .collect();
            judged += 1;
            let mut want = expected(&life, &neighbours);
            let scrape_time = events[scrape_at].at;
            let gone: Vec<&String> = neighbours
                .iter()
                .filter(|n| {
                    run.trace.events.iter().any(|e| {
                        &e.host == *n
                            && e.at < scrape_time
                            && matches!(e.server_event(), Some(Event::Metrics { .. }))
                    })
                })
                .collect();
            if !gone.is_empty() {
                want.exact.remove("herd_connections_open");
                want.exact.retain(|name, _| {
                    !gone.iter().any(|n| {
                        name.starts_with("herd_link_up") && name.contains(&format!("peer=\"{n}\""))
                    })
                });
            }
            for difference in differences(&parse_scrape(text), &want) {
                violations.push(Violation::new(
                    events[scrape_at].at,
                    format!("{server}: {difference}"),
                ));
            }
        }
        Verdict::judge(
            CheckerName::Metrics,
            violations,
            Some(format!("{judged} servers' scrapes held to their traces")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_reads_as_samples_without_the_server_label() {
        let text = "# HELP x y\n# TYPE x counter\nherd_commands_total{server=\"A\",outcome=\"invalid\",kind=\"iamat\"} 2\nherd_records{server=\"A\"} 3\n";
        let samples = parse_scrape(text);
        assert_eq!(
            samples.get(&sample(
                "herd_commands_total",
                &[("kind", "iamat"), ("outcome", "invalid")]
            )),
            Some(&2.0)
        );
        assert_eq!(samples.get("herd_records"), Some(&3.0));
    }

    #[test]
    fn a_counter_left_behind_by_the_trace_is_caught() {
        let events = [
            Event::ClientLine {
                conn: 1,
                line: "IAMAT kiwi +1+1 1".into(),
            },
            Event::Reply {
                conn: 1,
                line: "? IAMAT kiwi +1+1 1".into(),
                bytes: 20,
            },
        ];
        let refs: Vec<&Event> = events.iter().collect();
        let want = expected(&refs, &[]);
        let right = parse_scrape(
            "herd_commands_total{server=\"A\",kind=\"iamat\",outcome=\"invalid\"} 1\nherd_records{server=\"A\"} 0\n",
        );
        assert!(differences(&right, &want).is_empty());
        let drifted = parse_scrape("herd_records{server=\"A\"} 0\n");
        let found = differences(&drifted, &want);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("is 0 where the trace says 1"));
    }
}
