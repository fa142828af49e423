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
//! memory starts with an empty table: what it refused before is owed again.

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
    for event in &run.trace.events {
        if let Some(server) = replay::memory_lost(event) {
            tables.remove(server);
            confirmed.remove(server);
            wrongly.retain(|(s, _)| s != server);
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
