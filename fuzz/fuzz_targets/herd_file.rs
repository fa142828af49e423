//! Fuzz target: `Herd::from_yaml_str` on arbitrary text.
//!
//! Beyond "no panic": a refused file is refused with a message naming the file; an accepted
//! herd is one the server can run (valid, links symmetric, every neighbour a server of the
//! herd), and its limits survive being written back as YAML and read again (durations
//! included), which is how scenarios carry limit overrides.

#![no_main]

use libfuzzer_sys::fuzz_target;
use server::config::{Herd, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let herd = match Herd::from_yaml_str(text, "fuzz.yaml") {
        Ok(herd) => herd,
        Err(err) => {
            assert!(err.to_string().starts_with("fuzz.yaml: "), "{err}");
            return;
        }
    };
    assert_eq!(herd.validate(), Ok(()));
    assert!(herd.limits.line_bytes_max >= 256);
    for server in &herd.servers {
        for neighbour in herd.neighbours(&server.name) {
            assert_ne!(
                neighbour.name, server.name,
                "no server is its own neighbour"
            );
            assert!(herd.server(&neighbour.name).is_some());
            let back = herd.neighbours(&neighbour.name);
            let back = back.iter().find(|n| n.name == server.name);
            assert_eq!(
                back.map(|n| n.classic),
                Some(neighbour.classic),
                "links are symmetric"
            );
        }
    }

    let written = serde_saphyr::to_string(&herd.limits).expect("limits serialize");
    let read: Limits = serde_saphyr::from_str(&written)
        .unwrap_or_else(|e| panic!("limits written as {written:?} do not read back: {e}"));
    assert_eq!(read, herd.limits, "limits round trip through {written:?}");
});
