//! `link_log` (safety): the log tells each dialled link's story in order, as an operator
//! reads it.
//!
//! - A dialled link (persistent or classic) is logged `peer_up` once per time it comes up: two
//!   `peer_up` for one server and neighbour need a `peer_down` between them.
//! - A series of failed dials to a neighbour is news once: the first failure is logged
//!   (`peer_connect_failed`), the retries that follow only at debug level, until a dial
//!   connects again (every connected session ends with `peer_down`).
//!
//! - A failed dial's `retry_ms` honours the backoff (`backoff_min`, `backoff_max`): the k-th
//!   delay since the link last came up (or the server started) is a point in the upper half
//!   of `min(backoff_min * 2^k, backoff_max)`. The retries of a series are not logged, so k is
//!   known only up to a series' first failure: the first dial of a server that just started
//!   (k = 0), or the first failure after a session that had linked (k = 1, since the link
//!   waits one delay before redialling). Otherwise the delay must lie between half of
//!   `backoff_min` and `backoff_max`. So a herd can neither hammer a dead neighbour nor keep
//!   an old failure count after its link held.
//! - A herd with a secret never warns `links_unauthenticated`. A herd without one (a scenario's
//!   `unauthenticated: true`) warns it once at every start of each server that has a
//!   persistent neighbour, right after `listening`: any client naming that neighbour can feed
//!   it, and the operator must hear so.
//!
//! - Each server numbers the connections it accepts 1, 2, 3, ... in a life
//!   (`connection_opened`), so a connection's lines can be told apart in the log.
//! - A refused line is logged with its connection (`line_refused` with `conn`) only for an AT
//!   line on a plain connection of a server with classic neighbours (where a classic peer
//!   sends them), and there every such AT line answered `?` is logged so: an operator sees
//!   what a classic neighbour sent that was not taken, and nothing a client sends elsewhere
//!   floods the log as a neighbour's refusal.
//!
//! Only the dialling side is judged: it runs one session at a time, where an accepting side
//! may hold a new connection while an old one still waits out its heartbeat. A crash or
//! restart starts a server's story again. Classic links log a failure per lost record (it
//! names the record's client), so only persistent links' failures form a series.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::config::Limits;
use server::events::{Direction, Event};

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::replay;

pub struct LinkLog;

/// What the log last said of one dialled link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Up,
    Down,
    DialFailed,
}

impl Checker for LinkLog {
    fn name(&self) -> CheckerName {
        CheckerName::LinkLog
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut last: BTreeMap<(&str, &str), Last> = BTreeMap::new();
        // Per dialled link: backoff delays taken since the last reset, when known.
        let mut delays: BTreeMap<(&str, &str), Option<u32>> = BTreeMap::new();
        // Dialled links whose current session came up (so its end resets the backoff).
        let mut linked: BTreeSet<(&str, &str)> = BTreeSet::new();
        let mut violations = Vec::new();
        let mut judged = 0usize;
        // Servers of an unauthenticated herd that listen and have not warned yet.
        let mut warning_owed: BTreeSet<&str> = BTreeSet::new();
        for event in &run.trace.events {
            if let Some(server) = replay::memory_lost(event) {
                last.retain(|(host, _), _| *host != server);
                delays.retain(|(host, _), _| *host != server);
                linked.retain(|(host, _)| *host != server);
                continue;
            }
            let host = event.host.as_str();
            if let Some(Event::Listening { .. }) = event.server_event() {
                if warning_owed.remove(host) {
                    violations.push(never_warned(host, event.at));
                }
                if run.unauthenticated && has_persistent_neighbour(run, host) {
                    warning_owed.insert(host);
                }
                continue;
            }
            if let Some(Event::LinksUnauthenticated) = event.server_event() {
                if !run.unauthenticated {
                    violations.push(Violation::new(
                        event.at,
                        format!("{host} warned links_unauthenticated, but its herd has a secret"),
                    ));
                } else if !warning_owed.remove(host) {
                    violations.push(Violation::new(
                        event.at,
                        format!("{host} warned links_unauthenticated again in one life"),
                    ));
                }
                continue;
            }
            if event.server_event().is_some() && warning_owed.remove(host) {
                violations.push(never_warned(host, event.at));
            }
            let (peer, now) = match event.server_event() {
                Some(Event::PeerUp {
                    peer,
                    direction: Direction::Outbound,
                }) => (peer.as_str(), Last::Up),
                Some(Event::PeerDown {
                    peer,
                    direction: Direction::Outbound,
                    ..
                }) => (peer.as_str(), Last::Down),
                Some(Event::PeerConnectFailed {
                    peer,
                    client: None,
                    retry_ms,
                    ..
                }) => {
                    let delays = delays.entry((host, peer.as_str())).or_insert(Some(0));
                    if let Some(problem) = judge_retry(*retry_ms, *delays, &run.limits) {
                        violations.push(Violation::new(
                            event.at,
                            format!("{host} will redial {peer} in {retry_ms} ms: {problem}"),
                        ));
                    }
                    // The retries that follow are not logged: the count is lost until the
                    // link holds again.
                    *delays = None;
                    (peer.as_str(), Last::DialFailed)
                }
                _ => continue,
            };
            judged += 1;
            let before = last.insert((host, peer), now);
            match now {
                Last::Up => {
                    linked.insert((host, peer));
                }
                Last::Down => {
                    // A session that linked resets the backoff; either way one delay follows.
                    let reset = linked.remove(&(host, peer));
                    let delays = delays.entry((host, peer)).or_insert(Some(0));
                    *delays = if reset {
                        Some(1)
                    } else {
                        delays.map(|k| k + 1)
                    };
                }
                Last::DialFailed => {}
            }
            let problem = match (before, now) {
                (Some(Last::Up), Last::Up) => {
                    Some("logged its link to {peer} up twice with no peer_down between")
                }
                (Some(Last::DialFailed), Last::DialFailed) => Some(
                    "logged a second failed dial to {peer} in one series (the retries are detail)",
                ),
                _ => None,
            };
            if let Some(problem) = problem {
                violations.push(Violation::new(
                    event.at,
                    format!("{host} {}", problem.replace("{peer}", peer)),
                ));
            }
        }
        for host in warning_owed {
            violations.push(never_warned(host, run.end));
        }
        let connections = connection_story(run, &mut violations);
        Verdict::judge(
            CheckerName::LinkLog,
            violations,
            Some(format!(
                "{judged} dialled-link events and {connections} connection events judged"
            )),
        )
    }
}

/// What is wrong with a logged `retry_ms`, given the backoff delays taken since the last
/// reset (`None`: unknown), if anything.
/// The connections' side of the story (see the module doc); returns how many events it judged.
fn connection_story(run: &RunRecord, violations: &mut Vec<Violation>) -> usize {
    // Per server in its current life: the last connection number it gave.
    let mut numbered: BTreeMap<&str, u64> = BTreeMap::new();
    // Per (server, conn): the last line it read there, and whether a refusal of it was logged.
    let mut last_line: BTreeMap<(&str, u64), (&str, bool)> = BTreeMap::new();
    let mut judged = 0usize;
    for event in &run.trace.events {
        if let Some(server) = replay::memory_lost(event) {
            numbered.remove(server);
            last_line.retain(|(host, _), _| *host != server);
            continue;
        }
        let host = event.host.as_str();
        let classic = run.classic_neighbours(host).next().is_some();
        match event.server_event() {
            Some(Event::ConnectionOpened { conn, .. }) => {
                judged += 1;
                let expected = numbered.get(host).map_or(1, |last| last + 1);
                if *conn != expected {
                    violations.push(Violation::new(
                        event.at,
                        format!("{host} numbered a connection {conn}, expected {expected} (connections are numbered 1, 2, 3, ... in a life)"),
                    ));
                }
                numbered.insert(host, *conn);
            }
            Some(Event::ClientLine { conn, line }) => {
                last_line.insert((host, *conn), (line.as_str(), false));
            }
            Some(Event::LineRefused {
                conn: Some(conn),
                line,
                ..
            }) => {
                judged += 1;
                let read = last_line.get_mut(&(host, *conn));
                let is_at = read
                    .as_ref()
                    .is_some_and(|(read, _)| read.starts_with("AT "));
                if !classic || !is_at {
                    violations.push(Violation::new(
                        event.at,
                        format!("{host} logged line_refused on connection {conn} for {line:?}, but only an AT line on a server with classic neighbours is logged so"),
                    ));
                }
                if let Some((_, logged)) = read {
                    *logged = true;
                }
            }
            Some(Event::Reply { conn, line, .. }) if classic && line.starts_with("? AT ") => {
                judged += 1;
                if let Some((read, logged)) = last_line.get(&(host, *conn))
                    && read.starts_with("AT ")
                    && !logged
                {
                    violations.push(Violation::new(
                        event.at,
                        format!("{host} answered {line:?} on connection {conn} without logging line_refused: a classic neighbour's refused line must be logged"),
                    ));
                }
            }
            _ => {}
        }
    }
    judged
}

/// A server of an unauthenticated herd started without saying so.
fn never_warned(host: &str, at: Duration) -> Violation {
    Violation::new(
        at,
        format!(
            "{host} listens with persistent links and no secret, but did not warn links_unauthenticated first"
        ),
    )
}

/// Does `server` have a persistent (non-classic) link?
fn has_persistent_neighbour(run: &RunRecord, server: &str) -> bool {
    run.persistent_links
        .iter()
        .any(|(a, b)| a == server || b == server)
}

fn judge_retry(retry_ms: u64, delays: Option<u32>, limits: &Limits) -> Option<String> {
    let ceiling = |k: u32| {
        let factor = 1u32 << k.min(16);
        limits
            .backoff_min
            .saturating_mul(factor)
            .min(limits.backoff_max.max(limits.backoff_min))
    };
    let (low, high, what) = match delays {
        Some(k) => (
            ceiling(k) / 2,
            ceiling(k),
            format!("delay {} since the backoff reset", k + 1),
        ),
        None => (
            limits.backoff_min / 2,
            ceiling(u32::MAX),
            "a delay of a series".to_string(),
        ),
    };
    // `retry_ms` is the delay cut to whole milliseconds.
    let in_bounds = retry_ms >= whole_ms(low) && retry_ms <= whole_ms(high);
    (!in_bounds).then(|| {
        format!(
            "as {what} it must lie in {}..={} ms",
            whole_ms(low),
            whole_ms(high)
        )
    })
}

fn whole_ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use server::events::LinkEnd;

    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;
    use crate::trace::TraceEvent;

    fn event(at: u64, host: &str, event: Event) -> TraceEvent {
        TraceEvent::server(ms(at), host, event)
    }

    fn up(at: u64) -> TraceEvent {
        event(
            at,
            "Bailey",
            Event::PeerUp {
                peer: "Bona".into(),
                direction: Direction::Outbound,
            },
        )
    }

    fn down(at: u64) -> TraceEvent {
        event(
            at,
            "Bailey",
            Event::PeerDown {
                peer: "Bona".into(),
                direction: Direction::Outbound,
                reason: LinkEnd::HeartbeatTimeout,
            },
        )
    }

    fn dial_failed(at: u64, client: Option<&str>) -> TraceEvent {
        event(
            at,
            "Bailey",
            Event::PeerConnectFailed {
                peer: "Bona".into(),
                error: "connection refused".into(),
                retry_ms: 100,
                client: client.map(str::to_string),
            },
        )
    }

    fn verdict(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        LinkLog.check(&run_record(&trace, &checks))
    }

    fn unauthenticated_verdict(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.unauthenticated = true;
        LinkLog.check(&run)
    }

    fn listening(at: u64, host: &str) -> TraceEvent {
        event(
            at,
            host,
            Event::Listening {
                addr: "127.0.0.1:1".into(),
            },
        )
    }

    #[test]
    fn connections_are_numbered_in_order_and_only_classic_at_lines_are_logged_refused() {
        let opened = |at, conn| {
            event(
                at,
                "Bailey",
                Event::ConnectionOpened {
                    conn,
                    remote: "127.0.0.1:9".into(),
                },
            )
        };
        let read = |at, line: &str| {
            event(
                at,
                "Bailey",
                Event::ClientLine {
                    conn: 1,
                    line: line.into(),
                },
            )
        };
        let refused = |at, line: &str| {
            event(
                at,
                "Bailey",
                Event::LineRefused {
                    peer: None,
                    conn: Some(1),
                    reason: server::events::LineRefusal::NotALinkLine,
                    line: line.into(),
                },
            )
        };
        assert!(verdict(vec![opened(0, 1), opened(1, 2)]).ok);
        let v = verdict(vec![opened(0, 1), opened(1, 1)]);
        assert!(
            v.details[0].contains("Bailey numbered a connection 1, expected 2"),
            "{v}"
        );
        // Bailey has no classic neighbour in the default herd: no line of a connection is a
        // classic peer's.
        let v = verdict(vec![opened(0, 1), read(1, "AT x"), refused(1, "AT x")]);
        assert!(
            v.details[0].contains("but only an AT line on a server with classic neighbours"),
            "{v}"
        );
    }

    #[test]
    fn a_herd_without_a_secret_warns_once_at_every_start() {
        let warned = |at| event(at, "Bailey", Event::LinksUnauthenticated);
        let v = unauthenticated_verdict(vec![listening(0, "Bailey"), warned(0), up(1)]);
        assert!(v.ok, "{v}");
        let v = unauthenticated_verdict(vec![listening(0, "Bailey"), up(1)]);
        assert!(!v.ok);
        assert!(
            v.details[0]
                .contains("Bailey listens with persistent links and no secret, but did not warn"),
            "{v}"
        );
        let v = unauthenticated_verdict(vec![listening(0, "Bailey")]);
        assert!(!v.ok, "the run ended before the warning: {v}");
        let v = unauthenticated_verdict(vec![listening(0, "Bailey"), warned(0), warned(1)]);
        assert!(
            v.details[0].contains("warned links_unauthenticated again"),
            "{v}"
        );
        let v = unauthenticated_verdict(vec![
            listening(0, "Bailey"),
            warned(0),
            listening(5, "Bailey"),
            up(6),
        ]);
        assert!(!v.ok, "a restart warns again: {v}");
    }

    #[test]
    fn a_link_that_comes_and_goes_and_a_series_logged_once_pass() {
        let v = verdict(vec![
            up(1),
            down(2),
            dial_failed(3, None),
            down(4),
            dial_failed(5, None),
            up(6),
        ]);
        assert!(v.ok, "{v}");
    }

    fn failed_after(at: u64, retry_ms: u64) -> TraceEvent {
        event(
            at,
            "Bailey",
            Event::PeerConnectFailed {
                peer: "Bona".into(),
                error: "connection refused".into(),
                retry_ms,
                client: None,
            },
        )
    }

    #[test]
    fn retries_within_the_backoff_pass() {
        // Defaults: backoff_min 100 ms, backoff_max 2 s. A first dial: 50..=100 ms; the
        // first failure after a linked session (its second delay): 100..=200 ms.
        let v = verdict(vec![
            failed_after(1, 50),
            up(2),
            down(3),
            failed_after(4, 200),
        ]);
        assert!(v.ok, "{v}");
        // After a series the count is unknown: anything from 50 ms to 2 s.
        let v = verdict(vec![failed_after(1, 100), down(2), failed_after(3, 2000)]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_delay_below_half_its_ceiling_is_caught() {
        let v = verdict(vec![failed_after(1, 49)]);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("Bailey will redial Bona in 49 ms: as delay 1 since the backoff reset it must lie in 50..=100 ms"),
            "{v}"
        );
    }

    #[test]
    fn a_backoff_not_reset_after_the_link_held_is_caught() {
        let v = verdict(vec![
            failed_after(1, 60),
            up(2),
            down(3),
            failed_after(4, 800),
        ]);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("as delay 2 since the backoff reset it must lie in 100..=200 ms"),
            "{v}"
        );
    }

    #[test]
    fn a_crash_starts_the_backoff_again() {
        let v = verdict(vec![
            failed_after(1, 60),
            crash(2, "Bailey"),
            restart(3, "Bailey"),
            failed_after(4, 99),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn an_unauthenticated_warning_in_a_herd_with_a_secret_is_caught() {
        let v = verdict(vec![event(0, "Clark", Event::LinksUnauthenticated), up(1)]);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("Clark warned links_unauthenticated, but its herd has a secret"),
            "{v}"
        );
    }

    #[test]
    fn two_ups_without_a_down_are_caught() {
        let v = verdict(vec![up(1), up(2)]);
        assert!(!v.ok);
        assert!(v.details[0].contains("up twice"), "{v}");
    }

    #[test]
    fn every_retry_logged_as_news_is_caught() {
        let v = verdict(vec![dial_failed(1, None), dial_failed(2, None)]);
        assert!(!v.ok);
        assert!(v.details[0].contains("second failed dial"), "{v}");
    }

    #[test]
    fn classic_losses_and_a_restart_start_nothing_to_judge() {
        let v = verdict(vec![
            dial_failed(1, Some("kiwi")),
            dial_failed(2, Some("lime")),
            up(3),
            crash(4, "Bailey"),
            restart(5, "Bailey"),
            up(6),
        ]);
        assert!(v.ok, "{v}");
    }
}
