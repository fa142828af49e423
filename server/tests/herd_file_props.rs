//! Property tests of the herd file loader: no text makes it panic, every refusal names the
//! file, and small edits of a valid herd file are either accepted as a valid herd or refused.
//!
//! A herd file is written by hand, so the loader meets typos, cut-off files and odd YAML; an
//! operator must get a message, never a crash of the server at start.

use proptest::prelude::*;
use server::config::Herd;

const ORIGIN: &str = "herd.yaml";

const VALID: &str = "\
servers:
  - { name: Bailey, port: 10000 }
  - { name: Bona, port: 10001 }
  - { name: Clark, host: \"::1\", port: 10003 }
links:
  - { between: [Bailey, Bona] }
  - { between: [Bona, Clark], classic: true }
limits:
  whatsat_wait: 250ms
  line_bytes_max: 4096
  heartbeat_interval: 1s
  heartbeat_timeout: 3s
";

/// Loads `text`; on success the herd must be valid, on failure the message must name the file.
fn check(text: &str) -> Result<(), TestCaseError> {
    match Herd::from_yaml_str(text, ORIGIN) {
        Ok(herd) => prop_assert_eq!(herd.validate(), Ok(())),
        Err(err) => prop_assert!(err.to_string().starts_with("herd.yaml: "), "{}", err),
    }
    Ok(())
}

/// Words of herd files and of YAML, glued in any order: near misses that reach deep into
/// the loader rather than failing on the first byte.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("servers:"),
        Just("links:"),
        Just("limits:"),
        Just("name:"),
        Just("port:"),
        Just("host:"),
        Just("between:"),
        Just("classic:"),
        Just("line_bytes_max:"),
        Just("whatsat_wait:"),
        Just("backoff_min:"),
        Just("backoff_max:"),
        Just("heartbeat_timeout:"),
        Just(" "),
        Just("\n"),
        Just("\n  "),
        Just("- "),
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just(", "),
        Just("Bailey"),
        Just("Bona"),
        Just("10000"),
        Just("0"),
        Just("-1"),
        Just("99999999999999999999"),
        Just("1.5s"),
        Just("250ms"),
        Just("0s"),
        Just("1e400s"),
        Just("true"),
        Just("~"),
        Just("&a "),
        Just("*a"),
        Just("!!str "),
        Just("\""),
        Just("'"),
        Just("|"),
        Just("#"),
        Just("é"),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// The valid file with a few bytes deleted, replaced or inserted.
fn edited_valid_file() -> impl Strategy<Value = String> {
    let edit = (0..VALID.len(), 0_usize..4, any::<char>());
    proptest::collection::vec(edit, 1..4).prop_map(|edits| {
        let mut text: Vec<char> = VALID.chars().collect();
        for (at, kind, c) in edits {
            if text.is_empty() {
                text.push(c);
                continue;
            }
            let at = at.min(text.len() - 1);
            match kind {
                0 => {
                    text.remove(at);
                }
                1 => text[at] = c,
                2 => text.insert(at, c),
                _ => text.truncate(at),
            }
        }
        text.into_iter().collect()
    })
}

#[test]
fn the_valid_file_used_below_is_accepted() {
    let herd = Herd::from_yaml_str(VALID, ORIGIN).expect("the example herd file loads");
    assert_eq!(herd.servers.len(), 3);
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_and_refusals_name_the_file(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn near_miss_herd_files_never_panic(text in token_soup()) {
        check(&text)?;
    }

    #[test]
    fn edited_herd_files_are_valid_herds_or_refused(text in edited_valid_file()) {
        check(&text)?;
    }
}
