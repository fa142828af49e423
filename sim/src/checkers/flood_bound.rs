//! `flood_bound` (safety): what crosses a link is bounded by what changed (docs/protocol.md §7,
//! §8).
//!
//! Five rules, all judged per link from the trace alone, one module each:
//! - [`floods`]: each update crosses each undirected link at most twice, and never goes back
//!   to the neighbour it came from;
//! - [`classic`]: a classic neighbour that showed it holds an old record is sent the record
//!   once more, which is not a crossing;
//! - [`reconcile`]: when `A -> B` comes (back) up, `reconcile` carries at most the records B
//!   may lack, and a whole-table one only the digest buckets that differ;
//! - [`receipts`]: a record arrives over a link only if the neighbour logged sending it;
//! - [`refills`] (only where the scenario sets `checks.refills_max`): a restarted server is
//!   refilled about once, and one that restarted empty floods none of its refill as news.
//!
//! This file replays what several rules read (each server's table, where each record came
//! from, when each server lost its memory) and hands every event to each rule in turn.

mod classic;
mod floods;
mod receipts;
mod reconcile;
mod refills;

use std::collections::BTreeMap;
use std::time::Duration;

use server::events::{Event, Source};

use super::{Checker, RunRecord, Verdict};
use crate::checker_name::CheckerName;
use crate::trace::TraceEvent;
use crate::trace::replay::{self, UpdateKey, update_key};

pub use floods::CROSSINGS_PER_LINK_MAX;

pub struct FloodBound;

/// What the checker replays per server: its table (client -> update and where it came from).
#[derive(Default)]
struct ServerTable {
    /// client -> (update, the neighbour it came from if a neighbour, when it was stored).
    records: BTreeMap<String, (UpdateKey, Option<String>, Duration)>,
    /// Records replaced by newer ones, and when: a digest taken before counted them.
    replaced: Vec<(UpdateKey, Duration)>,
}

/// What every rule may read: each server's table, and when it last lost its memory (what it
/// sent before, it no longer has).
#[derive(Default)]
struct Tables {
    held: BTreeMap<String, ServerTable>,
    lost_at: BTreeMap<String, Duration>,
}

impl Tables {
    fn lose_memory(&mut self, server: &str, at: Duration) {
        self.held.remove(server);
        self.lost_at.insert(server.to_string(), at);
    }

    /// Stores a record `host` now holds (a `record_stored` with outcome `new`).
    fn observe(&mut self, seen: &Seen) {
        let Event::RecordStored { record, source, .. } = seen.event else {
            return;
        };
        if replay::stored_new(seen.trace_event).is_none() {
            return;
        }
        let source = match source {
            Source::Peer(peer) => Some(peer.clone()),
            _ => None,
        };
        let table = self.held.entry(seen.host.to_string()).or_default();
        if let Some((old, _, _)) = table
            .records
            .insert(record.client.clone(), (update_key(record), source, seen.at))
        {
            table.replaced.push((old, seen.at));
        }
    }
}

/// One server event, as each rule is handed it.
struct Seen<'a> {
    at: Duration,
    host: &'a str,
    event: &'a Event,
    trace_event: &'a TraceEvent,
}

impl Checker for FloodBound {
    fn name(&self) -> CheckerName {
        CheckerName::FloodBound
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut violations = Vec::new();
        let mut tables = Tables::default();
        let mut floods = floods::Floods::default();
        let mut classic = classic::ClassicResends::default();
        let mut reconciles = reconcile::Reconciles::new(&run.limits);
        let mut receipts = receipts::Receipts::default();
        let mut refills = refills::Refills::new(run.checks.refills_max);
        for event in &run.trace.events {
            receipts.count(event);
            if let Some(server) = replay::memory_lost(event) {
                refills.lose_memory(server, event.at, &mut violations);
                classic.lose_memory(server);
                floods.lose_memory(server);
                reconciles.lose_memory(server);
                tables.lose_memory(server, event.at);
                continue;
            }
            let Some(server_event) = event.server_event() else {
                continue;
            };
            let seen = Seen {
                at: event.at,
                host: &event.host,
                event: server_event,
                trace_event: event,
            };
            classic.observe(run, &seen);
            refills.observe(run, &seen, &mut violations);
            reconciles.observe(&seen, &tables, &mut violations);
            floods.observe(&seen, &tables, &mut classic, &mut violations);
            tables.observe(&seen);
        }
        refills.finish(run.end, &mut violations);
        receipts.judge(run, &tables.lost_at, &mut violations);
        let metric = format!(
            "{} flood messages; {} records reconciled over {} reconnects",
            floods.sent, reconciles.records, reconciles.count
        );
        Verdict::judge(CheckerName::FloodBound, violations, Some(metric))
    }
}

#[cfg(test)]
mod tests;
