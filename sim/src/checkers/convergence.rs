//! `convergence` (liveness): after the last fault, every running server comes to hold the
//! same table, the newest record for each client, within `converged_within`, and keeps it.
//!
//! Replays `record_stored` (new) per server; a crash (or a `store_failed`, after which the
//! server stops itself) empties a server and takes it out of the herd until its restart. The
//! target is, per client, the newest record that survived into the quiet period: held by a
//! running server at `quiet_since`, or stored after it, and not lost again by every server that
//! stored it. (A record that lived only on servers that crashed, or stopped when their store
//! failed, is legitimately lost: no herd can bring it back.) The herd must be at the target at
//! some time no later than
//! `max(quiet_since, last IAMAT stored) + converged_within` and stay there until the end.
//! The final tables the driver read from the servers must agree with the replay.
//!
//! A record a server had to refuse (too far ahead of its own clock: [`refused`]) is not owed
//! to it, nor to a server that no path of links from the servers holding it reaches without
//! passing through a server that had to refuse it, a server down at the end, or a classic hop
//! that never carried it (the record cannot travel there, refused anywhere or not): where the
//! target for a client is such a record, that client is not judged there.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::protocol::Record;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::scenario::fmt_duration;
use crate::trace::replay::{self, Tables};
use crate::trace::{SimEvent, TraceEvent, fmt_at};

pub(crate) mod full;
pub(crate) mod refused;

pub struct Convergence;

/// What the replay found; the metrics use it too.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Per client, the record every running server must end with.
    pub target: BTreeMap<String, Record>,
    /// From when the bound runs: the last fault or the last client update, whichever is later.
    pub settle_from: Duration,
    pub deadline: Duration,
    /// Start of the final stretch in which every running server held the target, if the run
    /// ended converged.
    pub converged_at: Option<Duration>,
    /// Running servers at the end and their tables.
    pub final_tables: BTreeMap<String, Vec<String>>,
    /// Servers down at the end.
    pub down_at_end: BTreeSet<String>,
    /// Per server, the clients whose target record it had to refuse, so is not owed.
    pub excused: BTreeMap<String, BTreeSet<String>>,
}

impl Analysis {
    /// `lines` (sorted AT lines, one per client) without the clients `server` is excused.
    fn owed_at(&self, server: &str, lines: &[String]) -> Vec<String> {
        let Some(excused) = self.excused.get(server) else {
            return lines.to_vec();
        };
        lines
            .iter()
            .filter(|l| !excused.contains(l.split(' ').nth(3).unwrap_or("")))
            .cloned()
            .collect()
    }
}

/// What a convergence time counts from: the last fault, or the start in a run with none.
pub fn since_words(faulted: bool) -> &'static str {
    if faulted {
        "after the last fault"
    } else {
        "after the start (no faults)"
    }
}

impl Analysis {
    /// How long after the last fault the herd converged (zero if it already was).
    pub fn convergence_time(&self, quiet_since: Duration) -> Option<Duration> {
        self.converged_at.map(|at| at.saturating_sub(quiet_since))
    }
}

/// Replays the run twice: once to find the target, once to find when the herd reached it.
pub fn analyse(run: &RunRecord) -> Analysis {
    let target_lines = |target: &BTreeMap<String, Record>| -> Vec<String> {
        target.values().map(ToString::to_string).collect()
    };

    // Pass 1: the target, and when the last client update was stored.
    let mut replayer = Replayer::new(&run.servers);
    let mut candidates: Vec<Record> = Vec::new();
    let mut snapshot_taken = false;
    let mut last_client_update = Duration::ZERO;
    for event in &run.trace.events {
        if !snapshot_taken && event.at > run.quiet_since {
            candidates.extend(replayer.running_records());
            snapshot_taken = true;
        }
        if let Some(record) = replayer.apply(event) {
            if replay::client_update(event).is_some() {
                last_client_update = last_client_update.max(event.at);
            }
            if event.at > run.quiet_since {
                candidates.push(record);
            }
        }
    }
    if !snapshot_taken {
        candidates.extend(replayer.running_records());
    }
    // A record every server that stored it lost again (it stopped itself when its store
    // failed, or crashed) before passing it on is held nowhere: no herd can bring it back.
    let held_at_end: BTreeSet<String> = replayer
        .running_records()
        .iter()
        .map(ToString::to_string)
        .collect();
    candidates.retain(|record| held_at_end.contains(&record.to_string()));
    let mut target: BTreeMap<String, Record> = BTreeMap::new();
    for record in candidates {
        let newer = target
            .get(&record.client)
            .is_none_or(|held| record.is_newer_than(held));
        if newer {
            target.insert(record.client.clone(), record);
        }
    }
    let wanted = target_lines(&target);
    let refused = refused::must_refuse(run);
    let mut excused: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for record in target.values() {
        // A record no server had to refuse and every running server holds at the end excuses
        // no one: the path search (its trace reads) is for the others.
        let line = record.to_string();
        let refused_somewhere = refused.values().any(|lines| lines.contains(&line));
        let lacking = replayer
            .running
            .iter()
            .any(|s| replayer.tables.held(s, &record.client) != Some(record));
        if !refused_somewhere && !lacking {
            continue;
        }
        for server in refused::not_owed(run, record, &refused) {
            excused
                .entry(server)
                .or_default()
                .insert(record.client.clone());
        }
    }
    let mut analysis = Analysis {
        target,
        settle_from: Duration::ZERO,
        deadline: Duration::ZERO,
        converged_at: None,
        final_tables: BTreeMap::new(),
        down_at_end: BTreeSet::new(),
        excused,
    };

    // Pass 2: when the herd last became converged.
    let mut replayer = Replayer::new(&run.servers);
    let mut converged_since = replayer
        .converged(&wanted, &analysis)
        .then_some(Duration::ZERO);
    let events = &run.trace.events;
    for (index, event) in events.iter().enumerate() {
        replayer.apply(event);
        let last_at_this_time = events.get(index + 1).is_none_or(|next| next.at != event.at);
        if last_at_this_time {
            if !replayer.converged(&wanted, &analysis) {
                converged_since = None;
            } else if converged_since.is_none() {
                converged_since = Some(event.at);
            }
        }
    }

    let settle_from = run.quiet_since.max(last_client_update);
    analysis.deadline = settle_from + run.checks.converged_within;
    analysis.settle_from = settle_from;
    analysis.converged_at = converged_since;
    analysis.final_tables = replayer
        .running
        .iter()
        .map(|s| (s.clone(), replayer.tables.lines(s)))
        .collect();
    analysis.down_at_end = run
        .servers
        .iter()
        .filter(|s| !replayer.running.contains(*s))
        .cloned()
        .collect();
    analysis
}

/// Tables plus which servers are running.
struct Replayer {
    tables: Tables,
    running: BTreeSet<String>,
}

impl Replayer {
    fn new(servers: &[String]) -> Replayer {
        Replayer {
            tables: Tables::default(),
            running: servers.iter().cloned().collect(),
        }
    }

    /// Applies one event; returns the record if it was stored as new on a running server.
    fn apply(&mut self, event: &TraceEvent) -> Option<Record> {
        match event.sim_event() {
            Some(SimEvent::Crash { server, .. }) => {
                self.tables.clear(server);
                self.running.remove(server);
                return None;
            }
            Some(SimEvent::Restart { server, .. }) => {
                self.tables.clear(server);
                self.running.insert(server.to_string());
                return None;
            }
            _ => {}
        }
        if let Some(server::events::Event::StoreFailed { .. }) = event.server_event() {
            // Its disk failed: the server stopped itself, as good as crashed.
            self.tables.clear(&event.host);
            self.running.remove(&event.host);
            return None;
        }
        let record = replay::stored_new(event)?;
        if !self.running.contains(&event.host) {
            return None;
        }
        self.tables.store(&event.host, record.clone());
        Some(record.clone())
    }

    fn running_records(&self) -> Vec<Record> {
        self.running
            .iter()
            .filter_map(|s| self.tables.servers.get(s))
            .flat_map(|table| table.values().cloned())
            .collect()
    }

    /// Every running server holds what it is owed of `wanted`, and nothing else.
    fn converged(&self, wanted: &[String], analysis: &Analysis) -> bool {
        self.running
            .iter()
            .all(|s| analysis.owed_at(s, &self.tables.lines(s)) == analysis.owed_at(s, wanted))
    }
}

impl Checker for Convergence {
    fn name(&self) -> CheckerName {
        CheckerName::Convergence
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let analysis = analyse(run);
        let mut violations = Vec::new();
        let wanted: Vec<String> = analysis.target.values().map(ToString::to_string).collect();
        let metric = match analysis.converged_at {
            Some(at) if at <= analysis.deadline => Some(format!(
                "converged {} {} ({} running servers, {} clients)",
                fmt_at(at.saturating_sub(run.quiet_since)),
                since_words(run.faulted),
                analysis.final_tables.len(),
                analysis.target.len()
            )),
            Some(at) => {
                violations.push(Violation::new(
                    at,
                    format!(
                        "converged only at {}, after the deadline {} ({} + converged_within {})",
                        fmt_at(at),
                        fmt_at(analysis.deadline),
                        fmt_at(analysis.settle_from),
                        fmt_duration(run.checks.converged_within)
                    ),
                ));
                None
            }
            None if run.end < analysis.deadline => Some(format!(
                "not judged: the run ended at {}, before the deadline {}",
                fmt_at(run.end),
                fmt_at(analysis.deadline)
            )),
            None => {
                for (server, lines) in &analysis.final_tables {
                    let (held, owed) = (
                        analysis.owed_at(server, lines),
                        analysis.owed_at(server, &wanted),
                    );
                    for problem in differences(&held, &owed) {
                        violations.push(Violation::new(
                            run.end,
                            format!("{server} did not converge: {problem}"),
                        ));
                    }
                }
                Some(format!(
                    "not converged by the deadline {}",
                    fmt_at(analysis.deadline)
                ))
            }
        };
        violations.extend(final_table_mismatches(run, &analysis));
        Verdict::judge(CheckerName::Convergence, violations, metric)
    }
}

/// What `held` lacks or has extra compared with `wanted` (both sorted AT lines, one per client).
fn differences(held: &[String], wanted: &[String]) -> Vec<String> {
    let by_client = |lines: &[String]| -> BTreeMap<String, String> {
        lines
            .iter()
            .map(|l| (l.split(' ').nth(3).unwrap_or("").to_string(), l.clone()))
            .collect()
    };
    let (held, wanted) = (by_client(held), by_client(wanted));
    let clients: BTreeSet<&String> = held.keys().chain(wanted.keys()).collect();
    clients
        .into_iter()
        .filter_map(|client| match (held.get(client), wanted.get(client)) {
            (Some(h), Some(w)) if h == w => None,
            (h, w) => Some(format!(
                "for {client} holds {} instead of {}",
                h.map_or("nothing".to_string(), |h| format!("`{h}`")),
                w.map_or("nothing".to_string(), |w| format!("`{w}`"))
            )),
        })
        .collect()
}

/// The driver's final tables against the replay (normalised through the record parser).
fn final_table_mismatches(run: &RunRecord, analysis: &Analysis) -> Vec<Violation> {
    let normalise =
        |line: &String| replay::at_line(line).map_or_else(|| line.clone(), |r| r.to_string());
    let mut out = Vec::new();
    for (server, reported) in &run.final_tables {
        let replayed = analysis.final_tables.get(server);
        match (reported, replayed) {
            (None, None) => {}
            (None, Some(_)) => out.push(Violation::new(run.end, format!("{server} was running at the end by the trace, but the driver found it crashed"))),
            (Some(_), None) => out.push(Violation::new(run.end, format!("{server} was crashed at the end by the trace, but the driver read a table from it"))),
            (Some(reported), Some(replayed)) => {
                let mut reported: Vec<String> = reported.iter().map(normalise).collect();
                reported.sort_by(|a, b| a.split(' ').nth(3).cmp(&b.split(' ').nth(3)));
                for problem in differences(&reported, replayed) {
                    out.push(Violation::new(run.end, format!("{server}'s final table disagrees with its trace: {problem}")));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use server::events::{Event, LineRefusal};

    use super::super::testing::*;
    use super::*;
    use crate::scenario::Checks;

    const OLD: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";
    const NEW: &str = "AT Bona +0.000002000 kiwi +34.1-118.4 1700000001";

    fn everywhere(at: u64, line: &str, except: &[&str]) -> Vec<TraceEvent> {
        HERD.iter()
            .filter(|s| !except.contains(s))
            .map(|s| stored(at, s, line, "new"))
            .collect()
    }

    fn verdict_with(events: Vec<TraceEvent>, quiet_ms: u64, end_ms: u64) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.quiet_since = ms(quiet_ms);
        run.faulted = true;
        run.end = ms(end_ms);
        Convergence.check(&run)
    }

    #[test]
    fn a_herd_that_agrees_on_the_newest_record_passes() {
        let mut events = everywhere(10, OLD, &[]);
        events.extend(everywhere(2_000, NEW, &[]));
        let v = verdict_with(events, 1_000, 10_000);
        assert!(v.ok, "{v}");
        assert_eq!(
            v.metric.as_deref(),
            Some("converged 1.000s after the last fault (5 running servers, 1 clients)")
        );
    }

    #[test]
    fn a_server_left_with_an_older_record_is_caught() {
        let mut events = everywhere(10, OLD, &[]);
        events.extend(everywhere(2_000, NEW, &["Jaquez"]));
        let v = verdict_with(events, 1_000, 10_000);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("Jaquez did not converge: for kiwi holds `AT Clark"),
            "{v}"
        );
    }

    #[test]
    fn converging_after_the_deadline_is_caught() {
        let mut events = everywhere(10, OLD, &[]);
        events.extend(everywhere(2_000, NEW, &["Jaquez"]));
        events.push(stored(6_000, "Jaquez", NEW, "new"));
        let v = verdict_with(events, 1_000, 10_000);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("converged only at 6.000s, after the deadline 5.000s"),
            "{v}"
        );
    }

    /// Jaquez refuses NEW as too far ahead, its clock then reading `clock_secs`.
    fn refused_at_jaquez(at: u64, clock_secs: u64) -> TraceEvent {
        refused_at("Jaquez", at, clock_secs)
    }

    /// `server` refuses NEW as too far ahead, its clock then reading `clock_secs`.
    fn refused_at(server: &str, at: u64, clock_secs: u64) -> TraceEvent {
        let mut event = TraceEvent::server(
            ms(at),
            server,
            Event::LineRefused {
                peer: Some("Campbell".into()),
                conn: None,
                reason: LineRefusal::TooFarAhead,
                line: NEW.to_string(),
            },
        );
        event.wall_clock = Some(Duration::from_secs(clock_secs));
        event
    }

    fn verdict_ahead_max_2s(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.limits.timestamp_ahead_max = Duration::from_secs(2);
        run.quiet_since = ms(1_000);
        run.faulted = true;
        run.end = ms(10_000);
        Convergence.check(&run)
    }

    #[test]
    fn a_record_a_server_had_to_refuse_is_not_owed_to_it() {
        let mut events = everywhere(10, OLD, &[]);
        events.extend(everywhere(2_000, NEW, &["Jaquez"]));
        // NEW (1700000001) is 3 s ahead of Jaquez's clock, over the 2 s allowed.
        events.push(refused_at_jaquez(2_010, 1_699_999_998));
        let v = verdict_ahead_max_2s(events);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_record_that_only_servers_that_refuse_it_could_pass_on_is_not_owed() {
        // Jaquez's neighbours are Campbell and Clark; both had to refuse NEW (from Bona).
        let mut events = everywhere(10, OLD, &[]);
        events.extend(everywhere(2_000, NEW, &["Campbell", "Clark", "Jaquez"]));
        events.push(refused_at("Campbell", 2_010, 1_699_999_998));
        events.push(refused_at("Clark", 2_010, 1_699_999_998));
        let v = verdict_ahead_max_2s(events);
        assert!(v.ok, "no link brings NEW to Jaquez: {v}");
        // Campbell took it, so it could have passed it on to Jaquez.
        let mut events = everywhere(10, OLD, &[]);
        events.extend(everywhere(2_000, NEW, &["Clark", "Jaquez"]));
        events.push(refused_at("Clark", 2_010, 1_699_999_998));
        let v = verdict_ahead_max_2s(events);
        assert!(!v.ok);
        assert!(v.details[0].contains("Jaquez did not converge"), "{v}");
    }

    #[test]
    fn a_record_only_a_server_down_at_the_end_could_pass_on_is_not_owed() {
        // Jaquez's neighbours are Campbell and Clark. Clark had to refuse NEW; Campbell stored
        // it and went down (its store failed, or it crashed) before passing it on.
        let events = |campbell_back: bool| {
            let mut events = everywhere(10, OLD, &[]);
            events.extend(everywhere(2_000, NEW, &["Clark", "Jaquez"]));
            events.push(crash(2_005, "Campbell"));
            events.push(refused_at("Clark", 2_010, 1_699_999_998));
            if campbell_back {
                events.push(restart(2_500, "Campbell"));
            }
            events
        };
        let v = verdict_ahead_max_2s(events(false));
        assert!(
            v.ok,
            "Campbell stays down, so nothing brings NEW to Jaquez: {v}"
        );
        // Campbell comes back: it catches up from Bailey and Bona and owes Jaquez NEW.
        let v = verdict_ahead_max_2s(events(true));
        assert!(!v.ok, "{v}");
        let jaquez = v
            .details
            .iter()
            .any(|d| d.contains("Jaquez did not converge"));
        assert!(jaquez, "{v}");
    }

    /// The verdict on `events` where Clark and Jaquez are joined by a classic link, records
    /// may be 2 s ahead at most, and the last fault is at 3 s.
    fn verdict_classic_clark_jaquez(events: Vec<TraceEvent>) -> Verdict {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        let link = ("Clark".to_string(), "Jaquez".to_string());
        run.persistent_links.remove(&link);
        run.classic_links.insert(link);
        run.limits.timestamp_ahead_max = Duration::from_secs(2);
        run.quiet_since = ms(3_000);
        run.faulted = true;
        Convergence.check(&run)
    }

    #[test]
    fn a_record_a_classic_link_flooded_while_its_neighbour_was_down_is_not_owed_there() {
        // Jaquez's neighbours: Campbell, which had to refuse NEW, and Clark over a classic link.
        let events = |jaquez_down: bool| {
            let mut events = everywhere(10, OLD, &[]);
            if jaquez_down {
                events.push(crash(1_500, "Jaquez"));
            }
            events.extend(everywhere(2_000, NEW, &["Campbell", "Jaquez"]));
            events.push(flood(2_001, "Clark", "Jaquez", NEW));
            events.push(refused_at("Campbell", 2_010, 1_699_999_998));
            if jaquez_down {
                events.push(restart(2_500, "Jaquez"));
                events.push(stored(2_600, "Jaquez", OLD, "new"));
            }
            events
        };
        let verdict = verdict_classic_clark_jaquez;
        let v = verdict(events(true));
        assert!(v.ok, "Clark flooded NEW while Jaquez was down: {v}");
        let v = verdict(events(false));
        assert!(!v.ok, "Jaquez was up, so Clark's flood owed it NEW: {v}");
    }

    #[test]
    fn a_record_whose_classic_flood_was_lost_is_not_owed_past_it() {
        // As above, Jaquez up all along: Clark's one flood of NEW to it is what could bring it.
        let verdict = |lost: Option<TraceEvent>| {
            let mut events = everywhere(10, OLD, &[]);
            events.extend(everywhere(2_000, NEW, &["Campbell", "Jaquez"]));
            events.push(flood(2_001, "Clark", "Jaquez", NEW));
            events.extend(lost);
            events.push(refused_at("Campbell", 2_010, 1_699_999_998));
            verdict_classic_clark_jaquez(events)
        };
        let failed = TraceEvent::server(
            ms(2_002),
            "Clark",
            Event::PeerConnectFailed {
                peer: "Jaquez".into(),
                error: "connection refused".into(),
                retry_ms: 0,
                client: Some("kiwi".into()),
            },
        );
        let v = verdict(Some(failed));
        assert!(v.ok, "Clark logged the flood lost: {v}");
        // Clark crashed while sending it, and came back without it.
        let v = verdict(Some(crash(2_003, "Clark")));
        assert!(v.ok, "Clark went down while sending NEW: {v}");
        // Jaquez refused a connection at connections_max while Clark's was coming.
        let refused = TraceEvent::server(
            ms(2_004),
            "Jaquez",
            Event::ConnectionRefused {
                remote: "192.168.0.4:49152".into(),
                suppressed: 0,
            },
        );
        let v = verdict(Some(refused));
        assert!(
            v.ok,
            "Jaquez refused a connection while NEW was coming: {v}"
        );
        let v = verdict(None);
        assert!(!v.ok, "Clark's flood of NEW to Jaquez went through: {v}");
    }

    #[test]
    fn a_record_cut_off_by_a_stopped_server_and_a_lost_classic_flood_is_not_owed_there() {
        // No server refuses NEW. Jaquez's neighbours: Campbell, which stores NEW and goes down
        // before passing it on, and Clark over a classic link, whose one flood of NEW to Jaquez
        // is lost when `lost`.
        let verdict = |lost: bool, campbell_back: bool| {
            let mut events = everywhere(10, OLD, &[]);
            events.extend(everywhere(2_000, NEW, &["Jaquez"]));
            events.push(flood(2_001, "Clark", "Jaquez", NEW));
            if lost {
                let failed = Event::PeerConnectFailed {
                    peer: "Jaquez".into(),
                    error: "connection refused".into(),
                    retry_ms: 0,
                    client: Some("kiwi".into()),
                };
                events.push(TraceEvent::server(ms(2_002), "Clark", failed));
            }
            events.push(crash(2_005, "Campbell"));
            if campbell_back {
                events.push(restart(2_500, "Campbell"));
                events.push(stored(2_600, "Campbell", NEW, "new"));
            }
            verdict_classic_clark_jaquez(events)
        };
        let v = verdict(true, false);
        assert!(v.ok, "no path that is left brings NEW to Jaquez: {v}");
        // Clark's flood went through: Jaquez is owed NEW.
        let v = verdict(false, false);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("Jaquez did not converge"), "{v}");
        // Campbell came back with NEW, and its persistent link to Jaquez catches up.
        let v = verdict(true, true);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("Jaquez did not converge"), "{v}");
    }

    #[test]
    fn a_server_cut_off_by_classic_hops_alone_is_owed_the_record() {
        // Both of Jaquez's links are classic, and neither carried NEW: the classic herd's lost
        // update, owed all the same, whether or not Campbell goes down at the end.
        let verdict = |campbell_down: bool| {
            let mut events = everywhere(10, OLD, &[]);
            events.extend(everywhere(2_000, NEW, &["Jaquez"]));
            if campbell_down {
                events.push(crash(2_005, "Campbell"));
            }
            let trace = trace(events);
            let checks = Checks::default();
            let mut run = run_record(&trace, &checks);
            for link in [("Campbell", "Jaquez"), ("Clark", "Jaquez")] {
                let link = (link.0.to_string(), link.1.to_string());
                run.persistent_links.remove(&link);
                run.classic_links.insert(link);
            }
            run.quiet_since = ms(3_000);
            run.faulted = true;
            Convergence.check(&run)
        };
        for campbell_down in [false, true] {
            let v = verdict(campbell_down);
            assert!(!v.ok, "{v}");
            assert!(v.details[0].contains("Jaquez did not converge"), "{v}");
        }
    }

    #[test]
    fn a_classic_flood_in_flight_when_its_sender_went_down_is_not_owed_past_it() {
        // Clark floods NEW to Jaquez, then the next record while NEW's line is still on the
        // way, and crashes; it comes back with NEW from its disk. `read`: Jaquez read NEW's
        // line before the crash.
        const NEXT: &str = "AT Clark +0.000001000 lime +1+1 1700000001";
        let verdict = |read: bool| {
            let mut events = everywhere(10, OLD, &[]);
            events.extend(everywhere(2_000, NEW, &["Campbell", "Jaquez"]));
            events.push(flood(2_001, "Clark", "Jaquez", NEW));
            events.push(flood(2_002, "Clark", "Jaquez", NEXT));
            if read {
                let line = Event::ClientLine {
                    conn: 7,
                    line: NEW.into(),
                };
                events.push(TraceEvent::server(ms(2_002), "Jaquez", line));
            }
            events.push(crash(2_003, "Clark"));
            events.push(refused_at("Campbell", 2_010, 1_699_999_998));
            events.push(restart(2_500, "Clark"));
            events.push(stored(2_500, "Clark", NEW, "new"));
            verdict_classic_clark_jaquez(events)
        };
        let v = verdict(false);
        assert!(v.ok, "Clark went down before Jaquez read NEW: {v}");
        let v = verdict(true);
        assert!(!v.ok, "Jaquez read NEW, so the flood got through: {v}");
        assert!(v.details[0].contains("Jaquez did not converge"), "{v}");
    }

    #[test]
    fn a_classic_flood_sent_while_refusals_went_unlogged_is_not_owed_past_it() {
        // Jaquez logs a refusal at 1.5 s and no other for a second, counting the rest into
        // the next one it logs (`suppressed`); Clark floods NEW to it at 2.001 s.
        let refused = |at: u64, suppressed: u64| {
            TraceEvent::server(
                ms(at),
                "Jaquez",
                Event::ConnectionRefused {
                    remote: "192.168.0.4:49152".into(),
                    suppressed,
                },
            )
        };
        let verdict = |next: Option<TraceEvent>| {
            let mut events = everywhere(10, OLD, &[]);
            events.push(refused(1_500, 0));
            events.extend(everywhere(2_000, NEW, &["Campbell", "Jaquez"]));
            events.push(flood(2_001, "Clark", "Jaquez", NEW));
            events.push(refused_at("Campbell", 2_010, 1_699_999_998));
            events.extend(next);
            verdict_classic_clark_jaquez(events)
        };
        let v = verdict(Some(refused(4_500, 7)));
        assert!(
            v.ok,
            "seven refusals went unlogged while NEW was coming: {v}"
        );
        let v = verdict(None);
        assert!(
            v.ok,
            "refusals after 1.5 s may never have been counted: {v}"
        );
        // The next refusal logged says none went unlogged: the flood went through.
        let v = verdict(Some(refused(4_500, 0)));
        assert!(!v.ok, "{v}");
    }

    #[test]
    fn a_record_lost_with_every_server_that_stored_it_is_owed_to_no_one() {
        let store_failed = |at: u64, server: &str| {
            TraceEvent::server(
                ms(at),
                server,
                server::events::Event::StoreFailed {
                    error: "sync failed".into(),
                },
            )
        };
        let mut events = everywhere(10, OLD, &[]);
        events.push(stored(2_000, "Bona", NEW, "new"));
        events.push(store_failed(2_001, "Bona"));
        let v = verdict_with(events, 1_000, 10_000);
        assert!(v.ok, "only Bona stored NEW, and it stopped: {v}");
        // Clark stored it too and runs on: the others are owed it.
        let mut events = everywhere(10, OLD, &[]);
        events.push(stored(2_000, "Bona", NEW, "new"));
        events.push(stored(2_005, "Clark", NEW, "new"));
        events.push(store_failed(2_006, "Bona"));
        let v = verdict_with(events, 1_000, 10_000);
        assert!(!v.ok, "{v}");
        assert!(v.details[0].contains("did not converge"), "{v}");
    }

    #[test]
    fn a_record_refused_without_cause_is_still_owed() {
        let mut events = everywhere(10, OLD, &[]);
        events.extend(everywhere(2_000, NEW, &["Jaquez"]));
        // Only 1 s ahead of Jaquez's clock: it had to take NEW.
        events.push(refused_at_jaquez(2_010, 1_700_000_000));
        let v = verdict_ahead_max_2s(events.clone());
        assert!(!v.ok);
        assert!(v.details[0].contains("Jaquez did not converge"), "{v}");
        // One wrong refusal is not excused by a right one of the same record.
        events.push(refused_at_jaquez(2_020, 1_699_999_998));
        assert!(!verdict_ahead_max_2s(events).ok);
    }

    #[test]
    fn a_crashed_server_is_not_expected_to_converge() {
        let mut events = everywhere(10, OLD, &[]);
        events.push(crash(500, "Jaquez"));
        events.extend(everywhere(2_000, NEW, &["Jaquez"]));
        let v = verdict_with(events, 500, 10_000);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_restarted_server_must_learn_the_table_again() {
        let mut events = everywhere(10, NEW, &[]);
        events.push(crash(500, "Jaquez"));
        events.push(restart(1_000, "Jaquez"));
        let v = verdict_with(events.clone(), 1_000, 10_000);
        assert!(!v.ok, "Jaquez came back empty and never relearned: {v}");
        events.push(stored(1_200, "Jaquez", NEW, "new"));
        let v = verdict_with(events, 1_000, 10_000);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_record_lost_with_a_crash_before_the_quiet_period_is_not_required() {
        let mut events = everywhere(10, OLD, &[]);
        events.push(stored(100, "Clark", NEW, "new"));
        events.push(crash(200, "Clark"));
        events.push(restart(300, "Clark"));
        events.push(stored(400, "Clark", OLD, "new"));
        let v = verdict_with(events, 300, 10_000);
        assert!(v.ok, "{v}");
    }

    #[test]
    fn a_run_ending_before_the_deadline_is_not_judged() {
        let mut events = everywhere(10, OLD, &[]);
        events.push(stored(2_000, "Clark", NEW, "new"));
        let v = verdict_with(events, 1_000, 3_000);
        assert!(v.ok, "{v}");
        assert!(
            v.metric
                .as_deref()
                .is_some_and(|m| m.starts_with("not judged")),
            "{v}"
        );
    }

    #[test]
    fn final_tables_that_disagree_with_the_trace_are_caught() {
        let trace = trace(everywhere(10, NEW, &[]));
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        for server in HERD {
            run.final_tables
                .insert(server.to_string(), Some(vec![NEW.to_string()]));
        }
        assert!(Convergence.check(&run).ok);
        run.final_tables
            .insert("Bona".into(), Some(vec![OLD.to_string()]));
        let v = Convergence.check(&run);
        assert!(!v.ok);
        assert!(
            v.details[0].contains("Bona's final table disagrees with its trace"),
            "{v}"
        );
    }
}
