//! The client table: for each client, the winning [`Record`] under SPEC section 5's order.
//!
//! Insert-if-newer under a total order is commutative and idempotent, which is what makes the
//! herd converge: any server that has seen the same set of records, in any order and with any
//! repeats, holds the same table. The table has a bound so a flood of client ids cannot grow
//! memory without limit.

use std::collections::BTreeMap;

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
    /// Not stored: an unknown client while the table already holds `clients_max` clients.
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

/// Latest record per client id. A `BTreeMap` so iteration (reconciliation, snapshots) is
/// deterministic.
#[derive(Debug, Clone)]
pub struct Store {
    records: BTreeMap<String, Record>,
    clients_max: usize,
}

impl Store {
    /// An empty table that will hold at most `clients_max` clients.
    pub fn new(clients_max: usize) -> Store {
        Store {
            records: BTreeMap::new(),
            clients_max,
        }
    }

    /// Insert-if-newer under [`Record::is_newer_than`]. A known client is always updatable,
    /// even when the table is full; only new clients are refused.
    pub fn insert(&mut self, record: Record) -> Outcome {
        let full = self.records.len() >= self.clients_max;
        match self.records.get_mut(record.client.as_str()) {
            Some(held) if record.is_newer_than(held) => {
                *held = record;
                Outcome::New
            }
            Some(held) if *held == record => Outcome::Duplicate,
            Some(_) => Outcome::Stale,
            None if full => Outcome::TableFull,
            None => {
                self.records.insert(record.client.clone(), record);
                Outcome::New
            }
        }
    }

    pub fn get(&self, client: &str) -> Option<&Record> {
        self.records.get(client)
    }

    /// All held records, sorted by client id.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
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
