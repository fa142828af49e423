//! `sim check-herds`: the herd files an operator may hand the server, judged through the
//! server's own loader. Scenarios only ever give the server valid herds, so a `Herd::validate`
//! that let a bad herd through, or a duration parser or writer that got a value wrong, would
//! change no run the checkers see; this corpus makes those mistakes verdicts.
//!
//! Every file under the given paths starts with `# refused: TEXT` (loading must fail, the error
//! naming the file and containing TEXT) or `# accepted` (loading must succeed, each `# value:
//! limits.NAME = VALUE` line holding). Exit 1 when the server does otherwise, 3 when its code
//! panics on a file; exit 4 when a file has no sound header, which is the harness's input gone
//! wrong, not the server.

mod corpus;
mod judge;
mod made;
mod values;

use std::path::PathBuf;

use crate::outcome::exit;

pub use corpus::{CorpusError, CorpusFile, Expected};
pub use judge::{Judged, Verdict, judge};
pub use made::{
    AT_LINE_BESIDES_ID_BYTES, Bound, LINE_BYTES_LEAST, LOG_FILE_BYTES_LEAST, MadeFault, bounds_at,
    judge_made, short_by_micros,
};

/// Reads the corpus under `paths`: every file with its expectation, or every file that has
/// none the harness can read.
pub fn read_corpus(paths: &[PathBuf]) -> Result<Vec<CorpusFile>, Vec<CorpusError>> {
    let files = corpus::files(paths).map_err(|e| vec![e])?;
    let (good, bad): (Vec<_>, Vec<_>) = files
        .iter()
        .map(|path| corpus::read(path))
        .partition(Result::is_ok);
    if bad.is_empty() {
        Ok(good.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(bad.into_iter().filter_map(Result::err).collect())
    }
}

/// The report: a title, each file with `-v`, the verdicts and the result line.
pub fn report(paths: &[PathBuf], corpus: &[CorpusFile], judged: &Judged, verbose: bool) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut out = format!(
        "== herd files: {} under {}\n",
        corpus.len(),
        shown.join(", ")
    );
    if verbose {
        out.push_str("-- files\n");
        for line in &judged.files {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str("-- verdicts\n");
    for crash in &judged.crashes {
        out.push_str(&format!("  FAIL system under test: {crash}\n"));
    }
    for verdict in &judged.verdicts {
        out.push_str(&format!("  {verdict}\n"));
    }
    out.push_str(match exit_code(judged) {
        exit::SUT_FAILURE => "result: FAIL (system under test crashed)\n",
        exit::SAFETY => "result: FAIL (safety)\n",
        _ => "result: PASS\n",
    });
    out
}

/// The exit code: 3 when the server's code panicked, else 1 when a verdict failed, else 4 when
/// the harness could not use a file, else 0.
pub fn exit_code(judged: &Judged) -> u8 {
    let verdicts = if !judged.crashes.is_empty() {
        exit::SUT_FAILURE
    } else if judged.verdicts.iter().all(|v| v.ok) {
        exit::OK
    } else {
        exit::SAFETY
    };
    let input = if judged.unusable.is_empty() {
        exit::OK
    } else {
        exit::BAD_SCENARIO
    };
    exit::worse(verdicts, input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(crashed: bool, failed: bool, unusable: bool) -> Judged {
        Judged {
            verdicts: vec![Verdict {
                name: "herd_refused",
                ok: !failed,
                metric: String::new(),
                details: Vec::new(),
            }],
            crashes: crashed
                .then(|| "f.yaml: panicked".to_string())
                .into_iter()
                .collect(),
            unusable: unusable
                .then(|| "g.yaml: places".to_string())
                .into_iter()
                .collect(),
            files: Vec::new(),
        }
    }

    #[test]
    fn a_crash_outranks_a_verdict_which_outranks_unusable_input() {
        assert_eq!(exit_code(&judged(false, false, false)), exit::OK);
        assert_eq!(exit_code(&judged(false, false, true)), exit::BAD_SCENARIO);
        assert_eq!(exit_code(&judged(false, true, true)), exit::SAFETY);
        assert_eq!(exit_code(&judged(true, true, true)), exit::SUT_FAILURE);
        let report = report(&[], &[], &judged(true, true, false), false);
        assert!(
            report.contains("  FAIL system under test: f.yaml: panicked\n"),
            "{report}"
        );
        assert!(
            report.ends_with("result: FAIL (system under test crashed)\n"),
            "{report}"
        );
    }
}
