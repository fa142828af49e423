//! The client table: for each client, the winning [`Record`] under SPEC section 5's order.
//!
//! Insert-if-newer under a total order is commutative and idempotent, which is what makes the
//! herd converge: any server that has seen the same set of records, in any order and with any
//! repeats, holds the same table. The table is bounded in clients and in bytes, so a flood of
//! client ids cannot grow memory without limit. It also keeps the change sequence that links
//! stream from (see [`Store::changes_after`]): a link's cost follows what changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::protocol::Record;

/// What [`Store::insert`] did with a record; callers flood only [`Outcome::New`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored: the first record for its client, or newer than the one held.
    New,
    /// Not stored: older than the record held.
    Stale,
    /// Not stored: the very same record is already held (a flood echo).
    Duplicate,
    /// Not stored: an unknown client while the table already holds `clients_max` clients or
    /// `table_bytes_max` bytes.
    TableFull,
}

impl Outcome {
    /// The name used in logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::New => "new",
            Outcome::Stale => "stale",
            Outcome::Duplicate => "duplicate",
            Outcome::TableFull => "table_full",
        }
    }
}

/// What every held record costs beyond its text, for [`Store`]'s byte bound: map nodes, the
/// change index, string headers. An estimate that errs high, so the bound is kept.
pub const ENTRY_OVERHEAD_BYTES: usize = 192;

/// The bytes a record is counted as in the table's byte bound.
pub fn record_bytes(record: &Record) -> usize {
    record.origin.len()
        + record.time_diff.as_str().len()
        + 2 * record.client.len()
        + record.location.as_str().len()
        + record.timestamp.as_str().len()
        + ENTRY_OVERHEAD_BYTES
}

/// One held record, with where it stands in the change sequence and which neighbour it came
/// from (a link never sends a record back to that neighbour).
#[derive(Debug, Clone)]
struct Entry {
    record: Record,
    seq: u64,
    from: Option<Arc<str>>,
}

/// A link's next slice of the change sequence: the records to send with their sequence
/// numbers, and the sequence number the link has reached once they are sent (records it
/// skipped included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub records: Vec<(u64, Record)>,
    pub reached: u64,
}

/// Latest record per client id, and the change sequence: every stored record gets the next
/// local sequence number, and a record that is replaced leaves the sequence, so "everything
/// after cursor c" is exactly what changed since c, each client once. A `BTreeMap` so iteration
/// (reconciliation, snapshots) is deterministic.
#[derive(Debug, Clone)]
pub struct Store {
    records: BTreeMap<String, Entry>,
    /// seq -> client, for the records currently held.
    changes: BTreeMap<u64, String>,
    head: u64,
    bytes: usize,
    clients_max: usize,
    bytes_max: usize,
}

impl Store {
    /// An empty table that will hold at most `clients_max` clients (and no byte bound).
    pub fn new(clients_max: usize) -> Store {
        Store::with_bounds(clients_max, usize::MAX)
    }

    /// An empty table bounded in clients and in [`record_bytes`].
    pub fn with_bounds(clients_max: usize, bytes_max: usize) -> Store {
        Store {
            records: BTreeMap::new(),
            changes: BTreeMap::new(),
            head: 0,
            bytes: 0,
            clients_max,
            bytes_max,
        }
    }

    /// [`Store::insert_from`] a client or an unknown sender.
    pub fn insert(&mut self, record: Record) -> Outcome {
        self.insert_from(record, None)
    }

    /// Insert-if-newer under [`Record::is_newer_than`]; `from` names the link it came on (a
    /// neighbour in one of its lives), which a link to that neighbour then skips.
    /// A known client is always updatable, even when the table is full; only new clients are
    /// refused.
    pub fn insert_from(&mut self, record: Record, from: Option<&Arc<str>>) -> Outcome {
        let size = record_bytes(&record);
        let full = self.records.len() >= self.clients_max
            || self.bytes.saturating_add(size) > self.bytes_max;
        let seq = self.head + 1;
        match self.records.get_mut(record.client.as_str()) {
            Some(held) if record.is_newer_than(&held.record) => {
                self.changes.remove(&held.seq);
                self.bytes = self.bytes - record_bytes(&held.record) + size;
                self.changes.insert(seq, record.client.clone());
                *held = Entry {
                    record,
                    seq,
                    from: from.cloned(),
                };
            }
            Some(held) if held.record == record => return Outcome::Duplicate,
            Some(_) => return Outcome::Stale,
            None if full => return Outcome::TableFull,
            None => {
                self.bytes += size;
                self.changes.insert(seq, record.client.clone());
                self.records.insert(
                    record.client.clone(),
                    Entry {
                        record,
                        seq,
                        from: from.cloned(),
                    },
                );
            }
        }
        self.head = seq;
        Outcome::New
    }

    pub fn get(&self, client: &str) -> Option<&Record> {
        self.records.get(client).map(|e| &e.record)
    }

    /// All held records, sorted by client id.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values().map(|e| &e.record)
    }

    /// The sequence number of the last change (0: nothing stored yet).
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Up to `max` records changed after `cursor`, in change order, leaving out those that
    /// came from `skip` (the neighbour the link leads to: it has them).
    pub fn changes_after(&self, cursor: u64, max: usize, skip: Option<&str>) -> Batch {
        let mut batch = Batch {
            records: Vec::new(),
            reached: cursor,
        };
        let mut exhausted = true;
        for (&seq, client) in self.changes.range(cursor + 1..) {
            if batch.records.len() >= max {
                exhausted = false;
                break;
            }
            batch.reached = seq;
            let Some(entry) = self.records.get(client) else {
                continue;
            };
            if skip.is_some() && entry.from.as_deref() == skip {
                continue;
            }
            batch.records.push((seq, entry.record.clone()));
        }
        if exhausted {
            batch.reached = batch.reached.max(self.head);
        }
        batch
    }

    /// How many records changed after `cursor`, leaving out those that came from `skip`.
    pub fn count_after(&self, cursor: u64, skip: Option<&str>) -> usize {
        self.changes
            .range(cursor + 1..)
            .filter(|(_, client)| {
                skip.is_none()
                    || self
                        .records
                        .get(*client)
                        .is_some_and(|e| e.from.as_deref() != skip)
            })
            .count()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn clients_max(&self) -> usize {
        self.clients_max
    }

    /// The table's size in [`record_bytes`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Command, ParseError};
    use proptest::prelude::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A record from its AT line's fields after `AT`.
    fn record(fields: &str) -> Result<Record, ParseError> {
        match Command::parse_line(format!("AT {fields}").as_bytes())? {
            Command::At(record) => Ok(record),
            _ => Err(ParseError::UnknownCommand),
        }
    }

    /// Inserts `a` then `b` and `b` then `a` into fresh stores; both must hold `winner`.
    fn assert_winner(a: &Record, b: &Record, winner: &Record) {
        for (first, second) in [(a, b), (b, a)] {
            let mut store = Store::new(10);
            store.insert(first.clone());
            store.insert(second.clone());
            assert_eq!(
                store.get(&winner.client),
                Some(winner),
                "inserting {first} then {second}"
            );
        }
        assert!(winner.is_newer_than(if winner == a { b } else { a }));
    }

    #[test]
    fn the_first_record_for_a_client_is_new_and_stored() -> TestResult {
        let mut store = Store::new(10);
        assert!(store.is_empty());
        let kiwi = record("Clark +0.1 kiwi +1+2 100")?;
        assert_eq!(store.insert(kiwi.clone()), Outcome::New);
        assert_eq!((store.len(), store.get("kiwi")), (1, Some(&kiwi)));
        assert_eq!(store.get("nobody"), None);
        Ok(())
    }

    #[test]
    fn a_later_timestamp_replaces_and_an_earlier_one_is_stale() -> TestResult {
        let mut store = Store::new(10);
        let old = record("Clark +0.1 kiwi +1+2 100")?;
        let new = record("Bailey +0.1 kiwi +3+4 100.000000001")?;
        assert_eq!(store.insert(old.clone()), Outcome::New);
        assert_eq!(store.insert(new.clone()), Outcome::New);
        assert_eq!(store.insert(old), Outcome::Stale);
        assert_eq!((store.len(), store.get("kiwi")), (1, Some(&new)));
        Ok(())
    }

    #[test]
    fn the_same_record_again_is_a_duplicate() -> TestResult {
        let mut store = Store::new(10);
        let kiwi = record("Clark +0.1 kiwi +1+2 100")?;
        assert_eq!(store.insert(kiwi.clone()), Outcome::New);
        assert_eq!(store.insert(kiwi.clone()), Outcome::Duplicate);
        assert_eq!(store.get("kiwi"), Some(&kiwi));
        Ok(())
    }

    #[test]
    fn timestamps_compare_numerically_not_as_text() -> TestResult {
        let nine = record("Clark +0.1 kiwi +1+2 9")?;
        let ten = record("Clark +0.1 kiwi +1+2 10")?;
        assert_winner(&nine, &ten, &ten);
        Ok(())
    }

    #[test]
    fn equal_timestamps_are_broken_by_origin_server_name() -> TestResult {
        let bailey = record("Bailey +0.1 kiwi +9+9 100")?;
        let clark = record("Clark +0.1 kiwi +1+2 100")?;
        assert_winner(&bailey, &clark, &clark);
        Ok(())
    }

    #[test]
    fn same_timestamp_and_origin_are_broken_by_location_text() -> TestResult {
        let plus = record("Clark +0.9 kiwi +1+2 100")?;
        let minus = record("Clark +0.1 kiwi -1+2 100")?;
        // '-' (0x2D) sorts after '+' (0x2B): the text decides, not the coordinate's value.
        assert_winner(&plus, &minus, &minus);
        Ok(())
    }

    #[test]
    fn then_the_time_difference_compares_numerically() -> TestResult {
        let ten = record("Clark +10.0 kiwi +1+2 100")?;
        let nine = record("Clark +9.0 kiwi +1+2 100")?;
        assert_winner(&ten, &nine, &ten);
        let negative = record("Clark -1.0 kiwi +1+2 100")?;
        let positive = record("Clark +0.5 kiwi +1+2 100")?;
        assert_winner(&negative, &positive, &positive);
        Ok(())
    }

    #[test]
    fn equal_time_differences_in_different_text_still_pick_one_winner() -> TestResult {
        let short = record("Clark +0.5 kiwi +1+2 100")?;
        let long = record("Clark +0.500000000 kiwi +1+2 100")?;
        assert_winner(&short, &long, &long);
        Ok(())
    }

    #[test]
    fn equal_timestamps_in_different_text_still_pick_one_winner() -> TestResult {
        let short = record("Clark +0.5 kiwi +1+2 1.5")?;
        let long = record("Clark +0.5 kiwi +1+2 1.50")?;
        assert_winner(&short, &long, &long);
        Ok(())
    }

    #[test]
    fn an_unknown_client_is_refused_when_the_table_is_full() -> TestResult {
        let mut store = Store::new(2);
        assert_eq!(store.insert(record("Clark +0 a +1+2 1")?), Outcome::New);
        assert_eq!(store.insert(record("Clark +0 b +1+2 1")?), Outcome::New);
        assert_eq!(
            store.insert(record("Clark +0 c +1+2 1")?),
            Outcome::TableFull
        );
        assert_eq!((store.len(), store.get("c")), (2, None));
        Ok(())
    }

    #[test]
    fn a_known_client_is_still_updated_when_the_table_is_full() -> TestResult {
        let mut store = Store::new(1);
        assert_eq!(store.insert(record("Clark +0 a +1+2 1")?), Outcome::New);
        let newer = record("Clark +0 a +1+2 2")?;
        assert_eq!(store.insert(newer.clone()), Outcome::New);
        assert_eq!(store.insert(record("Clark +0 a +1+2 0")?), Outcome::Stale);
        assert_eq!(store.insert(newer.clone()), Outcome::Duplicate);
        assert_eq!(store.get("a"), Some(&newer));
        Ok(())
    }

    #[test]
    fn a_table_of_zero_clients_refuses_everything() -> TestResult {
        let mut store = Store::new(0);
        assert_eq!(
            store.insert(record("Clark +0 a +1+2 1")?),
            Outcome::TableFull
        );
        assert!(store.is_empty());
        assert_eq!(store.clients_max(), 0);
        Ok(())
    }

    #[test]
    fn records_iterate_sorted_by_client_id_whatever_the_insertion_order() -> TestResult {
        let mut store = Store::new(10);
        for client in ["kiwi", "apple", "Zebra", "mango", "émile"] {
            store.insert(record(&format!("Clark +0 {client} +1+2 1"))?);
        }
        let clients: Vec<&str> = store.records().map(|r| r.client.as_str()).collect();
        assert_eq!(clients, ["Zebra", "apple", "kiwi", "mango", "émile"]);
        Ok(())
    }

    #[test]
    fn the_change_sequence_holds_each_client_once_at_its_last_change() -> TestResult {
        let mut store = Store::new(10);
        store.insert(record("Clark +0.1 kiwi +1+1 1")?);
        store.insert(record("Clark +0.1 lime +1+1 1")?);
        store.insert(record("Clark +0.1 kiwi +2+2 2")?);
        assert_eq!(store.head(), 3);
        let batch = store.changes_after(0, 10, None);
        let clients: Vec<&str> = batch
            .records
            .iter()
            .map(|(_, r)| r.client.as_str())
            .collect();
        assert_eq!(clients, ["lime", "kiwi"]);
        assert_eq!(batch.reached, 3);
        assert_eq!(store.changes_after(2, 10, None).records.len(), 1);
        assert_eq!(store.changes_after(3, 10, None).records.len(), 0);
        assert_eq!(store.changes_after(3, 10, None).reached, 3);
        assert_eq!(store.count_after(0, None), 2);
        Ok(())
    }

    #[test]
    fn a_batch_is_bounded_and_skips_what_came_from_its_neighbour() -> TestResult {
        let mut store = Store::new(10);
        let bona: Arc<str> = Arc::from("Bona");
        store.insert_from(record("Bona +0.1 kiwi +1+1 1")?, Some(&bona));
        store.insert(record("Clark +0.1 lime +1+1 1")?);
        store.insert(record("Clark +0.1 mango +1+1 1")?);
        let first = store.changes_after(0, 1, Some("Bona"));
        assert_eq!(first.records.len(), 1);
        assert_eq!(first.records[0].1.client, "lime");
        assert_eq!(first.reached, 2, "the skipped record is passed over");
        let rest = store.changes_after(first.reached, 10, Some("Bona"));
        assert_eq!(rest.records[0].1.client, "mango");
        assert_eq!(store.count_after(0, Some("Bona")), 2);
        assert_eq!(store.changes_after(0, 10, None).records.len(), 3);
        Ok(())
    }

    #[test]
    fn the_table_is_bounded_in_bytes_as_well() -> TestResult {
        let small = record("Clark +0.1 kiwi +1+1 1")?;
        let mut store = Store::with_bounds(100, record_bytes(&small) * 2);
        assert_eq!(store.insert(small), Outcome::New);
        let big = record(&format!("Clark +0.1 {} +1+1 1", "x".repeat(100)))?;
        assert_eq!(store.insert(big), Outcome::TableFull);
        assert_eq!(
            store.insert(record("Clark +0.1 kiwi +2+2 2")?),
            Outcome::New
        );
        assert_eq!(store.len(), 1);
        assert!(store.bytes() <= record_bytes(&record("Clark +0.1 kiwi +2+2 2")?));
        Ok(())
    }

    #[test]
    fn outcomes_have_stable_names_for_logs() {
        let names = [
            Outcome::New,
            Outcome::Stale,
            Outcome::Duplicate,
            Outcome::TableFull,
        ]
        .map(|o| o.as_str());
        assert_eq!(names, ["new", "stale", "duplicate", "table_full"]);
    }

    /// Records for three clients from a small alphabet, so ties at every level of the order
    /// are common.
    fn small_record() -> impl Strategy<Value = Record> {
        (
            prop_oneof![Just("Bailey"), Just("Bona"), Just("Clark")],
            prop_oneof![Just("+0.5"), Just("+0.500000000"), Just("-1"), Just("+10")],
            prop_oneof![Just("a"), Just("b"), Just("c")],
            prop_oneof![Just("+1+2"), Just("-1+2"), Just("+1.0+2")],
            prop_oneof![Just("1"), Just("1.0"), Just("2"), Just("10")],
        )
            .prop_filter_map("valid record", |(o, d, c, l, t)| {
                record(&format!("{o} {d} {c} {l} {t}")).ok()
            })
    }

    proptest! {
        #[test]
        fn any_insertion_order_converges_to_the_same_table(
            (records, shuffled) in proptest::collection::vec(small_record(), 0..40)
                .prop_flat_map(|records| (Just(records.clone()), Just(records).prop_shuffle())),
        ) {
            let mut forward = Store::new(10);
            let mut backward = Store::new(10);
            let mut mixed = Store::new(10);
            for record in &records {
                forward.insert(record.clone());
            }
            for record in records.iter().rev() {
                backward.insert(record.clone());
            }
            for record in shuffled {
                mixed.insert(record.clone());
                // Re-delivery of anything already seen never changes the table.
                let again = mixed.insert(record);
                prop_assert!(matches!(again, Outcome::Duplicate | Outcome::Stale));
            }
            let table = |store: &Store| store.records().cloned().collect::<Vec<_>>();
            prop_assert_eq!(table(&forward), table(&backward));
            prop_assert_eq!(table(&forward), table(&mixed));
            for held in forward.records() {
                let best = records
                    .iter()
                    .filter(|r| r.client == held.client)
                    .max_by(|x, y| x.order_key().cmp(&y.order_key()));
                prop_assert_eq!(Some(held), best);
            }
            let clients: std::collections::BTreeSet<&str> =
                records.iter().map(|r| r.client.as_str()).collect();
            prop_assert_eq!(forward.len(), clients.len());
        }

        #[test]
        fn the_order_is_total_and_agrees_with_equality(a in small_record(), b in small_record()) {
            prop_assert_eq!(a == b, a.order_key() == b.order_key());
            prop_assert!(!(a.is_newer_than(&b) && b.is_newer_than(&a)));
        }
    }
}
