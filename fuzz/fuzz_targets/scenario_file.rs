//! Fuzz target: `Scenario::from_yaml_str` on arbitrary text, and the writer that turns a
//! scenario back into a file.
//!
//! Beyond "no panic": a refused file is refused with a message that starts with its path (and
//! line and column where known); an accepted scenario, written with `to_yaml` (what swarm and
//! shrink do before replaying), loads again and writes the very same text.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sim::scenario::Scenario;

/// A file name inside `scenarios/`, so `herd: { file: herds/classic.yaml }` resolves as it
/// does for the real scenarios.
static ORIGIN: LazyLock<PathBuf> = LazyLock::new(|| {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/fuzz-input.yaml")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A herd file path is read from disk: keep the fuzzer away from devices that never end.
    if ["dev", "proc", "sys", "fd"]
        .iter()
        .any(|d| text.contains(d))
    {
        return;
    }
    let origin = ORIGIN.as_path();
    let scenario = match Scenario::from_yaml_str(text, origin) {
        Ok(scenario) => scenario,
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.starts_with(&origin.display().to_string()),
                "{message}"
            );
            return;
        }
    };
    let written = scenario.to_yaml(&[]);
    let again = Scenario::from_yaml_str(&written, origin)
        .unwrap_or_else(|e| panic!("written scenario does not load: {e}\n{written}"));
    assert_eq!(again.to_yaml(&[]), written, "writing is stable");
});
