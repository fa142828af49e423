//! Which digest bucket a record falls in, as docs/protocol.md §8.3 defines
//! it, written from that text and not from `server::digest`: the first 8 bytes (big-endian) of
//! the SHA-256 of the record's five fields joined by single spaces (origin, time difference,
//! client, location, timestamp), modulo the bucket count; the count is the largest power of
//! two up to 256 whose 16 hex digits each, plus 200 bytes, fit in `line_bytes_max`.

use sha2::{Digest, Sha256};

/// The bucket count of a herd whose lines are at most `line_bytes_max` bytes.
pub fn bucket_count(line_bytes_max: usize) -> u64 {
    let fits = |buckets: u64| buckets * 16 + 200 <= line_bytes_max as u64;
    [256, 128, 64, 32, 16, 8, 4, 2]
        .into_iter()
        .find(|&buckets| fits(buckets))
        .unwrap_or(1)
}

/// The bucket of the record with these fields' texts, among `buckets`.
pub fn bucket(
    origin: &str,
    time_diff: &str,
    client: &str,
    location: &str,
    timestamp: &str,
    buckets: u64,
) -> u64 {
    let text = [origin, time_diff, client, location, timestamp].join(" ");
    let sha = Sha256::digest(text.as_bytes());
    let first: [u8; 8] = sha[..8].try_into().expect("SHA-256 has 32 bytes");
    u64::from_be_bytes(first) % buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_the_largest_power_of_two_that_fits() {
        assert_eq!(bucket_count(64 * 1024), 256);
        assert_eq!(bucket_count(4296), 256);
        assert_eq!(bucket_count(4295), 128);
        assert_eq!(bucket_count(256), 2);
        assert_eq!(bucket_count(215), 1);
    }

    #[test]
    fn a_record_lands_in_the_bucket_the_server_sends_it_in() {
        // The server's own hash, for once used as a witness: the two must agree on a record.
        let text = "Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";
        let fields: Vec<&str> = text.split(' ').collect();
        let ours = bucket(fields[0], fields[1], fields[2], fields[3], fields[4], 256);
        assert_eq!(ours, server::digest::record_hash(text) % 256);
    }
}
