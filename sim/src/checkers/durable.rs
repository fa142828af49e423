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
        for (at, server, record) in &acknowledged {
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
