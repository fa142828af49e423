//! The value-class properties: values exactly at a bound, a skewed neighbour, a replayed
//! handshake line, a time difference of exactly zero, a table filled by updates, and a link
//! asked for by a server of the herd that is not a neighbour. Each is read from the run's
//! trace (what the servers stored, refused and logged, what the clients sent and got back),
//! never from what the generator meant to send.

use std::collections::BTreeMap;

use server::events::{Event, LineRefusal, Source};
use server::protocol::{Command, Record};
use server::store::{Outcome, record_bytes};

use crate::checkers::RunRecord;
use crate::trace::SimEvent;
use crate::trace::replay;

/// Records a server stored as new, with the server.
fn stored_new<'a>(run: &'a RunRecord) -> impl Iterator<Item = (&'a str, &'a Record, &'a Source)> {
    run.trace
        .server_events()
        .filter_map(|(event, what)| match what {
            Event::RecordStored {
                record,
                outcome: Outcome::New,
                source,
            } => Some((event.host.as_str(), record, source)),
            _ => None,
        })
}

/// A record stored for a client id of exactly `client_id_bytes_max` bytes.
pub fn id_at_bound(run: &RunRecord) -> bool {
    stored_new(run).any(|(_, r, _)| r.client.len() == run.limits.client_id_bytes_max)
}

/// A client's record stored whose timestamp was exactly `timestamp_ahead_max` ahead of the
/// receiving server's clock (its time difference is minus the bound, to the nanosecond).
pub fn timestamp_at_ahead_bound(run: &RunRecord) -> bool {
    let bound = run.limits.timestamp_ahead_max.as_nanos() as i128;
    stored_new(run).any(|(_, r, source)| *source == Source::Client && r.time_diff.nanos() == -bound)
}

/// A record stored at latitude ±90 or longitude ±180.
pub fn coordinates_at_bound(run: &RunRecord) -> bool {
    stored_new(run).any(|(_, r, _)| {
        r.location.latitude().abs() == 90.0 || r.location.longitude().abs() == 180.0
    })
}

/// A client's record stored with a time difference of exactly zero.
pub fn zero_time_diff(run: &RunRecord) -> bool {
    stored_new(run).any(|(_, r, source)| *source == Source::Client && r.time_diff.nanos() == 0)
}

/// A WHATSAT at the largest radius (50 km) and bound (20) answered with an AT line.
pub fn whatsat_at_max(run: &RunRecord) -> bool {
    replay::exchanges(run.trace).iter().any(|exchange| {
        let fields: Vec<&str> = exchange.line().split(' ').collect();
        let at_max = matches!(fields.as_slice(), ["WHATSAT", _, radius, "20"]
            if radius.parse::<f64>().is_ok_and(|r| r == 50.0));
        at_max && exchange.reply_text().is_some_and(|t| t.starts_with("AT "))
    })
}

/// A client line of exactly `line_bytes_max` bytes (its newline aside, or the last line of
/// its input, without one) that was answered.
pub fn line_at_limit(run: &RunRecord) -> bool {
    let limit = run.limits.line_bytes_max;
    replay::exchanges(run.trace).iter().any(|exchange| {
        let sent = match exchange.send.sim_event() {
            // A UTF-8 line's text is its bytes, so its length is the line's, newline or not.
            Some(SimEvent::ClientSend { line, utf8, .. }) if *utf8 => {
                line.len() == limit && !line.contains('\n')
            }
            Some(SimEvent::ClientSend { bytes, line, .. }) => {
                *bytes == limit as u64 + 1 && !line.contains('\n')
            }
            _ => false,
        };
        sent && exchange.reply_text().is_some()
    })
}

/// A neighbour's record refused as too far ahead of the receiver's clock.
pub fn skewed_neighbour_refused(run: &RunRecord) -> bool {
    run.trace.server_events().any(|(_, what)| {
        matches!(
            what,
            Event::LineRefused {
                peer: Some(_),
                reason: LineRefusal::TooFarAhead,
                ..
            }
        )
    })
}

/// A line of a link's handshake (`AUTH`, `HELLO`, `LINKED`) read on a client connection.
pub fn handshake_line_replayed(run: &RunRecord) -> bool {
    run.trace.server_events().any(|(_, what)| match what {
        Event::ClientLine { line, .. } => matches!(
            Command::parse_line(line.as_bytes()),
            Ok(Command::Auth { .. } | Command::Hello | Command::Linked { .. })
        ),
        _ => false,
    })
}

/// A `PEER` line on a connection to a server, naming another server of the herd that is not
/// its neighbour.
pub fn non_neighbour_link_refused(run: &RunRecord) -> bool {
    run.trace.server_events().any(|(event, what)| match what {
        Event::ClientLine { line, .. } => match Command::parse_line(line.as_bytes()) {
            Ok(Command::Peer { name, .. }) => {
                name != event.host && run.servers.contains(&name) && !run.linked(&event.host, &name)
            }
            _ => false,
        },
        _ => false,
    })
}

/// An update of a client a server already held took its table past `table_bytes_max` (an
/// update is never refused for size; a new client then is).
pub fn table_filled_by_updates(run: &RunRecord) -> bool {
    let max = run.limits.table_bytes_max;
    let mut tables: BTreeMap<&str, (BTreeMap<&str, usize>, usize)> = BTreeMap::new();
    for event in &run.trace.events {
        if let Some(SimEvent::Crash { server, .. } | SimEvent::Restart { server, .. }) =
            event.sim_event()
        {
            tables.remove(server.as_str());
            continue;
        }
        let Some(record) = replay::stored_new(event) else {
            continue;
        };
        let (table, bytes) = tables.entry(event.host.as_str()).or_default();
        let size = record_bytes(record);
        match table.insert(record.client.as_str(), size) {
            Some(old) => {
                *bytes = *bytes - old + size;
                if *bytes > max {
                    return true;
                }
            }
            None => *bytes += size,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use server::events::{Event, LineRefusal};

    use super::*;
    use crate::checkers::testing::*;
    use crate::scenario::Checks;
    use crate::trace::{Trace, TraceEvent};

    /// Whether `seen` holds on a run of `events`, with the limits `limits` sets.
    fn holds(
        events: Vec<TraceEvent>,
        limits: impl FnOnce(&mut server::config::Limits),
        seen: fn(&RunRecord) -> bool,
    ) -> bool {
        let trace: Trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        limits(&mut run.limits);
        seen(&run)
    }

    fn at(at: u64, host: &str, event: Event) -> TraceEvent {
        TraceEvent::server(ms(at), host, event)
    }

    fn client_line(host: &str, line: &str) -> TraceEvent {
        at(
            10,
            host,
            Event::ClientLine {
                conn: 3,
                line: line.into(),
            },
        )
    }

    #[test]
    fn an_id_exactly_at_its_bound() {
        let kiwi = || {
            vec![stored(
                10,
                "Bailey",
                "AT Bailey +0.1 kiwi +1+1 1700000000",
                "new",
            )]
        };
        assert!(holds(kiwi(), |l| l.client_id_bytes_max = 4, id_at_bound));
        assert!(!holds(kiwi(), |l| l.client_id_bytes_max = 5, id_at_bound));
    }

    #[test]
    fn a_timestamp_exactly_at_the_ahead_bound() {
        let line = |diff: &str| {
            vec![stored(
                10,
                "Bailey",
                &format!("AT Bailey {diff} kiwi +1+1 1700086400"),
                "new",
            )]
        };
        assert!(holds(
            line("-86400.000000000"),
            |_| {},
            timestamp_at_ahead_bound
        ));
        assert!(!holds(
            line("-86399.999999999"),
            |_| {},
            timestamp_at_ahead_bound
        ));
    }

    #[test]
    fn coordinates_on_a_pole_or_the_antimeridian() {
        let line = |loc: &str| {
            vec![stored(
                10,
                "Bailey",
                &format!("AT Bailey +0.1 kiwi {loc} 1700000000"),
                "new",
            )]
        };
        assert!(holds(line("+90+0"), |_| {}, coordinates_at_bound));
        assert!(holds(line("+1-180.000"), |_| {}, coordinates_at_bound));
        assert!(!holds(
            line("+89.999999+179.999999"),
            |_| {},
            coordinates_at_bound
        ));
    }

    #[test]
    fn a_zero_time_difference_from_a_client() {
        let line = |server: &str, diff: &str| {
            vec![stored(
                10,
                server,
                &format!("AT Bailey {diff} kiwi +1+1 1700000000"),
                "new",
            )]
        };
        assert!(holds(
            line("Bailey", "+0.000000000"),
            |_| {},
            zero_time_diff
        ));
        assert!(!holds(
            line("Bailey", "+0.000000001"),
            |_| {},
            zero_time_diff
        ));
        assert!(
            !holds(line("Bona", "+0.000000000"), |_| {}, zero_time_diff),
            "a flooded copy"
        );
    }

    #[test]
    fn a_whatsat_at_its_largest_radius_and_bound() {
        let asked = |line: &str| {
            vec![
                send(10, 1, "kiwi", "Bailey", line),
                reply(
                    20,
                    1,
                    "kiwi",
                    "Bailey",
                    &whatsat_reply("AT Bailey +0.1 kiwi +1+1 1700000000", 1),
                ),
            ]
        };
        assert!(holds(asked("WHATSAT kiwi 50 20"), |_| {}, whatsat_at_max));
        assert!(holds(asked("WHATSAT kiwi 50.0 20"), |_| {}, whatsat_at_max));
        assert!(!holds(asked("WHATSAT kiwi 50 19"), |_| {}, whatsat_at_max));
    }

    #[test]
    fn a_line_exactly_at_the_line_limit() {
        let sent = |n: usize| {
            let line = "x".repeat(n);
            vec![
                send(10, 1, "mallory", "Bailey", &line),
                reply(20, 1, "mallory", "Bailey", &format!("? {line}\n")),
            ]
        };
        assert!(holds(sent(300), |l| l.line_bytes_max = 300, line_at_limit));
        let last_line = vec![
            TraceEvent::client_send(ms(10), 1, "mallory", "Bailey", &[b'x'; 300]),
            reply(
                20,
                1,
                "mallory",
                "Bailey",
                &format!("? {}\n", "x".repeat(300)),
            ),
        ];
        assert!(holds(last_line, |l| l.line_bytes_max = 300, line_at_limit));
        assert!(!holds(sent(299), |l| l.line_bytes_max = 300, line_at_limit));
    }

    #[test]
    fn a_neighbour_record_too_far_ahead() {
        let refused = |peer: Option<&str>, conn: Option<u64>| {
            vec![at(
                10,
                "Clark",
                Event::LineRefused {
                    peer: peer.map(String::from),
                    conn,
                    reason: LineRefusal::TooFarAhead,
                    line: "AT Bona +0.1 kiwi +1+1 1800000000".into(),
                },
            )]
        };
        assert!(holds(
            refused(Some("Bona"), None),
            |_| {},
            skewed_neighbour_refused
        ));
        assert!(
            !holds(refused(None, Some(3)), |_| {}, skewed_neighbour_refused),
            "a client's"
        );
    }

    #[test]
    fn a_handshake_line_on_a_client_connection() {
        for line in ["AUTH 0 1", "HELLO", "LINKED 7 0 -"] {
            assert!(
                holds(
                    vec![client_line("Bona", line)],
                    |_| {},
                    handshake_line_replayed
                ),
                "{line}"
            );
        }
        let plain = vec![client_line("Bona", "IAMAT kiwi +1+1 1700000000")];
        assert!(!holds(plain, |_| {}, handshake_line_replayed));
    }

    #[test]
    fn a_link_asked_for_by_a_server_that_is_no_neighbour() {
        assert!(holds(
            vec![client_line("Clark", "PEER Bailey 1")],
            |_| {},
            non_neighbour_link_refused
        ));
        assert!(
            !holds(
                vec![client_line("Bona", "PEER Bailey 1")],
                |_| {},
                non_neighbour_link_refused
            ),
            "a neighbour"
        );
        assert!(
            !holds(
                vec![client_line("Clark", "PEER Zulu 1")],
                |_| {},
                non_neighbour_link_refused
            ),
            "no herd server"
        );
    }

    #[test]
    fn a_table_filled_by_an_update() {
        let short = "AT Bailey +0.1 kiwi +1+1 1700000000";
        let long = "AT Bailey +0.1 kiwi +1.000000000000000000000000000000+1 1700000001";
        let other = "AT Bailey +0.1 lime +1.000000000000000000000000000000+1 1700000001";
        let max = |l: &mut server::config::Limits| l.table_bytes_max = 170;
        let updated = vec![
            stored(10, "Bailey", short, "new"),
            stored(20, "Bailey", long, "new"),
        ];
        assert!(holds(updated, max, table_filled_by_updates));
        let two_clients = vec![
            stored(10, "Bailey", short, "new"),
            stored(20, "Bailey", other, "new"),
        ];
        assert!(
            !holds(two_clients, max, table_filled_by_updates),
            "a new client, not an update"
        );
    }
}
