//! `link_log` (safety): the log tells each dialled link's story in order, as an operator
//! reads it.
//!
//! - A dialled link (persistent or classic) is logged `peer_up` once per time it comes up: two
//!   `peer_up` for one server and neighbour need a `peer_down` between them.
//! - A series of failed dials to a neighbour is news once: the first failure is logged
//!   (`peer_connect_failed`), the retries that follow only at debug level, until a dial
//!   connects again (every connected session ends with `peer_down`).
//!
//! - Every herd the harness runs has a secret (simulated and real mode alike), so no server
//!   ever warns `links_unauthenticated`: that warning is for a herd without one.
//!
//! Only the dialling side is judged: it runs one session at a time, where an accepting side
//! may hold a new connection while an old one still waits out its heartbeat. A crash or
//! restart starts a server's story again. Classic links log a failure per lost record (it
//! names the record's client), so only persistent links' failures form a series.

use std::collections::BTreeMap;

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
        let mut violations = Vec::new();
        let mut judged = 0usize;
        for event in &run.trace.events {
            if let Some(server) = replay::memory_lost(event) {
                last.retain(|(host, _), _| *host != server);
                continue;
            }
            let host = event.host.as_str();
            if let Some(Event::LinksUnauthenticated) = event.server_event() {
                violations.push(Violation::new(
                    event.at,
                    format!("{host} warned links_unauthenticated, but its herd has a secret"),
                ));
                continue;
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
                    peer, client: None, ..
                }) => (peer.as_str(), Last::DialFailed),
                _ => continue,
            };
            judged += 1;
            let before = last.insert((host, peer), now);
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
        Verdict::judge(
            CheckerName::LinkLog,
            violations,
            Some(format!("{judged} dialled-link events judged")),
        )
    }
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
