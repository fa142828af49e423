//! One entry of the durable store's files, framed and checksummed: written, read back, and
//! where a file stops being trustworthy.
//!
//! A frame is `len` (u32, little-endian), `crc` (CRC-32 of the four length bytes and the
//! payload, u32 little-endian), then `len` bytes of payload text:
//!
//! ```text
//! E <epoch>                                     the server's life the files belong to
//! R <seq> <origin> <diff> <client> <loc> <ts>   a record stored as change <seq>
//! P <seq> <peer> <peer-epoch> <five fields>     the same, come from a neighbour in that life
//! M <peer> <peer-epoch> <seq>                   a neighbour's resume point (its MARK)
//! ```

use std::sync::Arc;

use crate::protocol::{Command, Record};
use crate::store::ResumePoint;

/// Bytes before a frame's payload.
pub const FRAME_HEADER_BYTES: usize = 8;

/// What one frame holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Epoch(u64),
    Record {
        seq: u64,
        /// The link it came on: `"<neighbour> <epoch>"` (see `state::link_key`).
        from: Option<Arc<str>>,
        record: Record,
    },
    Resume {
        peer: String,
        point: ResumePoint,
    },
}

/// Appends one framed entry whose payload is `payload` to `out`.
fn frame(out: &mut Vec<u8>, payload: &str) {
    let len = (payload.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(payload.as_bytes());
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload.as_bytes());
}

/// Appends the epoch entry.
pub fn write_epoch(out: &mut Vec<u8>, epoch: u64) {
    frame(out, &format!("E {epoch}"));
}

/// Appends a record entry: `text` is its five fields joined by spaces (as the store holds it).
pub fn write_record(out: &mut Vec<u8>, seq: u64, from: Option<&str>, text: &str) {
    match from {
        Some(from) => frame(out, &format!("P {seq} {from} {text}")),
        None => frame(out, &format!("R {seq} {text}")),
    }
}

/// Appends a resume point entry.
pub fn write_resume(out: &mut Vec<u8>, peer: &str, point: ResumePoint) {
    frame(out, &format!("M {peer} {} {}", point.epoch, point.seq));
}

/// Why reading a file stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The last frame is incomplete: a write that power loss cut short.
    Torn { offset: u64 },
    /// A whole frame whose checksum or text is wrong: the disk changed what was synced.
    Corrupt { offset: u64 },
}

impl Cut {
    pub fn offset(&self) -> u64 {
        match self {
            Cut::Torn { offset } | Cut::Corrupt { offset } => *offset,
        }
    }
}

/// Every entry of `bytes` up to the first frame that cannot be trusted, and where that was.
pub fn read_all(bytes: &[u8]) -> (Vec<Entry>, Option<Cut>) {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let offset = at as u64;
        let Some(header) = bytes.get(at..at + FRAME_HEADER_BYTES) else {
            return (entries, Some(Cut::Torn { offset }));
        };
        let len_bytes = [header[0], header[1], header[2], header[3]];
        let len = u32::from_le_bytes(len_bytes) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let start = at + FRAME_HEADER_BYTES;
        let Some(payload) = bytes.get(start..start.saturating_add(len)) else {
            return (entries, Some(Cut::Torn { offset }));
        };
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&len_bytes);
        hasher.update(payload);
        let entry = (hasher.finalize() == crc).then(|| parse(payload)).flatten();
        let Some(entry) = entry else {
            return (entries, Some(Cut::Corrupt { offset }));
        };
        entries.push(entry);
        at = start + len;
    }
    (entries, None)
}

/// A payload's entry; `None` when its text is not one (only a bug or the disk writes that).
fn parse(payload: &[u8]) -> Option<Entry> {
    let text = std::str::from_utf8(payload).ok()?;
    let (kind, rest) = text.split_once(' ')?;
    match kind {
        "E" => Some(Entry::Epoch(rest.parse().ok()?)),
        "R" | "P" => {
            let (seq, rest) = rest.split_once(' ')?;
            let (from, fields) = if kind == "P" {
                let mut parts = rest.splitn(3, ' ');
                let (peer, epoch, fields) = (parts.next()?, parts.next()?, parts.next()?);
                epoch.parse::<u64>().ok()?;
                (Some(Arc::from(format!("{peer} {epoch}"))), fields)
            } else {
                (None, rest)
            };
            let Ok(Command::At(record)) = Command::parse_line(format!("AT {fields}").as_bytes())
            else {
                return None;
            };
            (record.fields().join(" ") == fields).then_some(Entry::Record {
                seq: seq.parse().ok()?,
                from,
                record,
            })
        }
        "M" => {
            let mut parts = rest.split(' ');
            let (peer, epoch, seq) = (parts.next()?, parts.next()?, parts.next()?);
            parts.next().is_none().then_some(())?;
            Some(Entry::Resume {
                peer: peer.to_string(),
                point: ResumePoint {
                    epoch: epoch.parse().ok()?,
                    seq: seq.parse().ok()?,
                },
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(client: &str) -> Record {
        match Command::parse_line(format!("AT Bona +0.5 {client} +1-2 1700000000.5").as_bytes()) {
            Ok(Command::At(record)) => record,
            other => panic!("{other:?}"),
        }
    }

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        write_epoch(&mut out, 77);
        write_record(&mut out, 1, None, &record("kiwi").fields().join(" "));
        write_record(
            &mut out,
            2,
            Some("Clark 9"),
            &record("lime").fields().join(" "),
        );
        write_resume(&mut out, "Clark", ResumePoint { epoch: 9, seq: 4 });
        out
    }

    #[test]
    fn entries_read_back_as_written() {
        let (entries, cut) = read_all(&sample());
        assert_eq!(cut, None);
        assert_eq!(
            entries,
            vec![
                Entry::Epoch(77),
                Entry::Record {
                    seq: 1,
                    from: None,
                    record: record("kiwi")
                },
                Entry::Record {
                    seq: 2,
                    from: Some(Arc::from("Clark 9")),
                    record: record("lime")
                },
                Entry::Resume {
                    peer: "Clark".into(),
                    point: ResumePoint { epoch: 9, seq: 4 }
                },
            ]
        );
    }

    #[test]
    fn a_file_cut_anywhere_keeps_every_whole_entry_before_the_cut() {
        let bytes = sample();
        let (whole, _) = read_all(&bytes);
        for len in 0..bytes.len() {
            let (entries, cut) = read_all(&bytes[..len]);
            assert!(whole.starts_with(&entries), "at {len}");
            if cut.is_some() {
                assert!(matches!(cut, Some(Cut::Torn { .. })), "at {len}: {cut:?}");
            }
        }
    }

    #[test]
    fn any_flipped_bit_is_caught_and_nothing_after_it_is_read() {
        let bytes = sample();
        let (whole, _) = read_all(&bytes);
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let (entries, cut) = read_all(&flipped);
            assert!(cut.is_some(), "bit {bit} went unnoticed");
            assert!(
                whole.starts_with(&entries),
                "bit {bit} changed what was read"
            );
            assert!(entries.len() < whole.len(), "bit {bit}");
        }
    }
}
