//! The events' JSON, laid out by hand for the events written once per record and hop, byte
//! for byte what `serde_json` writes for them.

use std::fmt;

use super::{Event, Source};

/// Writes an event as its JSON when formatted.
pub(super) struct Json<'a>(pub(super) &'a Event);

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_buffered(f, |json| self.0.write_json(json))
    }
}

/// Lays JSON out with `write` into this thread's buffer, then hands it to `f` in one piece
/// (writing each small piece to `f` costs more).
fn write_buffered(
    f: &mut fmt::Formatter<'_>,
    write: impl FnOnce(&mut String) -> serde_json::Result<()>,
) -> fmt::Result {
    JSON_BUFFER.with(|buffer| {
        let mut fresh = String::new();
        let mut borrowed = buffer.try_borrow_mut();
        let json = borrowed.as_deref_mut().unwrap_or(&mut fresh);
        json.clear();
        write(json).map_err(|_| fmt::Error)?;
        f.write_str(json)
    })
}

/// [`Event::emit_flood_sent`]'s JSON, written when formatted.
pub(super) struct FloodSentJson<'a> {
    pub(super) peer: &'a str,
    pub(super) fields: &'a str,
}

impl fmt::Display for FloodSentJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_buffered(f, |json| write_flood_sent(json, self.peer, self.fields))
    }
}

/// `flood_sent`'s JSON for `peer` and a record's five fields as its AT line has them.
fn write_flood_sent(out: &mut String, peer: &str, fields: &str) -> serde_json::Result<()> {
    let mut split = fields.split(' ');
    let mut next = || split.next().unwrap_or_default();
    out.push_str(r#"{"event":"flood_sent","peer":"#);
    push_string(out, peer)?;
    out.push(',');
    push_fields(out, [next(), next(), next(), next(), next()])?;
    out.push('}');
    Ok(())
}

thread_local! {
    /// [`Json`]'s buffer: it grows to the longest event this thread wrote.
    static JSON_BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl Event {
    /// Appends the event's JSON to `out`: byte for byte what `serde_json` writes for it.
    ///
    /// The events written once per record and hop (a line, a reply, a stored or flooded
    /// record) are laid out here by hand: their keys are fixed text, and a value that needs
    /// no escaping is copied as it is. Through `serde_json` they cost a sixth of the whole
    /// herd's instructions, most of it escaping keys. Every other event goes through
    /// `serde_json`.
    pub fn write_json(&self, out: &mut String) -> serde_json::Result<()> {
        match self {
            Event::ClientLine { conn, line } => {
                out.push_str(r#"{"event":"client_line","conn":"#);
                push_number(out, *conn);
                out.push_str(r#","line":"#);
                push_string(out, line)?;
            }
            Event::Reply { conn, line, bytes } => {
                out.push_str(r#"{"event":"reply","conn":"#);
                push_number(out, *conn);
                out.push_str(r#","line":"#);
                push_string(out, line)?;
                out.push_str(r#","bytes":"#);
                push_number(out, *bytes);
            }
            Event::RecordStored {
                record,
                outcome,
                source,
            } => {
                out.push_str(r#"{"event":"record_stored","#);
                push_fields(out, record.fields())?;
                out.push_str(r#","outcome":""#);
                out.push_str(outcome.as_str());
                out.push_str(r#"","source":"#);
                match source {
                    Source::Client => out.push_str(r#""client""#),
                    Source::Classic => out.push_str(r#""classic""#),
                    Source::Peer(name) => {
                        // Written `peer:NAME`: the name is the only part that may need escaping.
                        out.push_str(r#""peer:"#);
                        push_string_contents(out, name)?;
                        out.push('"');
                    }
                }
            }
            Event::FloodSent { peer, record } => {
                out.push_str(r#"{"event":"flood_sent","peer":"#);
                push_string(out, peer)?;
                out.push(',');
                push_fields(out, record.fields())?;
            }
            Event::TableRecord { record } => {
                out.push_str(r#"{"event":"table_record","#);
                push_fields(out, record.fields())?;
            }
            other => {
                out.push_str(&serde_json::to_string(other)?);
                return Ok(());
            }
        }
        out.push('}');
        Ok(())
    }
}

/// The five fields of a record in its AT line's order: origin, time difference, client,
/// location, timestamp. The three numbers are text their parsers accepted (digits, signs and
/// a dot), which JSON never escapes; only the two names are checked.
fn push_fields(out: &mut String, fields: [&str; 5]) -> serde_json::Result<()> {
    let [origin, time_diff, client, location, timestamp] = fields;
    out.push_str(r#""origin":"#);
    push_string(out, origin)?;
    out.push_str(r#","time_diff":""#);
    push_number_text(out, time_diff);
    out.push_str(r#"","client":"#);
    push_string(out, client)?;
    out.push_str(r#","location":""#);
    push_number_text(out, location);
    out.push_str(r#"","timestamp":""#);
    push_number_text(out, timestamp);
    out.push('"');
    Ok(())
}

/// A parsed number's text, between quotes the caller wrote: as it is (the tests and the
/// simulation, built with debug assertions, check that it needs no escaping).
fn push_number_text(out: &mut String, text: &str) {
    debug_assert!(
        !needs_escape(text.as_bytes()),
        "{text:?} is not a number's text"
    );
    out.push_str(text);
}

/// A JSON string, between quotes.
pub(super) fn push_string(out: &mut String, text: &str) -> serde_json::Result<()> {
    out.push('"');
    push_string_contents(out, text)?;
    out.push('"');
    Ok(())
}

/// A JSON string's contents: copied when nothing in it needs escaping (the usual case, checked
/// a whole slice at a time), else escaped by `serde_json` itself.
fn push_string_contents(out: &mut String, text: &str) -> serde_json::Result<()> {
    if !needs_escape(text.as_bytes()) {
        out.push_str(text);
    } else {
        let quoted = serde_json::to_string(text)?;
        out.push_str(&quoted[1..quoted.len() - 1]);
    }
    Ok(())
}

/// Whether JSON needs `bytes` escaped: a control character, `"` or `\\` in it. Eight bytes
/// at a time (the usual SWAR tests for a zero byte and for a byte below a bound), since this
/// runs over every text field of every log line.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let has_below_space = |word: u64| word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    let word_needs_escape = |eight: [u8; 8]| {
        let word = u64::from_ne_bytes(eight);
        has_below_space(word)
            || has_zero(word ^ (ONES * u64::from(b'"')))
            || has_zero(word ^ (ONES * u64::from(b'\\')))
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        // Always eight bytes; zeros (which need escaping) if it ever were not.
        if word_needs_escape(<[u8; 8]>::try_from(chunk).unwrap_or([0; 8])) {
            return true;
        }
    }
    let rest = chunks.remainder();
    // The last few bytes, padded with a byte that needs no escaping.
    let mut eight = [b'a'; 8];
    eight[..rest.len()].copy_from_slice(rest);
    !rest.is_empty() && word_needs_escape(eight)
}

fn push_number(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Direction, LinkEnd};
    use crate::protocol::{Command, Record};
    use crate::store::Outcome;
    use proptest::prelude::*;

    fn record(origin: &str, client: &str) -> Record {
        let Ok(Command::At(mut record)) = Command::parse_line(
            b"AT Bailey +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
        ) else {
            panic!("the AT line parses");
        };
        record.origin = origin.to_string();
        record.client = client.to_string();
        record
    }

    /// Every event [`Event::write_json`] lays out by hand, with these strings in its text fields.
    fn hand_written(text: &str) -> Vec<Event> {
        let mut events = vec![
            Event::ClientLine {
                conn: 7,
                line: text.to_string(),
            },
            Event::Reply {
                conn: u64::MAX,
                line: text.to_string(),
                bytes: 0,
            },
            Event::FloodSent {
                peer: text.to_string(),
                record: record(text, text),
            },
            Event::TableRecord {
                record: record("Bona", text),
            },
        ];
        for outcome in [
            Outcome::New,
            Outcome::Stale,
            Outcome::Duplicate,
            Outcome::TableFull,
        ] {
            for source in [
                Source::Client,
                Source::Classic,
                Source::Peer(text.to_string()),
            ] {
                events.push(Event::RecordStored {
                    record: record(text, "kiwi"),
                    outcome,
                    source,
                });
            }
        }
        events
    }

    fn assert_same_as_serde(event: &Event) {
        let mut fast = String::new();
        event.write_json(&mut fast).unwrap();
        assert_eq!(fast, serde_json::to_string(event).unwrap());
    }

    #[test]
    fn the_hand_written_json_is_what_serde_json_writes() {
        for text in [
            "",
            "kiwi.cs.ucla.edu",
            "a \"quoted\" back\\slash",
            "tab\tnew\nline\r\u{8}\u{c}\u{1}\u{1f}\u{7f}",
            "ünï©ødé ✓ 𝄞",
        ] {
            for event in hand_written(text) {
                assert_same_as_serde(&event);
            }
        }
        // Any other event goes through serde_json.
        let other = Event::PeerDown {
            peer: "Bona".into(),
            direction: Direction::Outbound,
            reason: LinkEnd::HeartbeatTimeout,
        };
        assert_same_as_serde(&other);
    }

    #[test]
    fn needs_escape_finds_each_byte_to_escape_at_any_place_and_nothing_else() {
        for len in 0..20 {
            let plain = "a".repeat(len);
            assert!(!needs_escape(plain.as_bytes()));
            for at in 0..len {
                for b in 0..=255_u8 {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = b;
                    let expected = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(
                        needs_escape(&bytes),
                        expected,
                        "byte {b:#x} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn flood_sent_from_held_text_is_the_event_s_own_json() {
        for (peer, line) in [
            (
                "Bona",
                "AT Bailey +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
            ),
            (
                "Jaq\"uez",
                "AT Cl\\ark -0.5 émile\u{7f} -0.0+180 0.000000001",
            ),
        ] {
            let Ok(Command::At(record)) = Command::parse_line(line.as_bytes()) else {
                panic!("{line} parses");
            };
            let mut from_text = String::new();
            write_flood_sent(&mut from_text, peer, &line[3..]).unwrap();
            let event = Event::FloodSent {
                peer: peer.to_string(),
                record,
            };
            assert_eq!(from_text, serde_json::to_string(&event).unwrap());
            assert_eq!(
                format!(
                    "{}",
                    FloodSentJson {
                        peer,
                        fields: &line[3..]
                    }
                ),
                from_text
            );
        }
    }

    proptest! {
        #[test]
        fn needs_escape_agrees_with_a_byte_by_byte_test(
            bytes in proptest::collection::vec(
                prop_oneof![0x00..0x40_u8, 0x5a..0x60_u8, 0x7f..=0xff_u8, any::<u8>()],
                0..40,
            )
        ) {
            let expected = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(needs_escape(&bytes), expected);
        }

        #[test]
        fn any_text_gives_serde_json_s_bytes(text in any::<String>()) {
            for event in hand_written(&text) {
                assert_same_as_serde(&event);
            }
        }
    }
}
