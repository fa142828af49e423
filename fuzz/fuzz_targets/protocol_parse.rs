//! Fuzz target: `Command::parse_line` on arbitrary bytes, and what holds for every line it accepts.
//!
//! Beyond "no panic": an accepted line prints as one canonical line that parses back to the same
//! command and prints identically; client and peer fields are echoed verbatim (docs/protocol.md §2
//! and §8); parsed values respect the protocol's ranges; and the `? ` reply for any line is the
//! trimmed line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use server::protocol::{Command, invalid_reply, is_spec_whitespace};

fn fields(line: &[u8]) -> Vec<&[u8]> {
    line.split(|&b| is_spec_whitespace(b))
        .filter(|f| !f.is_empty())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let reply = invalid_reply(data);
    assert!(reply.starts_with("? "));
    let echoed = &reply.as_bytes()[2..];
    assert!(echoed.first().is_none_or(|&b| !is_spec_whitespace(b)));
    assert!(echoed.last().is_none_or(|&b| !is_spec_whitespace(b)));

    let Ok(command) = Command::parse_line(data) else {
        return;
    };
    let text = command.to_string();
    assert!(
        !text.contains('\n'),
        "one command prints as one line: {text:?}"
    );
    let again = Command::parse_line(text.as_bytes()).expect("the canonical text parses");
    assert_eq!(again, command, "round trip through {text:?}");
    assert_eq!(again.to_string(), text, "printing is idempotent");

    let input = fields(data);
    let output = fields(text.as_bytes());
    match &command {
        // Every field is the client's (or peer's) own text; AT drops only extra trailing fields.
        Command::IAmAt {
            location,
            timestamp,
            ..
        } => {
            assert_eq!(output, input);
            assert!(location.latitude().abs() <= 90.0);
            assert!(location.longitude().abs() <= 180.0);
            assert!(timestamp.nanos() >= 0);
        }
        Command::At(record) => {
            assert_eq!(output[..], input[..6]);
            assert!(record.location.latitude().abs() <= 90.0);
            assert!(record.timestamp.nanos() >= 0);
        }
        // Link lines: names, nonces and proofs are kept; their numbers lose leading zeros.
        // A digest is kept as sent (lowercase hex of a fixed width).
        Command::Peer { .. } | Command::Hello { .. } | Command::Auth { .. } => {
            assert_eq!(output[..2], input[..2])
        }
        Command::Linked { .. } => {
            assert_eq!(output[0], input[0]);
            assert_eq!(output[3..], input[3..]);
        }
        // The bound and heartbeat numbers are integers; leading zeros are not kept.
        Command::WhatsAt { radius, bound, .. } => {
            assert_eq!(output[..3], input[..3]);
            assert!((1..=20).contains(bound));
            assert!(radius.metres() > 0.0 && radius.metres() <= 50_000.0);
        }
        Command::Ping(_) | Command::Pong(_) | Command::Mark(_) => {
            assert_eq!(output[0], input[0])
        }
    }
});
