//! The client table: for each client, the winning [`Record`] under SPEC section 5's order.
//!
//! Insert-if-newer under a total order is commutative and idempotent, which is what makes the
//! herd converge: any server that has seen the same set of records, in any order and with any
//! repeats, holds the same table. The table is bounded in clients and in bytes, so a flood of
//! client ids cannot grow memory without limit. It also keeps the change sequence that links
//! stream from (see [`Store::changes_after`]): a link's cost follows what changed.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::digest::{TableDigest, record_hash};
use crate::protocol::{Record, Timestamp};

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

/// What every held record costs beyond its text, for [`Store`]'s byte bound: its slot in the
/// change sequence, its index entry, the allocation header. An estimate that errs high.
pub const ENTRY_OVERHEAD_BYTES: usize = 128;

/// The bytes a record is counted as in the table's byte bound.
pub fn record_bytes(record: &Record) -> usize {
    record.fields().iter().map(|f| f.len()).sum::<usize>() + ENTRY_OVERHEAD_BYTES
}

/// A held record packed into one allocation: its five fields' text joined by spaces (the AT
/// line without `AT `), so a record costs one small heap block instead of five strings. It is
/// unpacked into a [`Record`] when read; the text was valid when stored, so it parses again.
#[derive(Debug, Clone)]
struct Packed {
    text: Box<str>,
    /// Byte ranges of the client id within `text`.
    client: (u32, u32),
    /// The link it came on (a neighbour in one of its lives); a link to that neighbour skips it.
    from: Option<Arc<str>>,
}

impl Packed {
    fn new(record: &Record, from: Option<&Arc<str>>) -> Packed {
        let fields = record.fields();
        // `join` sizes the one allocation exactly, so boxing it does not reallocate.
        let text = fields.join(" ");
        let start = (fields[0].len() + 1 + fields[1].len() + 1) as u32;
        Packed {
            text: text.into_boxed_str(),
            client: (start, start + record.client.len() as u32),
            from: from.cloned(),
        }
    }

    fn held(&self, seq: u64) -> Held<'_> {
        Held {
            seq,
            from: self.from.as_deref(),
            text: &self.text,
        }
    }

    fn client(&self) -> &str {
        &self.text[self.client.0 as usize..self.client.1 as usize]
    }

    /// Whether this is `record`'s text, field by field (no record is built to compare).
    fn is(&self, record: &Record) -> bool {
        let mut fields = self.text.split(' ');
        record
            .fields()
            .into_iter()
            .all(|field| fields.next() == Some(field))
            && fields.next().is_none()
    }

    /// The held timestamp's nanoseconds, read from the text's last field alone.
    fn timestamp_nanos(&self) -> i128 {
        let text = self.text.rsplit(' ').next().unwrap_or_default();
        text.parse::<Timestamp>()
            .expect("a stored timestamp parses")
            .nanos()
    }

    /// [`record_bytes`] of the held record: its text less the four spaces that join it.
    fn bytes(&self) -> usize {
        self.text.len() - 4 + ENTRY_OVERHEAD_BYTES
    }

    fn record(&self) -> Record {
        let mut fields = self.text.split(' ');
        let mut next = || fields.next().unwrap_or_default();
        let (origin, time_diff, client, location, timestamp) =
            (next(), next(), next(), next(), next());
        // Stored text was parsed once already; a failure here would be a bug in packing.
        Record {
            origin: origin.to_string(),
            time_diff: time_diff.parse().expect("a stored time difference parses"),
            client: client.to_string(),
            location: location.parse().expect("a stored location parses"),
            timestamp: timestamp.parse().expect("a stored timestamp parses"),
        }
    }
}

/// Where an inbound link from one neighbour resumes: the neighbour's epoch (its current
/// life) and the last change of that life it marked as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    pub epoch: u64,
    pub seq: u64,
}

/// A held record as a link's filter sees it, without unpacking it.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// Its number in the change sequence.
    pub seq: u64,
    /// The link it came on (a neighbour in one of its lives), if it came from a neighbour.
    pub from: Option<&'a str>,
    /// Its text as [`crate::digest::record_hash`] hashes it: the AT line's five fields.
    pub text: &'a str,
}

/// A link's next slice of the change sequence: the records to send, as the AT lines that
/// carry them, and the sequence number the link has reached once they are sent (records it
/// skipped included).
///
/// The lines are the held text as it is, not records unpacked and printed again: a link sends
/// every change to every neighbour, and re-parsing each one cost as much as receiving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// `AT <fields>\n` for each record, ready to write.
    pub lines: String,
    /// Each record's number in the change sequence and where its five fields are in `lines`.
    pub records: Vec<(u64, std::ops::Range<usize>)>,
    pub reached: u64,
}

impl Batch {
    /// Each record's number in the change sequence and its AT line's five fields (the text a
    /// `flood_sent` event shows).
    pub fn fields(&self) -> impl Iterator<Item = (u64, &str)> {
        self.records
            .iter()
            .map(|(seq, range)| (*seq, self.lines.get(range.clone()).unwrap_or_default()))
    }
}

/// Hashes client ids for the index. `DefaultHasher::new` has fixed keys: the index is only ever looked up, never
/// iterated, so no order reaches output; fixed keys keep runs reproducible.
fn client_hash(client: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    client.hash(&mut hasher);
    hasher.finish()
}

/// Latest record per client id, and the change sequence: every stored record gets the next
/// local sequence number, and a record that is replaced leaves the sequence, so "everything
/// after cursor c" is exactly what changed since c, each client once.
///
/// The records live in the change sequence itself (a `BTreeMap` by sequence number, so links
/// read it in order, deterministically); a hash index finds a client's sequence number. Each
/// record is one packed allocation ([`Packed`]): a table of 100,000 clients stays small.
#[derive(Debug, Clone)]
pub struct Store {
    /// seq -> the record stored with it, for the records currently held.
    changes: BTreeMap<u64, Packed>,
    /// client id (hashed) -> seq in `changes`.
    index: hashbrown::HashTable<u64>,
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
            changes: BTreeMap::new(),
            index: hashbrown::HashTable::new(),
            head: 0,
            bytes: 0,
            clients_max,
            bytes_max,
        }
    }

    /// [`Store::insert_from`] a client or an unknown sender.
    pub fn insert(&mut self, record: Record) -> Outcome {
        self.insert_from(&record, None)
    }

    /// Insert-if-newer under [`Record::is_newer_than`]; `from` names the link it came on (a
    /// neighbour in one of its lives), which a link to that neighbour then skips.
    /// A known client is always updatable, even when the table is full; only new clients are
    /// refused.
    pub fn insert_from(&mut self, record: &Record, from: Option<&Arc<str>>) -> Outcome {
        self.insert_as(record, from, self.head + 1)
    }

    /// Puts back a record recovered from disk with the number it had in the change sequence
    /// (after `head`: a durable store replays its changes in order), as [`Store::insert_from`]
    /// would have stored it.
    pub fn restore(&mut self, record: &Record, from: Option<&Arc<str>>, seq: u64) -> Outcome {
        if seq <= self.head {
            return Outcome::Stale;
        }
        self.insert_as(record, from, seq)
    }

    fn insert_as(&mut self, record: &Record, from: Option<&Arc<str>>, seq: u64) -> Outcome {
        let size = record_bytes(record);
        let hash = client_hash(&record.client);
        let changes = &self.changes;
        let held_seq = self
            .index
            .find(hash, |seq| {
                changes
                    .get(seq)
                    .is_some_and(|p| p.client() == record.client)
            })
            .copied();
        match held_seq {
            Some(old) => {
                let held = &self.changes[&old];
                if held.is(record) {
                    return Outcome::Duplicate;
                }
                // The order compares timestamps first: only a tie needs the whole held record.
                let newer = match record.timestamp.nanos().cmp(&held.timestamp_nanos()) {
                    Ordering::Equal => record.is_newer_than(&held.record()),
                    order => order == Ordering::Greater,
                };
                if !newer {
                    return Outcome::Stale;
                }
                self.bytes = self.bytes - held.bytes() + size;
                self.changes.remove(&old);
                if let Some(slot) = self.index.find_mut(hash, |s| *s == old) {
                    *slot = seq;
                }
            }
            None => {
                let full = self.len() >= self.clients_max
                    || self.bytes.saturating_add(size) > self.bytes_max;
                if full {
                    return Outcome::TableFull;
                }
                self.bytes += size;
                let changes = &self.changes;
                self.index.insert_unique(hash, seq, |s| {
                    changes.get(s).map_or(0, |p| client_hash(p.client()))
                });
            }
        }
        self.changes.insert(seq, Packed::new(record, from));
        self.head = seq;
        Outcome::New
    }

    pub fn get(&self, client: &str) -> Option<Record> {
        let seq = self.index.find(client_hash(client), |seq| {
            self.changes.get(seq).is_some_and(|p| p.client() == client)
        })?;
        self.changes.get(seq).map(Packed::record)
    }

    /// All held records, sorted by client id.
    pub fn records(&self) -> Vec<Record> {
        let mut records: Vec<Record> = self.changes.values().map(Packed::record).collect();
        records.sort_by(|a, b| a.client.cmp(&b.client));
        records
    }

    /// The sequence number of the last change (0: nothing stored yet).
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Up to `max` records changed after `cursor`, in change order, leaving out those for
    /// which `skip` holds (it sees where each record came from: records that came from the
    /// neighbour a link leads to are skipped, it has them; and its text, for the digest).
    pub fn changes_after(&self, cursor: u64, max: usize, skip: impl Fn(Held<'_>) -> bool) -> Batch {
        self.changes_upto(cursor, u64::MAX, max, skip)
    }

    /// [`Store::changes_after`], only as far as change `upto` (a durable store streams only
    /// what is synced).
    pub fn changes_upto(
        &self,
        cursor: u64,
        upto: u64,
        max: usize,
        skip: impl Fn(Held<'_>) -> bool,
    ) -> Batch {
        let mut batch = Batch {
            lines: String::new(),
            records: Vec::new(),
            reached: cursor,
        };
        let mut exhausted = true;
        if upto <= cursor {
            return batch;
        }
        for (&seq, packed) in self.changes.range(cursor + 1..=upto) {
            if batch.records.len() >= max {
                exhausted = false;
                break;
            }
            batch.reached = seq;
            if skip(packed.held(seq)) {
                continue;
            }
            batch.lines.push_str("AT ");
            let start = batch.lines.len();
            batch.lines.push_str(&packed.text);
            batch.records.push((seq, start..batch.lines.len()));
            batch.lines.push('\n');
        }
        if exhausted {
            batch.reached = batch.reached.max(self.head.min(upto));
        }
        batch
    }

    /// Every held record as a link's filter sees it, in change order (what a durable store's
    /// snapshot writes).
    pub fn held_all(&self) -> impl Iterator<Item = Held<'_>> {
        self.changes.iter().map(|(&seq, packed)| packed.held(seq))
    }

    /// How many records changed after `cursor`, leaving out those `skip` leaves out.
    pub fn count_after(&self, cursor: u64, skip: impl Fn(Held<'_>) -> bool) -> usize {
        self.changes
            .range(cursor + 1..)
            .filter(|(seq, packed)| !skip(packed.held(**seq)))
            .count()
    }

    /// The digest of every held record, in `buckets` buckets (see [`crate::digest`]).
    pub fn digest(&self, buckets: usize) -> TableDigest {
        let mut digest = TableDigest::empty(buckets);
        for packed in self.changes.values() {
            digest.add(record_hash(&packed.text));
        }
        digest
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
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
}
