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
//!
//! A record whose every copy a flipped bit destroyed (its server's next start cut the very file
//! that held the copy, its snapshot or its log, before the record, and no other server running
//! at the end stored it) is held nowhere: a store keeps nothing past a bad frame in that file
//! (docs/durability.md), so it is owed to no one either. A bit flipped in one file leaves the
//! other whole: a record in the log behind a cut snapshot is still owed.
//!
//! A record whose every path from the servers holding it runs through a server down at the
//! end, or over a classic hop that never carried it, is owed to no one behind them, refused
//! anywhere or not, unless classic hops alone cut them off (`convergence`'s path search, run
//! for each record some server lacks).
//!
//! A server that had to refuse a newer record of a client, and never stored the older one,
//! passes the older one on to no one: its neighbours offer it each client's newest record only.
//! So a record superseded before it could pass such a server is not owed behind it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

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
        // server that only servers refusing it, or a newer record of its client, could pass it
        // to.
        let refused = super::convergence::refused::must_refuse(run);
        let downtime = replay::Downtime::from_trace(run.trace);
        for (at, server, record) in &acknowledged {
            // Every excuse reads the trace: only for a record some server lacks.
            let lacking: Vec<&String> = finals
                .iter()
                .filter(|(_, table)| {
                    !table
                        .get(&record.client)
                        .is_some_and(|held| held == record || held.is_newer_than(record))
                })
                .map(|(holder, _)| holder)
                .collect();
            if lacking.is_empty()
                || kept_only_where_down(run, &downtime, server, record)
                || lost_to_flipped_bits(run, &downtime, record)
            {
                continue;
            }
            let refusing = refused_or_superseded(run, &refused, record);
            let unreachable = super::convergence::refused::not_owed(run, record, &refusing);
            for holder in lacking {
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
                if !excused {
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

/// `refused`, where a server that had to refuse a newer record of `record`'s client and never
/// stored `record` also counts as refusing `record`: its neighbours send each client's newest
/// record, so once they hold the newer one, it is offered only that, and it has no older one
/// to pass on. A server that stored `record` is left as it is.
fn refused_or_superseded<'a>(
    run: &RunRecord,
    refused: &'a BTreeMap<String, BTreeSet<String>>,
    record: &Record,
) -> Cow<'a, BTreeMap<String, BTreeSet<String>>> {
    let refuses_newer = |lines: &BTreeSet<String>| {
        lines
            .iter()
            .filter_map(|line| replay::at_line(line))
            .any(|r| r.client == record.client && r.is_newer_than(record))
    };
    let superseded: Vec<&String> = refused
        .iter()
        .filter(|(_, lines)| refuses_newer(lines))
        .map(|(server, _)| server)
        .collect();
    if superseded.is_empty() {
        return Cow::Borrowed(refused);
    }
    let stored: BTreeSet<&str> = run
        .trace
        .events
        .iter()
        .filter(|event| replay::stored_new(event).is_some_and(|stored| stored == record))
        .map(|event| event.host.as_str())
        .collect();
    let mut refusing = refused.clone();
    for server in superseded {
        if !stored.contains(server.as_str()) {
            refusing
                .entry(server.clone())
                .or_default()
                .insert(record.to_string());
        }
    }
    Cow::Owned(refusing)
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

/// Whether every copy of `record` is gone: each server that stored it (as new, from a client,
/// a neighbour or its own disk) is down at the end, or lost it to a flipped bit: a `flip_bit`
/// on its disk after it stored the record, then a start whose first cut (`store_cut`, the file
/// the bit flipped in: the first file the start reads that holds anything) was in the very
/// file that held its copy, and that did not read the record back. A copy is in the log of
/// the generation it was stored in, and in the snapshot of each later `store_snapshot` taken
/// while it was held; a copy read back from disk stays where it was. A flipped bit in one file
/// leaves the other whole: a start that leaves out a record the cut file did not hold keeps
/// the server's copy owed, as does one with no flipped bit: a correct store never loses what
/// it synced.
fn lost_to_flipped_bits(run: &RunRecord, downtime: &replay::Downtime, record: &Record) -> bool {
    /// One server's copy: the file that holds it, whether a bit flipped on its disk since it
    /// stored the record (or since its last start), the file the next start's first cut was
    /// in, and whether a start lost the record that way.
    #[derive(Default)]
    struct Copy {
        file: String,
        flipped: bool,
        cut: Option<String>,
        lost: bool,
    }
    // Each server's generation: the files it writes now.
    let mut generation: BTreeMap<&str, u64> = BTreeMap::new();
    let mut copies: BTreeMap<&str, Copy> = BTreeMap::new();
    for event in &run.trace.events {
        let host = event.host.as_str();
        if let Some(Event::RecordStored {
            record: stored,
            outcome: server::store::Outcome::New,
            source,
        }) = event.server_event()
            && stored == record
        {
            // Read back from disk, the copy is where it was; otherwise it is in the log.
            let file = match copies.get(host) {
                Some(copy) if *source == server::events::Source::Disk => copy.file.clone(),
                _ => format!("log-{}", generation.get(host).copied().unwrap_or(0)),
            };
            copies.insert(
                host,
                Copy {
                    file,
                    ..Copy::default()
                },
            );
            continue;
        }
        if let Some(SimEvent::DiskFault { server, fault, .. }) = event.sim_event()
            && fault == "flip_bit"
            && let Some(copy) = copies.get_mut(server.as_str())
        {
            copy.flipped = true;
        }
        match event.server_event() {
            Some(Event::StoreSnapshot { generation: g, .. }) => {
                generation.insert(host, *g);
                if let Some(copy) = copies.get_mut(host)
                    && !copy.lost
                {
                    copy.file = format!("snapshot-{g}");
                }
            }
            // The flipped bit is in the first file cut: later cuts at that start are torn
            // tails, which hold nothing synced.
            Some(Event::StoreCut { file, .. }) => {
                if let Some(copy) = copies.get_mut(host)
                    && copy.flipped
                    && copy.cut.is_none()
                {
                    copy.cut = Some(file.clone());
                }
            }
            // The start is over: had it read the record back, the copy would be new again.
            // A flipped bit is read at the next start, and only there; a copy lost stays lost
            // until the server stores the record again.
            Some(Event::StoreRecovered { generation: g, .. }) => {
                generation.insert(host, *g);
                if let Some(copy) = copies.get_mut(host) {
                    copy.lost |= copy.cut.as_ref() == Some(&copy.file);
                    copy.flipped = false;
                    copy.cut = None;
                }
            }
            _ => {}
        }
    }
    !copies.is_empty()
        && copies
            .iter()
            .all(|(server, copy)| copy.lost || downtime.down_at_end(server))
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

    /// `server` acknowledges `at_line` at 2 s: the client's IAMAT, its store and the reply.
    fn acknowledged(server: &str, iamat: &str, at_line: &str) -> Vec<TraceEvent> {
        let conn = |event| TraceEvent::server(ms(2_000), server, event);
        vec![
            conn(Event::ClientLine {
                conn: 1,
                line: iamat.into(),
            }),
            stored(2_000, server, at_line, "new"),
            conn(Event::Reply {
                conn: 1,
                line: at_line.into(),
                bytes: 60,
            }),
        ]
    }

    const NEW: &str = "AT Jaquez +0.004000000 lime +10+20 1700000002.000000000";

    /// The verdict where Jaquez acknowledges NEW at 2 s and no other server ever stores it;
    /// Jaquez crashes at 3 s and, when `back`, restarts at 4 s with NEW read from its disk.
    fn verdict(back: bool) -> Verdict {
        let mut events = acknowledged("Jaquez", "IAMAT lime +10+20 1700000002.000000000", NEW);
        events.extend([crash(3_000, "Jaquez")]);
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

    const OLDER: &str = "AT Bona +0.000002000 kiwi +1+1 1700000001.000000000";
    const NEWER: &str = "AT Jaquez +0.000001000 kiwi +2+2 1700000005.000000000";

    /// Bona acknowledges OLDER at 2 s and floods it to Bailey over their classic link, a flood
    /// `lost` or not; its other neighbours never get it. Jaquez's NEWER reaches Clark and Bona
    /// at 3 s, and Campbell (Bailey's other neighbour) refuses it when `refused`, its clock 4 s
    /// behind NEWER with 2 s allowed; else it stores NEWER. Bailey ends with no record of kiwi.
    fn superseded_verdict(lost: bool, refused: bool) -> Verdict {
        let mut events = acknowledged("Bona", "IAMAT kiwi +1+1 1700000001.000000000", OLDER);
        events.extend([flood(2_000, "Bona", "Bailey", OLDER)]);
        if lost {
            events.push(TraceEvent::server(
                ms(2_001),
                "Bona",
                Event::PeerConnectFailed {
                    peer: "Bailey".into(),
                    error: "connection refused".into(),
                    retry_ms: 0,
                    client: Some("kiwi".into()),
                },
            ));
        }
        for server in ["Jaquez", "Clark", "Bona"] {
            events.push(stored(3_000, server, NEWER, "new"));
        }
        if refused {
            let mut refusal = TraceEvent::server(
                ms(3_000),
                "Campbell",
                Event::LineRefused {
                    peer: Some("Jaquez".into()),
                    conn: None,
                    reason: server::events::LineRefusal::TooFarAhead,
                    line: NEWER.into(),
                },
            );
            refusal.wall_clock = Some(std::time::Duration::from_secs(1_700_000_001));
            events.push(refusal);
        } else {
            events.push(stored(3_000, "Campbell", NEWER, "new"));
        }
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.durable = true;
        run.limits.timestamp_ahead_max = std::time::Duration::from_secs(2);
        let link = ("Bailey".to_string(), "Bona".to_string());
        run.persistent_links.remove(&link);
        run.classic_links.insert(link);
        for server in HERD {
            let table = match server {
                "Bailey" => vec![],
                "Campbell" if refused => vec![],
                _ => vec![NEWER.to_string()],
            };
            run.final_tables.insert(server.to_string(), Some(table));
        }
        Durable.check(&run)
    }

    #[test]
    fn a_record_superseded_by_one_the_only_path_must_refuse_is_not_owed_behind_it() {
        let v = superseded_verdict(true, true);
        assert!(
            v.ok,
            "OLDER's classic flood was lost, and Campbell gets only NEWER, which it refuses: {v}"
        );
        // The classic flood went through: Bailey is owed OLDER.
        let v = superseded_verdict(false, true);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("which Bailey does not hold"), "{v}");
        // Campbell took NEWER, so it could have passed it on to Bailey.
        let v = superseded_verdict(true, false);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("which Bailey does not hold"), "{v}");
    }

    const LIME: &str = "AT Clark +0.002000000 lime +1+1 1700000001.000000000";

    /// Clark acknowledges LIME at 2 s and floods it to Bona and Jaquez, which store it; Bona's
    /// store fails before it passes LIME on, and it stays down. Jaquez floods LIME to Campbell
    /// over their classic link, a flood `lost` or not. No server refuses LIME; Bailey and
    /// Campbell end with no record of lime.
    fn cut_off_verdict(lost: bool) -> Verdict {
        let mut events = acknowledged("Clark", "IAMAT lime +1+1 1700000001.000000000", LIME);
        events.extend([
            stored(2_001, "Bona", LIME, "new"),
            stored(2_001, "Jaquez", LIME, "new"),
            TraceEvent::server(
                ms(2_002),
                "Bona",
                Event::StoreFailed {
                    error: "sync failed".into(),
                },
            ),
            flood(2_002, "Jaquez", "Campbell", LIME),
        ]);
        if lost {
            events.push(TraceEvent::server(
                ms(2_003),
                "Jaquez",
                Event::PeerConnectFailed {
                    peer: "Campbell".into(),
                    error: "connection refused".into(),
                    retry_ms: 0,
                    client: Some("lime".into()),
                },
            ));
        }
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.durable = true;
        let link = ("Campbell".to_string(), "Jaquez".to_string());
        run.persistent_links.remove(&link);
        run.classic_links.insert(link);
        for server in HERD {
            let table = match server {
                "Bona" => None,
                "Clark" | "Jaquez" => Some(vec![LIME.to_string()]),
                _ => Some(vec![]),
            };
            run.final_tables.insert(server.to_string(), table);
        }
        Durable.check(&run)
    }

    #[test]
    fn a_record_cut_off_by_a_stopped_server_and_a_lost_classic_flood_is_not_owed_there() {
        let v = cut_off_verdict(true);
        assert!(
            v.ok,
            "Bona stopped before passing LIME on and the classic flood was lost: {v}"
        );
        // The classic flood went through: Campbell, and Bailey behind it, are owed LIME.
        let v = cut_off_verdict(false);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("which Bailey does not hold"), "{v}");
        assert!(v.details[1].contains("which Campbell does not hold"), "{v}");
    }

    /// Where Jaquez's copy of NEW is when its files are cut: it takes snapshot-1 at 2.5 s,
    /// after storing NEW (in the snapshot), or at 1 s (NEW in log-1).
    #[derive(Clone, Copy, PartialEq)]
    enum Held {
        Snapshot,
        Log,
    }

    /// Jaquez acknowledges NEW at 2 s, and Bona stores it when `bona` (it stays up); no other
    /// server gets it. Jaquez's copy is `held` in its snapshot or its log. It loses power at
    /// 3 s, with a bit flipped on its disk when `flipped`, and starts again at 4 s: its files
    /// cut at `cuts` (`store_cut`, in that order, when `flipped`) and NEW not read back. It
    /// loses power again at 5 s and starts cleanly at 6 s.
    fn flipped_verdict(flipped: bool, bona: bool, held: Held, cuts: &[&str]) -> Verdict {
        let snapshot = |at| {
            let event = Event::StoreSnapshot {
                generation: 1,
                records: 0,
                bytes: 20,
            };
            TraceEvent::server(ms(at), "Jaquez", event)
        };
        let mut events = Vec::new();
        if held == Held::Log {
            events.push(snapshot(1_000));
        }
        events.extend(acknowledged(
            "Jaquez",
            "IAMAT lime +10+20 1700000002.000000000",
            NEW,
        ));
        if bona {
            events.push(stored(2_005, "Bona", NEW, "new"));
        }
        if held == Held::Snapshot {
            events.push(snapshot(2_500));
        }
        if flipped {
            let flip = SimEvent::DiskFault {
                step: 1,
                server: "Jaquez".into(),
                fault: "flip_bit".into(),
            };
            events.push(TraceEvent::harness(ms(3_000), flip));
        }
        events.push(crash(3_000, "Jaquez"));
        events.push(restart(4_000, "Jaquez"));
        if flipped {
            for file in cuts {
                let cut = Event::StoreCut {
                    file: file.to_string(),
                    offset: 0,
                    kind: server::events::StoreCutKind::Corrupt,
                };
                events.push(TraceEvent::server(ms(4_000), "Jaquez", cut));
            }
        }
        let recovered = Event::StoreRecovered {
            generation: 1,
            records: 0,
            head: 0,
            resume_points: 0,
            same_life: !flipped,
        };
        events.push(TraceEvent::server(ms(4_000), "Jaquez", recovered.clone()));
        // A later power loss and a clean start change nothing.
        events.push(crash(5_000, "Jaquez"));
        events.push(restart(6_000, "Jaquez"));
        events.push(TraceEvent::server(ms(6_000), "Jaquez", recovered));
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.durable = true;
        for server in HERD {
            let table = if bona && server == "Bona" {
                vec![NEW.to_string()]
            } else {
                vec![]
            };
            run.final_tables.insert(server.to_string(), Some(table));
        }
        Durable.check(&run)
    }

    #[test]
    fn a_record_whose_only_copy_a_flipped_bit_destroyed_is_owed_to_no_one() {
        let v = flipped_verdict(true, false, Held::Snapshot, &["snapshot-1"]);
        assert!(v.ok, "only Jaquez held NEW, and a flipped bit cut it: {v}");
        let v = flipped_verdict(true, false, Held::Log, &["log-1"]);
        assert!(v.ok, "the bit flipped in the log that held NEW: {v}");
        // No bit flipped: Jaquez's start lost a record it had synced.
        let v = flipped_verdict(false, false, Held::Snapshot, &["snapshot-1"]);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("which Bailey does not hold"), "{v}");
        // Bona keeps a copy: the others are owed it.
        let v = flipped_verdict(true, true, Held::Snapshot, &["snapshot-1"]);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("which Bailey does not hold"), "{v}");
    }

    #[test]
    fn a_record_in_the_log_behind_a_flipped_snapshot_is_still_owed() {
        let v = flipped_verdict(true, false, Held::Log, &["snapshot-1"]);
        assert!(
            !v.ok,
            "the bit flipped in the snapshot, NEW was in the log: {v}"
        );
        assert!(v.details[0].contains("which Bailey does not hold"), "{v}");
        // A torn log tail after the flipped snapshot holds nothing synced.
        let v = flipped_verdict(true, false, Held::Log, &["snapshot-1", "log-1"]);
        assert!(
            !v.ok,
            "the bit flipped in the snapshot, NEW was in the log: {v}"
        );
        // NEW was in the snapshot, the bit flipped in the log that came after it.
        let v = flipped_verdict(true, false, Held::Snapshot, &["log-1"]);
        assert!(
            !v.ok,
            "the bit flipped in the log, NEW was in the snapshot: {v}"
        );
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
