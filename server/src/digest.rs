//! A table's digest: the sum of its records' hashes per bucket, so a neighbour that must compare
//! a whole table (it restarted, or never knew this life of the dialler) sends only the buckets
//! whose records differ, not the table. Pure: nothing here does I/O or knows the store.
//!
//! A record's hash is the first 8 bytes of the SHA-256 of its text (the AT line's five fields);
//! its bucket is that hash modulo the bucket count. Two servers that hold the same records in a
//! bucket have the same sum there, in any order (addition commutes). A bucket that differs is
//! sent whole, so a differing digest costs only extra records, never a lost one. Equal sums
//! over different record sets happen by chance once in 2^64 per bucket; records crafted to
//! make them (a four-sum on 64 bits, far cheaper than a hash collision) would leave a
//! restarted server without them until their clients move again. The digest saves traffic;
//! it is not a defence against crafted records.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// The most buckets a digest has: 256 sums of 16 hex digits make a 4 KiB field.
pub const BUCKETS_MAX: usize = 256;

/// Hex digits per bucket in the wire form.
const HEX_PER_BUCKET: usize = 16;

/// Room kept in a `LINKED <digest>` line besides the digest (the word takes 7 bytes; the rest
/// is margin, so the rule stays the same if the line ever carries more).
const LINE_WITHOUT_DIGEST_BYTES: usize = 200;

/// The bucket count a server uses when lines are at most `line_bytes_max` bytes: the largest
/// power of two up to [`BUCKETS_MAX`] whose `LINKED` line still fits (at least 1).
pub fn buckets_for(line_bytes_max: usize) -> usize {
    let room = line_bytes_max.saturating_sub(LINE_WITHOUT_DIGEST_BYTES) / HEX_PER_BUCKET;
    let mut buckets = 1;
    while buckets * 2 <= room.min(BUCKETS_MAX) {
        buckets *= 2;
    }
    buckets
}

/// The bucket, among `buckets`, of the record whose [`record_hash`] is `hash`.
fn bucket_of(hash: u64, buckets: usize) -> usize {
    (hash % buckets as u64) as usize
}

/// A record's hash, from its text as the table keeps it.
pub fn record_hash(text: &str) -> u64 {
    let sha = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&sha[..8]);
    u64::from_be_bytes(first)
}

/// Per bucket, the wrapping sum of the hashes of the records in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDigest {
    sums: Vec<u64>,
}

impl TableDigest {
    /// The digest of no records, with `buckets` buckets (1..=[`BUCKETS_MAX`], a power of two).
    pub fn empty(buckets: usize) -> TableDigest {
        debug_assert!(buckets.is_power_of_two() && buckets <= BUCKETS_MAX);
        TableDigest {
            sums: vec![0; buckets],
        }
    }

    /// Adds the record whose [`record_hash`] is `hash`.
    pub fn add(&mut self, hash: u64) {
        let bucket = bucket_of(hash, self.sums.len());
        self.sums[bucket] = self.sums[bucket].wrapping_add(hash);
    }

    /// Is this the digest of no records (every sum zero)?
    pub fn is_empty(&self) -> bool {
        self.sums.iter().all(|sum| *sum == 0)
    }

    pub fn buckets(&self) -> usize {
        self.sums.len()
    }

    /// The buckets where `other` holds other records than this one (digests of different
    /// sizes differ everywhere).
    pub fn differing(&self, other: &TableDigest) -> DifferingBuckets {
        debug_assert!(self.sums.len().is_power_of_two() && self.sums.len() <= BUCKETS_MAX);
        let differs = if self.sums.len() == other.sums.len() {
            self.sums
                .iter()
                .zip(&other.sums)
                .map(|(a, b)| a != b)
                .collect()
        } else {
            vec![true; self.sums.len()]
        };
        // `holds` finds a record's bucket by our bucket count.
        debug_assert_eq!(differs.len(), self.sums.len());
        DifferingBuckets { differs }
    }
}

/// The buckets where two tables' digests differ: a catch-up sends the records in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DifferingBuckets {
    differs: Vec<bool>,
}

impl DifferingBuckets {
    /// Is the record whose [`record_hash`] is `hash` in a bucket that differs?
    pub fn holds(&self, hash: u64) -> bool {
        self.differs[bucket_of(hash, self.differs.len())]
    }

    /// How many buckets differ (for tests: the server only asks [`Self::holds`]).
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.differs.iter().filter(|d| **d).count()
    }
}

/// Why a digest field does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a digest is 1 to {BUCKETS_MAX} (a power of two) sums of {HEX_PER_BUCKET} lowercase hex digits"
)]
pub struct BadDigest;

impl std::str::FromStr for TableDigest {
    type Err = BadDigest;

    fn from_str(text: &str) -> Result<TableDigest, BadDigest> {
        let buckets = text.len() / HEX_PER_BUCKET;
        let lowercase_hex = text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !lowercase_hex
            || !text.len().is_multiple_of(HEX_PER_BUCKET)
            || !buckets.is_power_of_two()
            || buckets > BUCKETS_MAX
        {
            return Err(BadDigest);
        }
        let sums = (0..buckets)
            .map(|i| {
                let at = i * HEX_PER_BUCKET;
                u64::from_str_radix(&text[at..at + HEX_PER_BUCKET], 16).map_err(|_| BadDigest)
            })
            .collect::<Result<Vec<u64>, BadDigest>>()?;
        debug_assert_eq!(sums.len(), buckets);
        Ok(TableDigest { sums })
    }
}

/// The wire form: each sum as 16 lowercase hex digits, in bucket order, with no separator.
impl fmt::Display for TableDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for sum in &self.sums {
            write!(f, "{sum:016x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(texts: &[&str], buckets: usize) -> TableDigest {
        let mut digest = TableDigest::empty(buckets);
        for text in texts {
            digest.add(record_hash(text));
        }
        digest
    }

    #[test]
    fn the_same_records_in_any_order_give_the_same_digest() {
        let a = digest_of(&["Bona +0.1 kiwi +1+2 5.0", "Clark +0.2 emu +3+4 6.0"], 4);
        let b = digest_of(&["Clark +0.2 emu +3+4 6.0", "Bona +0.1 kiwi +1+2 5.0"], 4);
        assert_eq!(a, b);
        assert_eq!(a.differing(&b).count(), 0);
    }

    #[test]
    fn a_missing_or_changed_record_makes_exactly_its_bucket_differ() {
        let full = digest_of(&["Bona +0.1 kiwi +1+2 5.0", "Clark +0.2 emu +3+4 6.0"], 256);
        let missing = digest_of(&["Bona +0.1 kiwi +1+2 5.0"], 256);
        let differing = full.differing(&missing);
        assert_eq!(differing.count(), 1);
        assert!(differing.holds(record_hash("Clark +0.2 emu +3+4 6.0")));
        assert!(!differing.holds(record_hash("Bona +0.1 kiwi +1+2 5.0")));
        let changed = digest_of(&["Bona +0.1 kiwi +1+2 5.0", "Clark +0.2 emu +3+4 6.5"], 256);
        assert_eq!(
            full.differing(&changed).count(),
            2,
            "the old and the new record"
        );
        assert_eq!(full.differing(&TableDigest::empty(128)).count(), 256);
    }

    #[test]
    fn the_wire_form_reads_back_and_bad_forms_are_refused() {
        let digest = digest_of(&["Bona +0.1 kiwi +1+2 5.0"], 8);
        let text = digest.to_string();
        assert_eq!(text.len(), 8 * 16);
        assert_eq!(text.parse::<TableDigest>(), Ok(digest));
        for bad in [
            "",
            "0",
            &"0".repeat(3 * 16),
            &"0".repeat(512 * 16),
            &"A".repeat(16),
            &"g".repeat(16),
            "+000000000000000",
        ] {
            assert_eq!(bad.parse::<TableDigest>(), Err(BadDigest), "{bad:?}");
        }
    }

    #[test]
    fn the_bucket_count_fits_the_line_bound() {
        assert_eq!(buckets_for(64 * 1024), BUCKETS_MAX);
        assert_eq!(buckets_for(256), 2);
        assert_eq!(buckets_for(100), 1);
        for line_bytes_max in [256, 1000, 4296, 4297, 10_000] {
            let buckets = buckets_for(line_bytes_max);
            assert!(buckets.is_power_of_two());
            assert!(buckets * 16 + LINE_WITHOUT_DIGEST_BYTES <= line_bytes_max);
        }
    }
}
