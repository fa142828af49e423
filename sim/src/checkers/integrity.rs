//! `integrity` (safety): only the herd writes the herd. Every record any server stores, and
//! every record in every final table, comes from an IAMAT that a legitimate client of the
//! harness sent to the record's origin server.
//!
//! The oracle is the harness's own log of what it sent, read without the server's parser: a
//! client step's line `IAMAT client location timestamp` sent to server S makes the record
//! `(origin S, client, location, timestamp)` legitimate; a load step makes `{prefix}{n}` at its
//! server legitimate (its timestamps are the client clock's). Hostile steps make nothing
//! legitimate, so a forged `AT` or `PEER` line, a far-future timestamp or an id over
//! `client_id_bytes_max` that ends up stored anywhere fails this checker. One exception: a
//! hostile step that only sends a long id within `client_id_bytes_max`, stamped with the
//! client's clock, sends what any client may send, and the herd must store it. A record may be judged while its IAMAT is still in
//! flight: what counts is that the IAMAT was sent before the record was stored.

use std::collections::{BTreeMap, BTreeSet};

use server::events::Event;
use server::protocol::Record;
use server::store::Outcome;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::{SimEvent, TraceEvent};

pub struct Integrity;

/// A record's identity without its time difference: (origin, client, location, timestamp).
type Claim = (String, String, String, String);

/// What legitimate clients sent so far.
#[derive(Default)]
struct Sent {
    iamats: BTreeSet<Claim>,
    /// server -> load steps' (prefix, clients).
    loads: BTreeMap<String, Vec<(String, u64)>>,
}

impl Sent {
    fn note(&mut self, event: &TraceEvent, run: &RunRecord) {
        let (server, line) = match event.sim_event() {
            Some(SimEvent::LoadSent {
                server,
                prefix,
                clients,
                ..
            }) => {
                let loads = self.loads.entry(server.clone()).or_default();
                loads.push((prefix.clone(), *clients));
                return;
            }
            Some(SimEvent::ClientSend {
                id, server, line, ..
            })
            | Some(SimEvent::HostileSend { id, server, line })
                if !run.hostile_steps.contains(id) =>
            {
                (server, line)
            }
            _ => return,
        };
        for line in line.lines() {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            if let ["IAMAT", client, location, timestamp] = fields[..] {
                self.iamats.insert((
                    server.to_string(),
                    client.to_string(),
                    location.to_string(),
                    timestamp.to_string(),
                ));
            }
        }
    }

    fn explains(&self, claim: &Claim) -> bool {
        if self.iamats.contains(claim) {
            return true;
        }
        let (origin, client, _, _) = claim;
        self.loads.get(origin).is_some_and(|loads| {
            loads.iter().any(|(prefix, clients)| {
                client
                    .strip_prefix(prefix.as_str())
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n < *clients && format!("{prefix}{n}") == *client)
            })
        })
    }
}

fn claim_of(record: &Record) -> Claim {
    (
        record.origin.clone(),
        record.client.clone(),
        record.location.to_string(),
        record.timestamp.to_string(),
    )
}

/// The claim of a final table's AT line `AT origin diff client location timestamp`.
fn claim_of_line(line: &str) -> Option<Claim> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    match fields[..] {
        ["AT", origin, _, client, location, timestamp, ..] => Some((
            origin.to_string(),
            client.to_string(),
            location.to_string(),
            timestamp.to_string(),
        )),
        _ => None,
    }
}

/// A client id as a violation shows it: long ids are cut.
fn shown(client: &str) -> String {
    const SHOWN_CHARS_MAX: usize = 40;
    if client.chars().count() > SHOWN_CHARS_MAX {
        let cut: String = client.chars().take(SHOWN_CHARS_MAX).collect();
        format!("{cut}... ({} bytes)", client.len())
    } else {
        client.to_string()
    }
}

impl Checker for Integrity {
    fn name(&self) -> CheckerName {
        CheckerName::Integrity
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut sent = Sent::default();
        let mut violations = Vec::new();
        let mut judged = 0usize;
        for event in &run.trace.events {
            sent.note(event, run);
            let Some(Event::RecordStored {
                record,
                outcome: Outcome::New,
                source,
            }) = event.server_event()
            else {
                continue;
            };
            judged += 1;
            let claim = claim_of(record);
            if !sent.explains(&claim) {
                violations.push(Violation::new(
                    event.at,
                    format!(
                        "{} stored {} {} {} {} (source {}), which no legitimate client sent to {}",
                        event.host,
                        claim.0,
                        shown(&claim.1),
                        claim.2,
                        claim.3,
                        source,
                        claim.0
                    ),
                ));
            }
        }
        for (server, table) in &run.final_tables {
            for line in table.iter().flatten() {
                judged += 1;
                match claim_of_line(line) {
                    Some(claim) if sent.explains(&claim) => {}
                    _ => violations.push(Violation::new(
                        run.end,
                        format!(
                            "{server}'s final table holds a record no legitimate client sent: {}",
                            shown(line)
                        ),
                    )),
                }
            }
        }
        let metric = format!("{judged} stored records judged");
        Verdict::judge(CheckerName::Integrity, violations, Some(metric))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;

    const KIWI: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";

    fn verdict(events: Vec<TraceEvent>, hostile: &[u64]) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.hostile_steps = hostile.iter().copied().collect();
        Integrity.check(&run)
    }

    #[test]
    fn a_record_from_a_client_iamat_passes_everywhere() {
        let v = verdict(
            vec![
                send(
                    1,
                    1,
                    "kiwi",
                    "Clark",
                    "IAMAT kiwi +34.068930-118.445127 1700000000.5",
                ),
                stored(2, "Clark", KIWI, "new"),
                stored(3, "Bona", KIWI, "new"),
            ],
            &[],
        );
        assert!(v.ok, "{v}");
        assert_eq!(v.metric.as_deref(), Some("2 stored records judged"));
    }

    #[test]
    fn a_forged_record_is_caught() {
        let forged = "AT Zulu +0.000000000 kiwi +0+0 99999999999";
        let v = verdict(
            vec![
                send(
                    1,
                    1,
                    "kiwi",
                    "Clark",
                    "IAMAT kiwi +34.068930-118.445127 1700000000.5",
                ),
                stored(2, "Clark", KIWI, "new"),
                stored(3, "Bailey", forged, "new"),
            ],
            &[],
        );
        assert!(!v.ok);
        assert!(
            v.details[0].contains("Bailey stored Zulu kiwi +0+0 99999999999"),
            "{v}"
        );
    }

    #[test]
    fn a_record_at_another_origin_than_the_iamat_is_caught() {
        let moved = "AT Bona +0.000001000 kiwi +34.068930-118.445127 1700000000.5";
        let v = verdict(
            vec![
                send(
                    1,
                    1,
                    "kiwi",
                    "Clark",
                    "IAMAT kiwi +34.068930-118.445127 1700000000.5",
                ),
                stored(2, "Bona", moved, "new"),
            ],
            &[],
        );
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn an_iamat_from_a_hostile_step_is_not_legitimate() {
        let future = "AT Clark +0.000001000 kiwi +0+0 99999999999";
        let v = verdict(
            vec![
                send(1, 7, "mallory", "Clark", "IAMAT kiwi +0+0 99999999999"),
                stored(2, "Clark", future, "new"),
            ],
            &[7],
        );
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn a_hostile_iamat_is_legitimate_only_from_a_step_that_sends_what_a_client_may() {
        let line = "IAMAT hhhh +0+0 1700000000.5";
        let hostile_send = TraceEvent::harness(
            ms(1),
            SimEvent::HostileSend {
                id: 7,
                server: "Clark".into(),
                line: line.into(),
            },
        );
        let events = vec![
            hostile_send,
            stored(
                2,
                "Clark",
                "AT Clark +0.000001000 hhhh +0+0 1700000000.5",
                "new",
            ),
        ];
        let v = verdict(events.clone(), &[]);
        assert!(v.ok, "step 7 sends an id within the bound: {v}");
        let v = verdict(events, &[7]);
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn a_stored_record_must_follow_its_iamat() {
        let v = verdict(
            vec![
                stored(1, "Clark", KIWI, "new"),
                send(
                    2,
                    1,
                    "kiwi",
                    "Clark",
                    "IAMAT kiwi +34.068930-118.445127 1700000000.5",
                ),
            ],
            &[],
        );
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn load_clients_are_legitimate_at_their_server_only() {
        let load = TraceEvent::harness(
            ms(1),
            SimEvent::LoadSent {
                id: 1,
                server: "Clark".into(),
                prefix: "ld".into(),
                clients: 10,
                connections: 1,
            },
        );
        let ok = verdict(
            vec![
                load.clone(),
                stored(2, "Bona", "AT Clark +0.1 ld9 +0+0 1700000000", "new"),
            ],
            &[],
        );
        assert!(ok.ok, "{ok}");
        let beyond = verdict(
            vec![
                load.clone(),
                stored(2, "Bona", "AT Clark +0.1 ld10 +0+0 1700000000", "new"),
            ],
            &[],
        );
        assert!(!beyond.ok, "{beyond}");
        let elsewhere = verdict(
            vec![
                load,
                stored(2, "Bona", "AT Bona +0.1 ld3 +0+0 1700000000", "new"),
            ],
            &[],
        );
        assert!(!elsewhere.ok, "{elsewhere}");
    }

    #[test]
    fn a_forged_record_in_a_final_table_is_caught() {
        let trace = trace(vec![]);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.final_tables.insert(
            "Bona".into(),
            Some(vec!["AT Campbell +0.1 mango +1+1 99999999999".into()]),
        );
        let v = Integrity.check(&run);
        assert!(!v.ok);
        assert!(v.details[0].contains("Bona's final table"), "{v}");
    }
}
