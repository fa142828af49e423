//! `sim check-herds` as CI and the mutation script run it: the committed herd-file corpus
//! passes, a file the server treats against its header is a safety verdict (exit 1) naming
//! the file, what was expected and what happened, and a file without a sound header is the
//! harness refusing its own input (exit 4), never a verdict.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check_herds(paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("check-herds")
        .args(paths)
        .current_dir(workspace())
        .output()
        .expect("run sim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory holding `files` (name, text).
fn corpus(name: &str, files: &[(&str, &str)]) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("sim-check-herds-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    for (file, content) in files {
        std::fs::write(dir.join(file), content)?;
    }
    Ok(dir)
}

#[test]
fn the_committed_herd_corpus_passes() {
    let out = check_herds(&[Path::new("scenarios/herds")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for verdict in [
        "ok   herd_refused (safety)",
        "ok   herd_accepted (safety)",
        "ok   herd_written_back (safety)",
    ] {
        assert!(stdout.contains(verdict), "{verdict}\n{stdout}");
    }
    assert!(stdout.ends_with("result: PASS\n"), "{stdout}");
}

#[test]
fn a_herd_treated_against_its_header_is_a_safety_verdict_naming_the_file() -> std::io::Result<()> {
    let dir = corpus(
        "wrong",
        &[
            (
                "valid-but-refused.yaml",
                "# refused: used twice\nservers:\n  - { name: A, port: 1 }\n",
            ),
            (
                "invalid-but-accepted.yaml",
                "# accepted\nservers:\n  - { name: A, port: 1 }\n  - { name: A, port: 2 }\n",
            ),
            (
                "wrong-value.yaml",
                "# accepted\n# value: limits.whatsat_wait = 250ms\nservers:\n  - { name: A, port: 1 }\nlimits: { whatsat_wait: 0.2s }\n",
            ),
            (
                "wrong-text.yaml",
                "# refused: needs a unit\nservers:\n  - { name: A, port: 1 }\nlimits: { whatsat_wait: 5x }\n",
            ),
        ],
    )?;
    let out = check_herds(&[&dir]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let shown = |file: &str| dir.join(file).display().to_string();
    for line in [
        "FAIL herd_refused (safety): 2 of 2 herd files judged wrong".to_string(),
        format!(
            "{}: expected a refusal containing \"used twice\", got an accepted herd (1 server, 0 links)",
            shown("valid-but-refused.yaml")
        ),
        format!(
            "{}: expected a refusal containing \"needs a unit\", got \"{}: error: line 4 column 25: duration \\\"5x\\\": unit must be ms, s or m\"",
            shown("wrong-text.yaml"),
            shown("wrong-text.yaml")
        ),
        "FAIL herd_accepted (safety): 2 of 2 herd files judged wrong".to_string(),
        format!(
            "{}: expected accepted, got \"{}: server name A is used twice\"",
            shown("invalid-but-accepted.yaml"),
            shown("invalid-but-accepted.yaml")
        ),
        format!(
            "{}:2: expected limits.whatsat_wait = 250ms, got 200ms",
            shown("wrong-value.yaml")
        ),
        "result: FAIL (safety)".to_string(),
    ] {
        assert!(stdout.contains(&line), "{line}\n{stdout}");
    }
    std::fs::remove_dir_all(&dir)
}

#[test]
fn a_corpus_file_without_a_sound_header_is_the_harness_refusing_its_input() -> std::io::Result<()> {
    let dir = corpus(
        "headless",
        &[
            (
                "fine.yaml",
                "# accepted\nservers:\n  - { name: A, port: 1 }\n",
            ),
            ("headless.yaml", "servers:\n  - { name: A, port: 1 }\n"),
        ],
    )?;
    let out = check_herds(&[&dir]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:1: a herd corpus file starts with",
            dir.join("headless.yaml").display()
        )),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty(), "nothing is judged");
    let out = check_herds(&[&dir.join("no-such-dir")]);
    assert_eq!(out.status.code(), Some(4));
    std::fs::remove_dir_all(&dir)
}
