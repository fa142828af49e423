//! The table's order, bounds, change sequence and digest, and its assertions tripping.

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
            Some(winner.clone()),
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
    assert_eq!((store.len(), store.get("kiwi")), (1, Some(kiwi.clone())));
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
    assert_eq!((store.len(), store.get("kiwi")), (1, Some(new.clone())));
    Ok(())
}

#[test]
fn the_same_record_again_is_a_duplicate() -> TestResult {
    let mut store = Store::new(10);
    let kiwi = record("Clark +0.1 kiwi +1+2 100")?;
    assert_eq!(store.insert(kiwi.clone()), Outcome::New);
    assert_eq!(store.insert(kiwi.clone()), Outcome::Duplicate);
    assert_eq!(store.get("kiwi"), Some(kiwi.clone()));
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
    assert_eq!(store.get("a"), Some(newer.clone()));
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
    let records = store.records();
    let clients: Vec<&str> = records.iter().map(|r| r.client.as_str()).collect();
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
    let batch = store.changes_after(0, 10, |_| false);
    let clients: Vec<&str> = batch
        .fields()
        .filter_map(|(_, f)| f.split(' ').nth(2))
        .collect();
    assert_eq!(clients, ["lime", "kiwi"]);
    assert_eq!(
        batch.lines,
        "AT Clark +0.1 lime +1+1 1\nAT Clark +0.1 kiwi +2+2 2\n"
    );
    let seqs: Vec<u64> = batch.fields().map(|(seq, _)| seq).collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(batch.reached, 3);
    assert_eq!(store.changes_after(2, 10, |_| false).records.len(), 1);
    assert_eq!(store.changes_after(3, 10, |_| false).records.len(), 0);
    assert_eq!(store.changes_after(3, 10, |_| false).reached, 3);
    assert_eq!(store.count_after(0, |_| false), 2);
    Ok(())
}

#[test]
fn a_batch_is_bounded_and_skips_what_came_from_its_neighbour() -> TestResult {
    let mut store = Store::new(10);
    let bona: Arc<str> = Arc::from("Bona");
    store.insert_from(&record("Bona +0.1 kiwi +1+1 1")?, Some(&bona));
    store.insert(record("Clark +0.1 lime +1+1 1")?);
    store.insert(record("Clark +0.1 mango +1+1 1")?);
    let first = store.changes_after(0, 1, |held| held.from == Some("Bona"));
    assert_eq!(first.records.len(), 1);
    assert_eq!(first.lines, "AT Clark +0.1 lime +1+1 1\n");
    assert_eq!(first.reached, 2, "the skipped record is passed over");
    let rest = store.changes_after(first.reached, 10, |held| held.from == Some("Bona"));
    assert_eq!(rest.lines, "AT Clark +0.1 mango +1+1 1\n");
    assert_eq!(store.count_after(0, |held| held.from == Some("Bona")), 2);
    assert_eq!(store.changes_after(0, 10, |_| false).records.len(), 3);
    Ok(())
}

#[test]
fn tables_holding_the_same_records_have_the_same_digest() -> TestResult {
    let (mut a, mut b) = (Store::new(10), Store::new(10));
    a.insert(record("Clark +0.1 kiwi +1+1 1")?);
    a.insert(record("Bona +0.1 lime +1+1 1")?);
    a.insert(record("Clark +0.1 kiwi +2+2 2")?);
    b.insert(record("Bona +0.1 lime +1+1 1")?);
    b.insert(record("Clark +0.1 kiwi +2+2 2")?);
    assert_eq!(
        a.digest(8),
        b.digest(8),
        "replaced records leave the digest"
    );
    b.insert(record("Bona +0.1 mango +1+1 1")?);
    assert_eq!(a.digest(8).differing(&b.digest(8)).count(), 1);
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
fn a_restored_record_is_never_refused_for_a_full_table() -> TestResult {
    // kiwi and lime were stored small; their updates grew the table past its bound, which a
    // snapshot then holds as two records stored anew.
    let kiwi = record("Clark +0.1 kiwi +1+1 1")?;
    let lime = record(&format!("Clark +0.1 lime +1.{}+1 1", "0".repeat(40)))?;
    let mut store = Store::with_bounds(1, record_bytes(&kiwi) + 10);
    assert_eq!(store.restore(&kiwi, None, 3), Outcome::New);
    assert_eq!(store.restore(&lime, None, 5), Outcome::New);
    assert_eq!((store.len(), store.head()), (2, 5));
    assert_eq!(store.bytes(), record_bytes(&kiwi) + record_bytes(&lime));
    // The bounds still hold for new clients, and held ones keep moving.
    let mango = record("Clark +0.1 mango +1+1 1")?;
    assert_eq!(store.insert(mango), Outcome::TableFull);
    assert_eq!(
        store.insert(record("Clark +0.1 kiwi +2+2 2")?),
        Outcome::New
    );
    Ok(())
}

/// A table of `n` clients, each stored once.
fn filled(n: usize) -> Result<Store, ParseError> {
    let mut store = Store::new(100);
    for i in 0..n {
        store.insert(record(&format!("Clark +0.1 client{i} +1+2 100"))?);
    }
    Ok(store)
}

#[test]
#[should_panic(expected = "the change sequence reused a number")]
fn a_head_one_behind_trips_the_change_sequence_assertion_at_the_insert() {
    let mut store = filled(3).unwrap();
    // An off-by-one in the change sequence: the next change gets the last one's number.
    store.head -= 1;
    store.insert(record("Clark +0.1 late +1+2 100").unwrap());
}

#[test]
#[should_panic(expected = "the table's byte count drifted")]
fn a_byte_count_out_of_step_trips_the_assertion_at_the_next_power_of_two() {
    let mut store = filled(3).unwrap();
    store.bytes += 1;
    // Change 4 is a power of two: the whole table is checked there.
    store.insert(record("Clark +0.1 late +1+2 100").unwrap());
}

#[test]
#[should_panic(expected = "the index and the change sequence hold different counts")]
fn an_index_out_of_step_trips_the_assertion() {
    let mut store = filled(3).unwrap();
    store.index.clear();
    store.insert(record("Clark +0.1 late +1+2 100").unwrap());
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
        let table = |store: &Store| store.records();
        prop_assert_eq!(table(&forward), table(&backward));
        prop_assert_eq!(table(&forward), table(&mixed));
        for held in forward.records() {
            let best = records
                .iter()
                .filter(|r| r.client == held.client)
                .max_by(|x, y| x.order_key().cmp(&y.order_key()));
            prop_assert_eq!(Some(held), best.cloned());
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
