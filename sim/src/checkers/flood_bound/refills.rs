//! The refills rule (only where the scenario sets `checks.refills_max`): in each life of a
//! server begun by a crash or restart, the records that whole-table reconciles carry into it,
//! summed over its neighbours, are at most `refills_max` times the records it stores in that
//! life, beyond the records it refuses for a bound (a full table, a record too far ahead of
//! its clock): a refused record is still lacking, so each neighbour's whole-table comparison
//! may carry it again. The digest rule allows each neighbour what the server lacked when it
//! took that neighbour's link, so three neighbours linking at once may each send the whole
//! table; this rule holds the herd to one refill, which the accepter's fill wait provides when
//! nothing slows the first refill beyond `fill_wait`. In the same scenarios, a server that
//! restarted with an empty table floods as news no update first stored (anywhere in the herd)
//! before it restarted: its refill is old news to its neighbours, and it waits for the refill
//! before it compares tables with them.
//! (A classic link, which resumes nothing, passes on every change, the refill's too.) An
//! update that a neighbour refused for a bound and has not stored since is not old news: that
//! neighbour lacks it, and when it is the first to link, its refill lacks it too, so another
//! neighbour brings it later as a change, which the restarted server passes on. A server that
//! recovered records from its disk did not restart empty and waits for no refill (protocol
//! §8.3: only an empty dialler waits): what its neighbours' catch-ups bring is what changed
//! while it was down, news to it, which it passes on like any change (the floods rule bounds
//! it), and a neighbour behind it may have no other way to hear of it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use server::events::{Event, LineRefusal, Source};
use server::store::Outcome;

use super::Seen;
use crate::checkers::{RunRecord, Violation};
use crate::trace::replay::{self, UpdateKey, update_key};

/// One life of a server, for the refill rule: from when it lost its memory (or the start),
/// the records whole-table reconciles carried into it, the clients it stored, and the records
/// from neighbours it refused for a bound.
#[derive(Default)]
struct Life {
    since: Duration,
    /// It began with a crash or restart (not at the start of the run).
    restarted: bool,
    /// It recovered records from its disk at its start: it did not begin empty, waits for no
    /// refill, and what its neighbours' catch-ups bring is news to it.
    recovered: bool,
    refilled: u64,
    refused: u64,
    clients: BTreeSet<String>,
}

impl Life {
    /// The refill rule's violation for this life of `server`, if it broke it.
    fn judge(&self, server: &str, refills_max: u64, ended: Duration) -> Option<Violation> {
        let table = self.clients.len() as u64;
        // A first life holds no refill: every table starts empty, and a record reported
        // before the links are up is in the first catch-up of each neighbour that holds it.
        (self.restarted && self.refilled.saturating_sub(self.refused) > refills_max * table).then(|| {
            Violation::new(
                ended,
                format!(
                    "{server} was refilled with {} records by whole-table reconciles in its life from {}, more than {refills_max} x the {table} records it holds, beyond the {} it refused for a bound: each neighbour sent it the table, where one refill was due",
                    self.refilled,
                    crate::trace::fmt_at(self.since),
                    self.refused
                ),
            )
        })
    }
}

/// What the refills rule follows: each server's current life, and when each update was
/// first stored anywhere in the herd.
pub(super) struct Refills {
    refills_max: Option<u64>,
    lives: BTreeMap<String, Life>,
    first_stored: BTreeMap<UpdateKey, Duration>,
    /// Per update, the servers that refused it for a bound and have not stored it since.
    lacking: BTreeMap<UpdateKey, BTreeSet<String>>,
}

impl Refills {
    pub(super) fn new(refills_max: Option<u64>) -> Refills {
        Refills {
            refills_max,
            lives: BTreeMap::new(),
            first_stored: BTreeMap::new(),
            lacking: BTreeMap::new(),
        }
    }

    /// `server` lost its memory at `at`: its life ends (and is judged) and a new one begins.
    pub(super) fn lose_memory(
        &mut self,
        server: &str,
        at: Duration,
        violations: &mut Vec<Violation>,
    ) {
        let life = Life {
            since: at,
            restarted: true,
            ..Life::default()
        };
        if let (Some(ended), Some(max)) = (
            self.lives.insert(server.to_string(), life),
            self.refills_max,
        ) {
            violations.extend(ended.judge(server, max, at));
        }
    }

    pub(super) fn observe(
        &mut self,
        run: &RunRecord,
        seen: &Seen,
        violations: &mut Vec<Violation>,
    ) {
        let host = seen.host;
        self.follow_lacking(seen);
        if let Some(record) = replay::stored_new(seen.trace_event) {
            self.first_stored
                .entry(update_key(record))
                .or_insert(seen.at);
            let life = self.lives.entry(host.to_string()).or_default();
            life.clients.insert(record.client.clone());
            if let Event::RecordStored {
                source: Source::Disk,
                ..
            } = seen.event
            {
                life.recovered = true;
            }
            return;
        }
        match seen.event {
            Event::RecordStored {
                outcome: Outcome::TableFull,
                source: Source::Peer(_),
                ..
            }
            | Event::LineRefused {
                peer: Some(_),
                reason: LineRefusal::TooFarAhead,
                ..
            } => {
                self.lives.entry(host.to_string()).or_default().refused += 1;
            }
            Event::Reconcile {
                peer,
                records,
                full: true,
            } => {
                self.lives.entry(peer.clone()).or_default().refilled += records;
            }
            // A classic link follows the table's changes and resumes nothing: it passes a
            // refill on as it passes on every change.
            Event::FloodSent { peer, .. } if run.classic_neighbours(host).any(|n| n == peer) => {}
            Event::FloodSent { peer, record } => {
                let key = update_key(record);
                if self.refills_max.is_some()
                    && let Some(life) = self
                        .lives
                        .get(host)
                        .filter(|life| life.restarted && !life.recovered)
                    && let Some(first) = self
                        .first_stored
                        .get(&key)
                        .filter(|first| **first < life.since)
                    && !self.a_neighbour_lacks(run, host, &key)
                {
                    violations.push(Violation::new(
                        seen.at,
                        format!(
                            "{host} restarted at {} and flooded {} {} {} to {peer} as news; it was first stored at {}, before the restart, so its refill had brought it",
                            crate::trace::fmt_at(life.since),
                            key.0,
                            key.1,
                            key.2,
                            crate::trace::fmt_at(*first)
                        ),
                    ));
                }
            }
            _ => {}
        }
    }

    /// Follows which servers lack an update because they refused it for a bound (a full
    /// table, a line too far ahead of their clock): until they store it.
    fn follow_lacking(&mut self, seen: &Seen) {
        match seen.event {
            Event::RecordStored {
                record,
                outcome: Outcome::TableFull,
                ..
            } => {
                self.lacking
                    .entry(update_key(record))
                    .or_default()
                    .insert(seen.host.to_string());
            }
            Event::RecordStored { record, .. } => {
                if let Some(servers) = self.lacking.get_mut(&update_key(record)) {
                    servers.remove(seen.host);
                }
            }
            Event::LineRefused {
                reason: LineRefusal::TooFarAhead,
                line,
                ..
            } => {
                if let Some(record) = replay::at_line(line) {
                    self.lacking
                        .entry(update_key(&record))
                        .or_default()
                        .insert(seen.host.to_string());
                }
            }
            _ => {}
        }
    }

    /// Whether a neighbour of `host` lacks `key`, refused for a bound: then `host`'s refill
    /// may have come without it, and it is news to that neighbour.
    fn a_neighbour_lacks(&self, run: &RunRecord, host: &str, key: &UpdateKey) -> bool {
        self.lacking
            .get(key)
            .is_some_and(|servers| servers.iter().any(|server| run.linked(host, server)))
    }

    /// Judges every server's last life, at the end of the run.
    pub(super) fn finish(&self, end: Duration, violations: &mut Vec<Violation>) {
        if let Some(max) = self.refills_max {
            for (server, life) in &self.lives {
                violations.extend(life.judge(server, max, end));
            }
        }
    }
}
