//! Records a server had to refuse because its table was full, so `convergence` (and
//! `durable`) do not owe them to it: a record for a client the server does not hold, offered
//! while the table already holds `clients_max` clients or the record would take it past
//! `table_bytes_max` (docs/protocol.md §12), is refused there (`outcome=table_full`), and no
//! correct herd must make room for it.
//!
//! The trace says which records a server refused for a full table; the replay of that
//! server's table (its clients and their record bytes, emptied when it loses its memory)
//! decides whether it had to. A refusal the replay does not confirm excuses nothing, so a
//! server that refuses a client wrongly still fails `convergence`. A server that loses its
//! memory starts with an empty table: what it refused before is owed again, unless its durable
//! store brings back the same life (`store_recovered` with `same_life`): its neighbours then
//! resume where they were and send a refused record no more, and its table is what it synced.

use std::collections::{BTreeMap, BTreeSet};

use server::events::Event;
use server::store::{Outcome, record_bytes};

use super::RunRecord;
use crate::trace::replay;

/// Per server, the records (as AT lines) it refused for a full table, each confirmed by the
/// replayed table and none refused there wrongly since its memory was last lost.
pub fn must_refuse_for_size(run: &RunRecord) -> BTreeMap<String, BTreeSet<String>> {
    let limits = &run.limits;
    // Per server, the record bytes of each client it holds.
    let mut tables: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut confirmed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrongly: BTreeSet<(String, String)> = BTreeSet::new();
    // Per server, what it had to refuse before it last lost its memory: excused again if its
    // durable store recovers the same life.
    let mut before_loss: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for event in &run.trace.events {
        if let Some(server) = replay::memory_lost(event) {
            tables.remove(server);
            let mut lines = confirmed.remove(server).unwrap_or_default();
            lines.retain(|line| !wrongly.contains(&(server.to_string(), line.clone())));
            before_loss
                .entry(server.to_string())
                .or_default()
                .extend(lines);
            wrongly.retain(|(s, _)| s != server);
            continue;
        }
        if let Some(Event::StoreRecovered { same_life, .. }) = event.server_event() {
            let lines = before_loss.remove(&event.host).unwrap_or_default();
            if *same_life {
                confirmed
                    .entry(event.host.clone())
                    .or_default()
                    .extend(lines);
            }
            continue;
        }
        let Some(Event::RecordStored {
            record, outcome, ..
        }) = event.server_event()
        else {
            continue;
        };
        let table = tables.entry(event.host.as_str()).or_default();
        match outcome {
            Outcome::New => {
                table.insert(record.client.as_str(), record_bytes(record));
            }
            Outcome::TableFull => {
                let bytes: usize = table.values().sum();
                let full = !table.contains_key(record.client.as_str())
                    && (table.len() >= limits.clients_max
                        || bytes.saturating_add(record_bytes(record)) > limits.table_bytes_max);
                let key = (event.host.clone(), record.to_string());
                if full {
                    confirmed.entry(key.0).or_default().insert(key.1);
                } else {
                    wrongly.insert(key);
                }
            }
            Outcome::Stale | Outcome::Duplicate => {}
        }
    }
    for (server, line) in &wrongly {
        if let Some(lines) = confirmed.get_mut(server) {
            lines.remove(line);
        }
    }
    confirmed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::{crash, restart, run_record, stored, trace};
    use crate::scenario::Checks;

    const KIWI: &str = "AT Bailey +0.040000000 kiwi +1+1 1700000001.000000000";
    const LIME: &str = "AT Jaquez +0.040000000 lime +2+2 1700000001.000000000";

    /// What Clark must refuse for size, with a table of `table_bytes_max` bytes.
    fn refused(events: Vec<crate::trace::TraceEvent>, table_bytes_max: usize) -> Vec<String> {
        let trace = trace(events);
        let checks = Checks::default();
        let mut run = run_record(&trace, &checks);
        run.limits.table_bytes_max = table_bytes_max;
        let refused = must_refuse_for_size(&run);
        refused
            .get("Clark")
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    #[test]
    fn a_new_client_over_the_byte_bound_must_be_refused() {
        let one = record_bytes(&crate::checkers::testing::record(KIWI));
        let events = || {
            vec![
                stored(10, "Clark", KIWI, "new"),
                stored(20, "Clark", LIME, "table_full"),
            ]
        };
        assert_eq!(refused(events(), one + 10), [LIME]);
        // Room for both: the refusal is wrong, and excuses nothing.
        assert!(refused(events(), 3 * one).is_empty());
    }

    #[test]
    fn a_table_emptied_by_a_restart_owes_what_it_refused_before() {
        let one = record_bytes(&crate::checkers::testing::record(KIWI));
        let events = vec![
            stored(10, "Clark", KIWI, "new"),
            stored(20, "Clark", LIME, "table_full"),
            crash(30, "Clark"),
            restart(40, "Clark"),
        ];
        assert!(refused(events, one + 10).is_empty());
        // Refused again into the empty table: that refusal is wrong (it would fit).
        let events = vec![
            stored(10, "Clark", KIWI, "new"),
            crash(30, "Clark"),
            restart(40, "Clark"),
            stored(50, "Clark", LIME, "table_full"),
        ];
        assert!(refused(events, one + 10).is_empty());
    }

    /// `store_recovered` on `server`: the same life, or a new one.
    fn recovered(at: u64, server: &str, same_life: bool) -> crate::trace::TraceEvent {
        crate::trace::TraceEvent::server(
            std::time::Duration::from_millis(at),
            server,
            Event::StoreRecovered {
                generation: 1,
                records: 1,
                head: 1,
                resume_points: 1,
                same_life,
            },
        )
    }

    #[test]
    fn a_refusal_stands_when_the_durable_store_recovers_the_same_life() {
        let one = record_bytes(&crate::checkers::testing::record(KIWI));
        let events = |same_life| {
            vec![
                stored(10, "Clark", KIWI, "new"),
                stored(20, "Clark", LIME, "table_full"),
                crash(30, "Clark"),
                restart(40, "Clark"),
                recovered(40, "Clark", same_life),
            ]
        };
        assert_eq!(refused(events(true), one + 10), [LIME]);
        // A new life: the neighbours refill it from nothing, so the record is owed again.
        assert!(refused(events(false), one + 10).is_empty());
    }

    #[test]
    fn a_record_that_fits_no_empty_table_must_be_refused_and_an_update_never_is() {
        let events = vec![stored(10, "Clark", LIME, "table_full")];
        assert_eq!(refused(events, 100), [LIME]);
        let newer = LIME.replace("+2+2", "+3+3").replace("1.000", "2.000");
        let events = vec![
            stored(10, "Clark", LIME, "new"),
            stored(20, "Clark", &newer, "table_full"),
        ];
        assert!(refused(events, 100).is_empty(), "lime is held: an update");
    }
}
