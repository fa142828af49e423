//! `whatsat_agrees` (safety): a WHATSAT reply reflects what the answering server held.
//!
//! The reply's AT line must be a record the server held at some moment between the client's
//! send and its reply: what it held at the send, or any record it stored as new meanwhile.
//! A `?` reply is right only if the server held nothing for that client when the command
//! reached it (its `client_line` event; the send time if that event cannot be matched):
//! a server that knows the client must answer with its record.

use std::collections::{BTreeMap, BTreeSet};

use server::events::Event;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::SimEvent;
use crate::trace::replay::{self, Expected, Tables};

pub struct WhatsatAgrees;

/// One WHATSAT in flight: what its server held for the client since the send.
struct Window {
    /// The WHATSAT line as the client sent it.
    line: String,
    server: String,
    client: String,
    /// AT lines the server held at some moment since the send.
    held: BTreeSet<String>,
    /// Whether the server held a record for the client at the send.
    held_at_send: bool,
    /// Whether it held one when the line arrived (`None`: not seen arriving).
    held_on_arrival: Option<bool>,
    /// The server lost its memory meanwhile; the window is not judged.
    broken: bool,
}

impl Checker for WhatsatAgrees {
    fn name(&self) -> CheckerName {
        CheckerName::WhatsatAgrees
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut tables = Tables::default();
        let mut windows: BTreeMap<u64, Window> = BTreeMap::new();
        let mut violations = Vec::new();
        let mut judged = 0;
        for event in &run.trace.events {
            if let Some(server) = replay::memory_lost(event) {
                tables.clear(server);
                windows
                    .values_mut()
                    .filter(|w| w.server == server)
                    .for_each(|w| w.broken = true);
            } else if let Some(record) = replay::stored_new(event) {
                for window in windows.values_mut() {
                    if window.server == event.host && window.client == record.client {
                        window.held.insert(record.to_string());
                    }
                }
                tables.store(&event.host, record.clone());
            } else if let Some(Event::ClientLine { line, .. }) = event.server_event() {
                let line = line.trim();
                let arrived = windows.values_mut().find(|w| {
                    w.held_on_arrival.is_none() && w.server == event.host && w.line.trim() == line
                });
                if let Some(window) = arrived {
                    window.held_on_arrival =
                        Some(tables.held(&window.server, &window.client).is_some());
                }
            } else if let Some(SimEvent::ClientSend {
                id, server, line, ..
            }) = event.sim_event()
            {
                let Expected::WhatsAt { client, .. } = replay::expected(event, run.line_bounds())
                else {
                    continue;
                };
                let (id, server) = (*id, server.clone());
                let held: BTreeSet<String> = tables
                    .held(&server, &client)
                    .map(ToString::to_string)
                    .into_iter()
                    .collect();
                let held_at_send = !held.is_empty();
                windows.insert(
                    id,
                    Window {
                        line: line.clone(),
                        server,
                        client,
                        held,
                        held_at_send,
                        held_on_arrival: None,
                        broken: false,
                    },
                );
            } else if let Some(SimEvent::ClientReply { id, text, .. }) = event.sim_event() {
                let Some(window) = windows.remove(id) else {
                    continue;
                };
                if window.broken {
                    continue;
                }
                judged += 1;
                if let Some(problem) = judge(&window, text) {
                    let label = format!("step {} ({} -> {})", id, window.client, window.server);
                    violations.push(Violation::new(event.at, format!("{label}: {problem}")));
                }
            }
        }
        Verdict::judge(
            CheckerName::WhatsatAgrees,
            violations,
            Some(format!("{judged} WHATSAT replies judged")),
        )
    }
}

fn judge(window: &Window, text: &str) -> Option<String> {
    let first = replay::split_reply(text).0;
    if first.starts_with('?') {
        let knew = window.held_on_arrival.unwrap_or(window.held_at_send);
        let held = window.held.iter().next().map_or("", String::as_str);
        return knew
            .then(|| format!("answered `?` although it held `{held}` when the command arrived"));
    }
    let record = replay::at_line(first)?;
    let line = record.to_string();
    if window.held.contains(&line) {
        return None;
    }
    let held: Vec<&str> = window.held.iter().map(String::as_str).collect();
    Some(format!(
        "answered `{line}`, which it did not hold between send and reply (held: {held:?})"
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;
    use crate::trace::TraceEvent;

    const OLD: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";
    const NEW: &str = "AT Bona +0.000002000 kiwi +34.1-118.4 1700000001";

    fn verdict(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        WhatsatAgrees.check(&run_record(&trace, &checks))
    }

    fn arrived(at: u64, server: &str, line: &str) -> TraceEvent {
        TraceEvent::server(
            ms(at),
            server,
            Event::ClientLine {
                conn: 1,
                line: line.to_string(),
            },
        )
    }

    #[test]
    fn a_reply_with_the_held_record_passes() {
        let v = verdict(vec![
            stored(1, "Bailey", OLD, "new"),
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
            reply(20, 1, "kiwi", "Bailey", &whatsat_reply(OLD, 1)),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_record_stored_while_the_command_was_in_flight_is_acceptable() {
        let v = verdict(vec![
            stored(1, "Bailey", OLD, "new"),
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
            stored(12, "Bailey", NEW, "new"),
            reply(20, 1, "kiwi", "Bailey", &whatsat_reply(NEW, 1)),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_record_from_another_server_is_caught() {
        let v = verdict(vec![
            stored(1, "Bailey", OLD, "new"),
            stored(2, "Clark", NEW, "new"),
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
            reply(20, 1, "kiwi", "Bailey", &whatsat_reply(NEW, 1)),
        ]);
        assert!(!v.ok);
        assert!(v.details[0].contains("which it did not hold"), "{v}");
    }

    #[test]
    fn a_question_mark_for_a_client_never_held_is_fine() {
        let v = verdict(vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
            reply(20, 1, "kiwi", "Bailey", "? WHATSAT kiwi 10 5\n"),
        ]);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_question_mark_while_holding_the_client_is_caught() {
        let v = verdict(vec![
            stored(1, "Bailey", OLD, "new"),
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
            arrived(12, "Bailey", "WHATSAT kiwi 10 5"),
            reply(20, 1, "kiwi", "Bailey", "? WHATSAT kiwi 10 5\n"),
        ]);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("answered `?` although it held"),
            "{v}"
        );
    }

    #[test]
    fn a_question_mark_is_judged_by_what_was_held_on_arrival() {
        let v = verdict(vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
            arrived(12, "Bailey", "WHATSAT kiwi 10 5"),
            stored(15, "Bailey", OLD, "new"),
            reply(20, 1, "kiwi", "Bailey", "? WHATSAT kiwi 10 5\n"),
        ]);
        assert!(
            v.ok,
            "the record came after the command had been answered: {v}"
        );
        let v = verdict(vec![
            send(10, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 5"),
            stored(11, "Bailey", OLD, "new"),
            arrived(12, "Bailey", "WHATSAT kiwi 10 5"),
            reply(20, 1, "kiwi", "Bailey", "? WHATSAT kiwi 10 5\n"),
        ]);
        assert!(
            !v.ok,
            "the record was there before the command arrived: {v}"
        );
    }
}
