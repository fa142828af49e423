//! The client table: for each client, the winning [`Record`] under docs/protocol.md §5's order.
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
        self.insert_as(record, from, self.head + 1, true)
    }

    /// Puts back a record recovered from disk with the number it had in the change sequence
    /// (after `head`: a durable store replays its changes in order), as [`Store::insert_from`]
    /// would have stored it, but never refused for a full table: the files hold only records
    /// the table stored, and updates of held clients may have grown it past `table_bytes_max`
    /// (a snapshot then holds more bytes than its clients' first records took), so the bound
    /// would drop records the server held while it goes on in the same life, and its
    /// neighbours, resuming by cursor, would never offer them again.
    pub fn restore(&mut self, record: &Record, from: Option<&Arc<str>>, seq: u64) -> Outcome {
        if seq <= self.head {
            return Outcome::Stale;
        }
        self.insert_as(record, from, seq, false)
    }

    /// Stores `record` as change `seq`; a new client is refused at the table's bounds only
    /// when `bounded`.
    fn insert_as(
        &mut self,
        record: &Record,
        from: Option<&Arc<str>>,
        seq: u64,
        bounded: bool,
    ) -> Outcome {
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
                debug_assert!(
                    self.bytes >= held.bytes(),
                    "the table counts {} bytes, less than the {} of a record it holds",
                    self.bytes,
                    held.bytes()
                );
                self.bytes = self.bytes - held.bytes() + size;
                self.changes.remove(&old);
                let slot = self.index.find_mut(hash, |s| *s == old);
                debug_assert!(slot.is_some(), "the index lost change {old}");
                if let Some(slot) = slot {
                    *slot = seq;
                }
            }
            None => {
                let full = bounded
                    && (self.len() >= self.clients_max
                        || self.bytes.saturating_add(size) > self.bytes_max);
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
        debug_assert!(
            seq > self.head,
            "change {seq} does not follow the head {}: the change sequence went back",
            self.head
        );
        let displaced = self.changes.insert(seq, Packed::new(record, from));
        debug_assert!(
            displaced.is_none(),
            "change {seq} was already held: the change sequence reused a number"
        );
        self.head = seq;
        self.debug_check();
        Outcome::New
    }

    /// Asserts (in debug builds) that `index`, `changes`, `bytes` and `head` are in step: one
    /// index entry per held change, the newest change numbered `head`, and (at every power of
    /// two of `head`, so the whole-table pass costs O(1) a change amortized) the bytes counted
    /// as the held records' sum, and each held client found by the index at its change.
    fn debug_check(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        debug_assert_eq!(
            self.index.len(),
            self.changes.len(),
            "the index and the change sequence hold different counts of clients"
        );
        debug_assert_eq!(
            self.changes.last_key_value().map(|(seq, _)| *seq),
            (self.head > 0).then_some(self.head),
            "the newest held change is not the head"
        );
        if !self.head.is_power_of_two() {
            return;
        }
        let bytes: usize = self.changes.values().map(Packed::bytes).sum();
        debug_assert_eq!(self.bytes, bytes, "the table's byte count drifted");
        for (seq, packed) in &self.changes {
            let found = self.index.find(client_hash(packed.client()), |s| s == seq);
            debug_assert!(found.is_some(), "the index does not find change {seq}");
        }
    }

    pub fn get(&self, client: &str) -> Option<Record> {
        let seq = self.seq_of(client)?;
        self.changes.get(&seq).map(Packed::record)
    }

    /// The number in the change sequence of the record held for `client`, if one is.
    pub fn seq_of(&self, client: &str) -> Option<u64> {
        self.index
            .find(client_hash(client), |seq| {
                self.changes.get(seq).is_some_and(|p| p.client() == client)
            })
            .copied()
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
            debug_assert!(
                seq > cursor,
                "change {seq} is not after the cursor {cursor}"
            );
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
        debug_assert!(
            batch.reached >= cursor && batch.reached <= cursor.max(self.head),
            "a batch after {cursor} reached {}, outside the cursor and the head {}",
            batch.reached,
            self.head
        );
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
        // A dialler reads a digest that is not empty as "the accepter holds records, a refill
        // is coming", so an empty table's digest must be empty.
        debug_assert!(
            !self.is_empty() || digest.is_empty(),
            "an empty table's digest is not empty"
        );
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
mod tests;
