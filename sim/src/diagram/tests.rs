//! Diagrams of a small hand-made trace: one of every message kind, a lost flood, a crash, a
//! partition, a stale read; windows; determinism.

use std::time::Duration;

use super::model::Model;
use super::parts::{Kind, ShadeKind};
use super::{Window, html, svg};
use crate::scenario::Scenario;
use crate::trace::{SimEvent, Trace, TraceEvent, replay};
use server::events::{Direction, Event};
use server::protocol::Record;
use server::store::Outcome;

const SCENARIO: &str = r#"
name: hand-made
seed: 1
duration: 6s
steps:
  - { at: 0s, iamat: { client: kiwi, server: Clark, location: "+34.068930-118.445127", timestamp: "1700000000" } }
  - { at: 3s, whatsat: { client: kiwi, server: Bailey, radius_km: 10, bound: 5 } }
"#;

const IAMAT: &str = "IAMAT kiwi +34.068930-118.445127 1700000000";
const AT_V1: &str = "AT Clark +0.002000000 kiwi +34.068930-118.445127 1700000000";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn scenario() -> Scenario {
    Scenario::from_yaml_str(SCENARIO, "hand-made.yaml").unwrap_or_else(|e| panic!("{e}"))
}

/// Kiwi's record stamped `timestamp`, taken at Clark.
fn kiwi(timestamp: &str) -> Record {
    replay::at_line(&format!(
        "AT Clark +0.002000000 kiwi +34.068930-118.445127 {timestamp}"
    ))
    .expect("a valid AT line")
}

fn stored(at: u64, host: &str, source: &str, outcome: Outcome, timestamp: &str) -> TraceEvent {
    let source = source.parse().expect("a valid source");
    TraceEvent::server(
        ms(at),
        host,
        Event::RecordStored {
            record: kiwi(timestamp),
            outcome,
            source,
        },
    )
}

fn flood(at: u64, peer: &str) -> TraceEvent {
    TraceEvent::server(
        ms(at),
        "Clark",
        Event::FloodSent {
            peer: peer.into(),
            record: kiwi("1700000000"),
        },
    )
}

fn line(at: u64, host: &str, conn: u64, line: &str) -> TraceEvent {
    TraceEvent::server(
        ms(at),
        host,
        Event::ClientLine {
            conn,
            line: line.into(),
        },
    )
}

fn reply(at: u64, host: &str, conn: u64, line: &str) -> TraceEvent {
    TraceEvent::server(
        ms(at),
        host,
        Event::Reply {
            conn,
            line: line.into(),
            bytes: line.len() as u64 + 1,
        },
    )
}

fn harness(at: u64, event: SimEvent) -> TraceEvent {
    TraceEvent::harness(ms(at), event)
}

fn cut(step: u64, heal: bool) -> SimEvent {
    let (from, to) = (vec!["Clark".into()], vec!["Bona".into(), "Jaquez".into()]);
    if heal {
        SimEvent::Repair {
            step,
            from,
            to,
            oneway: false,
        }
    } else {
        SimEvent::Partition {
            step,
            from,
            to,
            oneway: false,
        }
    }
}

/// Clark takes kiwi's IAMAT and floods it (to Bona: received; to Jaquez: lost); Campbell
/// crashes; Clark is cut off and gets v2; Bailey reconciles with Bona, then answers a
/// WHATSAT with v1 (stale) after asking Places.
fn sample() -> Trace {
    let events = vec![
        TraceEvent::client_send(ms(0), 0, "kiwi", "Clark", format!("{IAMAT}\n").as_bytes()),
        line(2, "Clark", 1, IAMAT),
        stored(2, "Clark", "client", Outcome::New, "1700000000"),
        flood(2, "Bona"),
        flood(2, "Jaquez"),
        reply(2, "Clark", 1, AT_V1),
        stored(4, "Bona", "peer:Clark", Outcome::New, "1700000000"),
        TraceEvent::client_reply(ms(5), 0, "kiwi", "Clark", &format!("{AT_V1}\n")),
        harness(
            1000,
            SimEvent::Crash {
                step: 2,
                server: "Campbell".into(),
            },
        ),
        harness(1500, cut(2, false)),
        TraceEvent::server(
            ms(1999),
            "Bona",
            Event::PeerUp {
                peer: "Bailey".into(),
                direction: Direction::Inbound,
            },
        ),
        TraceEvent::server(
            ms(2000),
            "Bailey",
            Event::Reconcile {
                peer: "Bona".into(),
                records: 1,
                full: false,
            },
        ),
        stored(
            2003,
            "Bona",
            "peer:Bailey",
            Outcome::Duplicate,
            "1700000000",
        ),
        stored(2500, "Clark", "client", Outcome::New, "1700000002"),
        TraceEvent::client_send(ms(3000), 1, "kiwi", "Bailey", b"WHATSAT kiwi 10 5\n"),
        line(3002, "Bailey", 2, "WHATSAT kiwi 10 5"),
        TraceEvent::server(
            ms(3002),
            "Bailey",
            Event::PlacesRequest {
                api: "legacy".into(),
                radius_m: "10000".into(),
                bound: 5,
            },
        ),
        TraceEvent::places_stub_request(
            ms(3004),
            "/maps",
            "34.068930,-118.445127",
            "10000",
            true,
            None,
        ),
        TraceEvent::server(
            ms(3006),
            "Bailey",
            Event::PlacesResponse {
                status: "OK".into(),
                results: 5,
                bytes: 100,
            },
        ),
        reply(3006, "Bailey", 2, AT_V1),
        TraceEvent::client_reply(ms(3008), 1, "kiwi", "Bailey", &format!("{AT_V1}\n{{}}\n\n")),
        harness(
            4000,
            SimEvent::Restart {
                step: 3,
                server: "Campbell".into(),
            },
        ),
        harness(4500, cut(4, true)),
    ];
    let mut trace = Trace::new();
    for event in events {
        trace.push(event);
    }
    trace
}

/// The drawn `<g>` groups of class `class` (exactly; with hover text, so not the key's
/// samples), each as its whole text.
fn groups<'a>(svg: &'a str, class: &str) -> Vec<&'a str> {
    let open = format!(r#"<g class="{class}"><title>"#);
    svg.match_indices(&open)
        .filter_map(|(start, _)| {
            let end = svg[start..].find("</g>")?;
            Some(&svg[start..start + end])
        })
        .collect()
}

#[test]
fn every_kind_of_message_is_an_arrow_in_its_colour() {
    let drawing = svg(&scenario(), &sample(), Window::default());
    for (kind, count) in [
        (Kind::Command, 2),
        (Kind::Reply, 1),
        (Kind::Flood, 1),
        (Kind::Reconcile, 1),
        (Kind::Places, 2),
    ] {
        let class = format!("msg {}", kind.class());
        assert_eq!(groups(&drawing, &class).len(), count, "{class}:\n{drawing}");
        let style = format!(".msg.{} line{{stroke:{}}}", kind.class(), kind.colour());
        assert!(drawing.contains(&style), "{style}");
        assert!(drawing.contains(&format!(r#"marker-end="url(#head-{})""#, kind.class())));
    }
    assert!(drawing.contains(">IAMAT kiwi v1</text>"), "{drawing}");
    assert!(drawing.contains(">reconcile: 1 record</text>"), "{drawing}");
    assert!(drawing.contains(">5 places</text>"), "{drawing}");
    super::tags_balance(&drawing).unwrap_or_else(|e| panic!("{e}\n{drawing}"));
}

#[test]
fn a_flood_that_never_arrived_ends_in_an_x() {
    let drawing = svg(&scenario(), &sample(), Window::default());
    let lost = groups(&drawing, "msg flood lost");
    assert_eq!(lost.len(), 1, "{drawing}");
    assert!(lost[0].contains("peer=Jaquez"), "{}", lost[0]);
    assert!(lost[0].contains(r#"<path class="x""#), "{}", lost[0]);
    assert!(
        !lost[0].contains("marker-end"),
        "a lost message has no head"
    );
    assert!(drawing.contains(">kiwi v1 → Jaquez lost</text>"));
}

#[test]
fn a_crash_shades_the_column_until_the_restart() {
    let model = Model::build(&scenario(), &sample());
    let campbell = model.columns.iter().position(|c| c.host == "Campbell");
    let crashes: Vec<_> = model
        .shades
        .iter()
        .filter(|s| s.kind == ShadeKind::Crash)
        .map(|s| (Some(s.column), s.from, s.to))
        .collect();
    assert_eq!(crashes, vec![(campbell, ms(1000), Some(ms(4000)))]);
    let drawing = svg(&scenario(), &sample(), Window::default());
    assert_eq!(groups(&drawing, "shade crash").len(), 1);
    assert!(drawing.contains(r#"fill="url(#hatch-crash)""#));
    assert!(drawing.contains(">crashed: memory lost</text>"));
}

#[test]
fn a_partition_shades_both_sides_until_the_repair() {
    let drawing = svg(&scenario(), &sample(), Window::default());
    let bands = groups(&drawing, "shade partition");
    assert_eq!(bands.len(), 3, "Clark, Bona and Jaquez: {drawing}");
    assert!(drawing.contains(">cut from Bona, Jaquez</text>"));
    assert!(drawing.contains(">cut from Clark</text>"));
}

#[test]
fn a_reply_older_than_what_the_herd_knew_is_marked_stale() {
    let drawing = svg(&scenario(), &sample(), Window::default());
    let stale = groups(&drawing, "msg reply stale");
    assert_eq!(stale.len(), 1, "{drawing}");
    assert!(stale[0].contains("kiwi v2 was stored at Clark at 2.500s"));
    assert!(drawing.contains(">kiwi v1: STALE (Clark has v2)</text>"));
}

/// Clark, the only server that stored kiwi v2, crashes before Bailey answers with v1: v2 is
/// gone from the herd, so v1 is the newest record any server holds and the answer is right.
#[test]
fn a_reply_is_not_stale_against_a_record_whose_only_holder_crashed() {
    let mut trace = Trace::new();
    for event in sample().events {
        if event.at == ms(3000) {
            trace.push(harness(
                2800,
                SimEvent::Crash {
                    step: 9,
                    server: "Clark".into(),
                },
            ));
        }
        trace.push(event);
    }
    let drawing = svg(&scenario(), &trace, Window::default());
    assert!(groups(&drawing, "msg reply stale").is_empty(), "{drawing}");
    assert!(!drawing.contains("STALE"), "{drawing}");
}

/// Every label's box (x0, y0, x1, y1), from the drawn `<text class="lbl ...">` elements, with
/// the renderer's own character width estimate.
fn label_boxes(svg: &str) -> Vec<(String, [f64; 4])> {
    svg.lines()
        .filter(|l| l.starts_with(r#"<text class="lbl"#))
        .filter_map(|l| {
            let attr = |name: &str| -> Option<f64> {
                let start = l.find(&format!(r#" {name}=""#))? + name.len() + 3;
                l[start..].split('"').next()?.parse().ok()
            };
            let text = l.split('>').nth(1)?.split('<').next()?.to_string();
            let width = text.chars().count() as f64 * super::render::LABEL_FONT_PX * 0.56;
            let (x, y) = (attr("x")?, attr("y")?);
            let x0 = if l.contains(r#"text-anchor="middle""#) {
                x - width / 2.0
            } else if l.contains(r#"text-anchor="end""#) {
                x - width
            } else {
                x
            };
            Some((
                text,
                [x0, y - super::render::LABEL_FONT_PX, x0 + width, y + 2.0],
            ))
        })
        .collect()
}

/// The worst cases for labels: two partitions of one server that start at the same instant
/// and end at the same instant, and two latency marks at once.
#[test]
fn labels_of_faults_that_start_together_do_not_overlap() {
    let cut_from = |step, to: &str, heal| {
        let (from, to) = (vec!["Clark".to_string()], vec![to.to_string()]);
        if heal {
            SimEvent::Repair {
                step,
                from,
                to,
                oneway: false,
            }
        } else {
            SimEvent::Partition {
                step,
                from,
                to,
                oneway: false,
            }
        }
    };
    let mut trace = Trace::new();
    for event in [
        harness(1000, cut_from(1, "Bona", false)),
        harness(1000, cut_from(2, "Jaquez", false)),
        harness(3000, cut_from(3, "Bona", true)),
        harness(3000, cut_from(4, "Jaquez", true)),
    ] {
        trace.push(event);
    }
    let drawing = svg(&scenario(), &trace, Window::default());
    let boxes = label_boxes(&drawing);
    assert!(boxes.iter().any(|(t, _)| t == "cut from Bona"), "{drawing}");
    assert!(
        boxes.iter().any(|(t, _)| t == "cut from Jaquez"),
        "{drawing}"
    );
    for (i, (a, p)) in boxes.iter().enumerate() {
        for (b, q) in &boxes[i + 1..] {
            let apart = p[2] < q[0] || q[2] < p[0] || p[3] < q[1] || q[3] < p[1];
            assert!(apart, "{a:?} {p:?} overlaps {b:?} {q:?}\n{drawing}");
        }
    }
}

#[test]
fn a_window_draws_only_what_happens_inside_it() {
    let window = Window {
        from: Some(ms(2900)),
        to: Some(ms(3003)),
    };
    let drawing = svg(&scenario(), &sample(), window);
    assert!(
        !drawing.contains("IAMAT"),
        "the IAMAT at 0s is outside:\n{drawing}"
    );
    assert!(groups(&drawing, "msg reconcile").is_empty());
    assert!(drawing.contains(">2.900s</text>") && drawing.contains(">3.003s</text>"));
    let places = groups(&drawing, "msg places");
    assert_eq!(
        places.len(),
        1,
        "the answer at 3.004s is outside: {drawing}"
    );
    assert!(
        !places[0].contains("marker-end"),
        "the request reaches the stub after the window, so it is clipped: {}",
        places[0]
    );
    assert_eq!(
        groups(&drawing, "shade crash").len(),
        1,
        "the crash spans the window"
    );
    super::tags_balance(&drawing).unwrap_or_else(|e| panic!("{e}\n{drawing}"));
}

#[test]
fn the_same_trace_gives_the_same_bytes() {
    let (scenario, trace) = (scenario(), sample());
    let window = Window {
        from: Some(ms(1)),
        to: None,
    };
    assert_eq!(
        svg(&scenario, &trace, window),
        svg(&scenario, &trace.clone(), window)
    );
    assert_eq!(
        html(&scenario, &trace, window),
        html(&scenario, &trace.clone(), window)
    );
}

#[test]
fn text_from_the_trace_is_escaped() {
    let mut trace = Trace::new();
    trace.push(TraceEvent::client_send(
        ms(0),
        0,
        "kiwi",
        "Clark",
        b"<b>&\"x\x01\n",
    ));
    let drawing = svg(&scenario(), &trace, Window::default());
    assert!(drawing.contains("&lt;b&gt;&amp;&quot;x\\x01"), "{drawing}");
    assert!(!drawing.contains('\u{1}'));
    super::tags_balance(&drawing).unwrap_or_else(|e| panic!("{e}\n{drawing}"));
}
