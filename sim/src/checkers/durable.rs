//! `durable` (safety): acknowledged means kept. With a data directory, every record a server
//! acknowledged (its `AT` reply to a client's IAMAT) is held at the end by every server running
//! then, or a newer record for its client, whatever power losses (crashes, even of the whole
//! herd at once) and disk faults came between; and a bit flipped in a server's files is
//! detected (`store_cut`) when the server next reads them, never taken as data.
//!
//! A server logs its `reply` just before writing it, and with a durable store only once the
//! record is synced, so the server's own log says what it acknowledged even when power failed
//! before the client read the reply. Without a data directory the herd promises nothing across
//! power loss, and nothing is judged.
//!
//! A record whose server that acknowledged it is down at the end, and that no server running
//! at the end stored since it was last down, is kept only on disks no running server reads:
//! no correct herd can bring it anywhere (its acknowledging server passes nothing on any more,
//! and what it passed on before was lost again), so it is owed to no one.

use std::collections::BTreeMap;

use server::events::Event;
use server::protocol::{Command, Record};

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::replay;
use crate::trace::{SimEvent, TraceEvent};

pub struct Durable;

impl Checker for Durable {
    fn name(&self) -> CheckerName {
        CheckerName::Durable
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        if !run.durable {
            return Verdict::judge(
                CheckerName::Durable,
                Vec::new(),
                Some("no data directory: nothing promised across power loss".into()),
            );
        }
        let mut violations = Vec::new();
        let acknowledged = acknowledged(&run.trace.events);
        let finals = final_tables(run);
        // A server whose clock runs too far behind must refuse a record (the same excuse
        // `convergence` makes): neither it nor an older record of its client (which the herd
        // no longer sends once the newer one is held) is owed there; nor is it owed to a
        // server that only servers refusing it could pass it to.
        let refused = super::convergence::refused::must_refuse(run);
        let downtime = replay::Downtime::from_trace(run.trace);
        for (at, server, record) in &acknowledged {
            if kept_only_where_down(run, &downtime, server, record) {
                continue;
            }
            let unreachable = super::convergence::refused::not_owed(run, record, &refused);
            for (holder, table) in &finals {
                let excused = unreachable.contains(holder.as_str())
                    || refused.get(holder).is_some_and(|lines| {
                        lines
                            .iter()
                            .filter_map(|l| crate::trace::replay::at_line(l))
                            .any(|r| {
                                r.client == record.client
                                    && (r == *record || r.is_newer_than(record))
                            })
                    });
                let kept = excused
                    || table
                        .get(&record.client)
                        .is_some_and(|held| held == record || held.is_newer_than(record));
                if !kept {
                    violations.push(Violation::new(
                        *at,
                        format!("{server} acknowledged `{record}`, which {holder} does not hold at the end"),
                    ));
                }
            }
        }
        let flips = undetected_flips(&run.trace.events, &mut violations);
        Verdict::judge(
            CheckerName::Durable,
            violations,
            Some(format!(
                "{} acknowledged records judged at {} servers; {flips} flipped bits detected",
                acknowledged.len(),
                finals.len()
            )),
        )
    }
}

/// Every record a server acknowledged: an `AT` reply to an IAMAT line on the same connection.
fn acknowledged(events: &[TraceEvent]) -> Vec<(std::time::Duration, String, Record)> {
    // Per server, each connection's last line (connection numbers start again with a life).
    let mut last_line: BTreeMap<&str, BTreeMap<u64, &str>> = BTreeMap::new();
    let mut acknowledged = Vec::new();
    for event in events {
        if let Some(server) = replay::memory_lost(event) {
            last_line.remove(server);
            continue;
        }
        match event.server_event() {
            Some(Event::ClientLine { conn, line }) => {
                last_line
                    .entry(&event.host)
                    .or_default()
                    .insert(*conn, line);
            }
            Some(Event::Reply { conn, line, .. }) => {
                let asked = last_line.get(event.host.as_str()).and_then(|c| c.get(conn));
                if asked.is_some_and(|asked| asked.trim_start().starts_with("IAMAT"))
                    && let Ok(Command::At(record)) = Command::parse_line(line.as_bytes())
                {
                    acknowledged.push((event.at, event.host.clone(), record));
                }
            }
            _ => {}
        }
    }
    acknowledged
}

/// Whether `server`, which acknowledged `record`, is down at the end and no server stored the
/// record (as new, from a client, a neighbour or its own disk) and stayed up since: the record
/// lies only on the disks of servers down at the end.
fn kept_only_where_down(
    run: &RunRecord,
    downtime: &replay::Downtime,
    server: &str,
    record: &Record,
) -> bool {
    if !downtime.down_at_end(server) {
        return false;
    }
    // Each server's last store of the record.
    let mut last_store: BTreeMap<&str, std::time::Duration> = BTreeMap::new();
    for event in &run.trace.events {
        if replay::stored_new(event).is_some_and(|stored| stored == record) {
            last_store.insert(event.host.as_str(), event.at);
        }
    }
    last_store
        .iter()
        .all(|(holder, at)| downtime.down_during(holder, *at, run.end))
}

/// The table of every server running at the end, by client.
fn final_tables(run: &RunRecord) -> BTreeMap<String, BTreeMap<String, Record>> {
    run.final_tables
        .iter()
        .filter_map(|(server, table)| {
            let table = table.as_ref()?;
            let records = table
                .iter()
                .filter_map(|line| match Command::parse_line(line.as_bytes()) {
                    Ok(Command::At(record)) => Some((record.client.clone(), record)),
                    _ => None,
                })
                .collect();
            Some((server.clone(), records))
        })
        .collect()
}

/// Adds a violation for each flipped bit that its server read back without a `store_cut`;
/// returns how many were detected.
fn undetected_flips(events: &[TraceEvent], violations: &mut Vec<Violation>) -> usize {
    let mut flipped: BTreeMap<&str, std::time::Duration> = BTreeMap::new();
    let mut detected = 0;
    for event in events {
        if let Some(SimEvent::DiskFault { server, fault, .. }) = event.sim_event()
            && fault == "flip_bit"
        {
            flipped.insert(server, event.at);
        }
        match event.server_event() {
            Some(Event::StoreCut { .. }) if flipped.remove(event.host.as_str()).is_some() => {
                detected += 1;
            }
            Some(Event::StoreRecovered { .. }) => {
                if let Some(at) = flipped.remove(event.host.as_str()) {
                    violations.push(Violation::new(
                        event.at,
                        format!(
                            "{} read its files back without noticing the bit flipped at {}",
                            event.host,
                            crate::trace::fmt_at(at)
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    detected
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;
    use crate::scenario::Checks;

    const NEW: &str = "AT Jaquez +0.004000000 lime +10+20 1700000002.000000000";

    /// The verdict where Jaquez acknowledges NEW at 2 s and no other server ever stores it;
    /// Jaquez crashes at 3 s and, when `back`, restarts at 4 s with NEW read from its disk.
    fn verdict(back: bool) -> Verdict {
        let conn = |event| TraceEvent::server(ms(2_000), "Jaquez", event);
        let mut events = vec![
            conn(Event::ClientLine {
                conn: 1,
                line: "IAMAT lime +10+20 1700000002.000000000".into(),
            }),
            stored(2_000, "Jaquez", NEW, "new"),
            conn(Event::Reply {
                conn: 1,
                line: NEW.into(),
                bytes: 60,
            }),
            crash(3_000, "Jaquez"),
        ];
        if back {
            events.push(restart(4_000, "Jaquez"));
            events.push(stored(4_000, "Jaquez", NEW, "new"));
        }
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.durable = true;
        for server in HERD {
            let table = (server != "Jaquez").then(Vec::new);
            run.final_tables.insert(server.to_string(), table);
        }
        if back {
            run.final_tables
                .insert("Jaquez".into(), Some(vec![NEW.to_string()]));
        }
        Durable.check(&run)
    }

    #[test]
    fn a_record_kept_only_on_the_disk_of_a_server_down_at_the_end_is_owed_to_no_one() {
        let v = verdict(false);
        assert!(
            v.ok,
            "only Jaquez's disk holds NEW, and Jaquez stays down: {v}"
        );
        // Jaquez comes back with NEW: its neighbours are owed it again.
        let v = verdict(true);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("which Bailey does not hold"), "{v}");
    }
}
