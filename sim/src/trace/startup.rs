//! Link start-up, folded: each server's first moments (its neighbours' connections opened,
//! `PEER` greetings, `peer_up` both ways, empty reconciles) are the same in every run and bury
//! the story on a timeline's first screen. [`fold`] picks them out, per server, from its
//! `listening` until every link to its neighbours is up both ways, and gives the one line that
//! stands for them; `--verbose` shows them all.

use std::collections::{BTreeMap, BTreeSet};

use server::events::{Direction, Event};

use super::Trace;

/// What a folded timeline leaves out and what it says instead.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Folds {
    /// Indices of the events left out.
    pub hidden: BTreeSet<usize>,
    /// Index of an event -> the line that stands for its server's start-up, printed in its
    /// place (the last `peer_up` of the start-up, or the empty reconcile right after it).
    pub summaries: BTreeMap<usize, String>,
}

/// The start-up of every server that has `neighbours[server]` neighbours and brings every
/// link up both ways before it restarts; a server whose links never all come up is not folded
/// (that is part of the story).
pub fn fold(trace: &Trace, neighbours: &BTreeMap<String, usize>) -> Folds {
    let mut folds = Folds::default();
    for (server, &count) in neighbours {
        if count > 0 {
            fold_server(trace, server, count, &mut folds);
        }
    }
    folds
}

fn fold_server(trace: &Trace, server: &str, neighbours: usize, folds: &mut Folds) {
    let mine: Vec<(usize, &Event)> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.host == server)
        .filter_map(|(i, e)| e.server_event().map(|event| (i, event)))
        .collect();
    let Some(start) = mine
        .iter()
        .position(|(_, e)| matches!(e, Event::Listening { .. }))
    else {
        return;
    };
    let mut up: BTreeSet<(&str, bool)> = BTreeSet::new();
    let mut end = None;
    for (k, (_, event)) in mine.iter().enumerate().skip(start + 1) {
        match event {
            Event::Listening { .. } => return,
            Event::PeerUp { peer, direction } => {
                up.insert((peer.as_str(), matches!(direction, Direction::Inbound)));
                if up.len() == 2 * neighbours {
                    end = Some(k);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(mut end) = end else { return };
    // The dialling side's empty reconcile right after its last link came up is start-up too.
    if let Some((_, Event::Reconcile { records: 0, .. })) = mine.get(end + 1) {
        end += 1;
    }
    let window = &mine[start + 1..=end];
    let peer_conns: BTreeSet<u64> = window
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ClientLine { conn, line } if line.starts_with("PEER ") => Some(*conn),
            _ => None,
        })
        .collect();
    let startup = |event: &Event| match event {
        Event::PeerUp { .. } | Event::PeerConnectFailed { .. } => true,
        Event::Reconcile { records, .. } => *records == 0,
        Event::ConnectionOpened { conn, .. } => peer_conns.contains(conn),
        Event::ClientLine { line, .. } => line.starts_with("PEER "),
        _ => false,
    };
    let folded: Vec<usize> = window
        .iter()
        .filter(|(_, e)| startup(e))
        .map(|(i, _)| *i)
        .collect();
    let Some(&last) = folded.last() else { return };
    folds.hidden.extend(folded.iter().copied());
    folds.summaries.insert(
        last,
        format!(
            "{neighbours} links up both ways ({} start-up events folded; --verbose shows them)",
            folded.len()
        ),
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::TraceEvent;

    fn at(ms: u64, host: &str, event: Event) -> TraceEvent {
        TraceEvent::server(Duration::from_millis(ms), host, event)
    }

    fn peer_up(ms: u64, host: &str, peer: &str, direction: Direction) -> TraceEvent {
        at(
            ms,
            host,
            Event::PeerUp {
                peer: peer.into(),
                direction,
            },
        )
    }

    fn trace(events: Vec<TraceEvent>) -> Trace {
        let mut trace = Trace::new();
        for event in events {
            trace.push(event);
        }
        trace
    }

    #[test]
    fn a_server_whose_links_all_come_up_is_folded_into_one_line_and_its_story_stays() {
        let events = vec![
            at(0, "Clark", Event::Listening { addr: "x".into() }),
            at(
                1,
                "Clark",
                Event::ConnectionOpened {
                    conn: 1,
                    remote: "r".into(),
                },
            ),
            at(
                2,
                "Clark",
                Event::ClientLine {
                    conn: 1,
                    line: "PEER Bona 1".into(),
                },
            ),
            at(
                3,
                "Clark",
                Event::ClientLine {
                    conn: 2,
                    line: "IAMAT kiwi +1+1 1".into(),
                },
            ),
            peer_up(4, "Clark", "Bona", Direction::Inbound),
            peer_up(5, "Clark", "Bona", Direction::Outbound),
            at(
                6,
                "Clark",
                Event::ClientLine {
                    conn: 3,
                    line: "PEER Bona 2".into(),
                },
            ),
        ];
        let folds = fold(&trace(events), &BTreeMap::from([("Clark".to_string(), 1)]));
        assert_eq!(folds.hidden, BTreeSet::from([1, 2, 4, 5]));
        assert_eq!(
            folds.summaries.get(&5).map(String::as_str),
            Some("1 links up both ways (4 start-up events folded; --verbose shows them)")
        );
    }

    #[test]
    fn a_server_with_a_link_that_never_comes_up_both_ways_is_not_folded() {
        let events = vec![
            at(0, "Clark", Event::Listening { addr: "x".into() }),
            peer_up(4, "Clark", "Bona", Direction::Inbound),
        ];
        let folds = fold(&trace(events), &BTreeMap::from([("Clark".to_string(), 1)]));
        assert_eq!(folds, Folds::default());
    }
}
