//! The verdicts on a herd-file corpus, each file loaded by the server's own `Herd::load` (what
//! the `server` binary does with `--herd`): refused files refused with their mistake named,
//! accepted files accepted with the values they spell, accepted herds written back as `sim
//! shrink` and `swarm --emit` write inline herds and read back equal.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use server::config::{ConfigError, Herd};

use super::corpus::{CorpusFile, Expected};
use super::values::{LIMIT_NAMES, LimitValue, ValueClaim, limit};
use crate::checker_name::FailureClass;
use crate::scenario::Scenario;

/// One verdict, printed as the checkers' verdicts are (`ok   NAME (safety): ...`, details
/// indented below), so a reader and a script read both the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub name: &'static str,
    pub ok: bool,
    pub metric: String,
    /// One line per failure: which file, what was expected, what happened.
    pub details: Vec<String>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.ok { "ok  " } else { "FAIL" };
        write!(
            f,
            "{status} {} ({}): {}",
            self.name,
            FailureClass::Safety,
            self.metric
        )?;
        for detail in &self.details {
            write!(f, "\n     {detail}")?;
        }
        Ok(())
    }
}

/// A corpus judged.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// `herd_refused`, `herd_accepted`, `herd_written_back`, in that order.
    pub verdicts: Vec<Verdict>,
    /// The server's code panicked on a file (loading it, or writing it back): the system under
    /// test crashed, which outranks every verdict.
    pub crashes: Vec<String>,
    /// Accepted herds the harness cannot put into a scenario (a server named like one of its
    /// own hosts): its input's fault, not the server's, so no verdict.
    pub unusable: Vec<String>,
    /// What became of each file, in corpus order (`sim check-herds -v`).
    pub files: Vec<String>,
}

/// One verdict's judgements: how many files it judged, how many it found wrong, and why.
#[derive(Default)]
struct Tally {
    judged: usize,
    wrong: usize,
    details: Vec<String>,
}

impl Tally {
    /// One file judged; `failures` says what is wrong with it, if anything.
    fn record(&mut self, failures: impl IntoIterator<Item = String>) {
        let before = self.details.len();
        self.details.extend(failures);
        self.judged += 1;
        if self.details.len() > before {
            self.wrong += 1;
        }
    }

    /// `passed` says what held, with the count; a failure says how many files broke it.
    fn verdict(self, name: &'static str, passed: String) -> Verdict {
        let ok = self.details.is_empty();
        let metric = if ok {
            passed
        } else {
            format!("{} of {} herd files judged wrong", self.wrong, self.judged)
        };
        Verdict {
            name,
            ok,
            metric,
            details: self.details,
        }
    }
}

/// The three verdicts' tallies while the corpus is read.
#[derive(Default)]
struct Tallies {
    refused: Tally,
    accepted: Tally,
    /// `# value:` claims checked.
    values: usize,
    written: Tally,
}

/// Loads every file of `corpus` and judges it.
pub fn judge(corpus: &[CorpusFile]) -> Judged {
    let mut tallies = Tallies::default();
    let mut judged = Judged::default();
    for file in corpus {
        let shown = file.path.display().to_string();
        let loaded = match guarded(|| Herd::load(&file.path)) {
            Ok(loaded) => loaded,
            Err(panic) => {
                judged
                    .crashes
                    .push(format!("{shown}: Herd::load panicked: {panic}"));
                judged.files.push(format!("PANICKED  {shown}"));
                continue;
            }
        };
        let line = match (&file.expected, loaded) {
            (Expected::Refused { text }, loaded) => {
                let (line, failure) = judge_refused(&shown, text, loaded);
                tallies.refused.record(failure);
                line
            }
            (Expected::Accepted { .. }, Err(err)) => {
                let message = err.to_string();
                let first = first_line(&message);
                tallies
                    .accepted
                    .record(Some(format!("{shown}: expected accepted, got {first:?}")));
                format!("REFUSED   {shown}: {first}")
            }
            (Expected::Accepted { values }, Ok(herd)) => {
                tallies.values += values.len();
                tallies.accepted.record(wrong_values(&shown, values, &herd));
                match guarded(|| write_back(&file.path, &herd)) {
                    Ok(Ok(failure)) => tallies.written.record(failure),
                    Ok(Err(message)) => judged.unusable.push(format!("{shown}: {message}")),
                    Err(panic) => judged.crashes.push(format!(
                        "{shown}: writing the herd back and reading it again panicked: {panic}"
                    )),
                }
                format!("accepted  {shown}")
            }
        };
        judged.files.push(line);
    }
    judged.verdicts = tallies.verdicts();
    judged
}

impl Tallies {
    fn verdicts(self) -> Vec<Verdict> {
        let refused_metric = format!(
            "{} herd files refused, each error naming its file and its mistake",
            self.refused.judged
        );
        let accepted_metric = format!(
            "{} herd files accepted, {} limit values as written",
            self.accepted.judged, self.values
        );
        let written_metric = format!(
            "{} accepted herds written back as an inline herd read back equal",
            self.written.judged
        );
        vec![
            self.refused.verdict("herd_refused", refused_metric),
            self.accepted.verdict("herd_accepted", accepted_metric),
            self.written.verdict("herd_written_back", written_metric),
        ]
    }
}

/// A file that must be refused with `text`: the `-v` line, and what is wrong, if anything.
/// The text must be in the error's first line apart from the file's name (so a header cannot
/// match its own file name), and the file's name must be there too.
fn judge_refused(
    shown: &str,
    text: &str,
    loaded: Result<Herd, ConfigError>,
) -> (String, Option<String>) {
    let err = match loaded {
        Ok(herd) => {
            let failure = format!(
                "{shown}: expected a refusal containing {text:?}, got an accepted herd ({}, {})",
                count(herd.servers.len(), "server"),
                count(herd.links.len(), "link")
            );
            return (format!("ACCEPTED  {shown}"), Some(failure));
        }
        Err(err) => err,
    };
    let message = err.to_string();
    let first = first_line(&message);
    let failure = if !first.replace(shown, "").contains(text) {
        Some(format!(
            "{shown}: expected a refusal containing {text:?}, got {first:?}"
        ))
    } else if !first.contains(shown) {
        Some(format!(
            "{shown}: expected a refusal naming the file, got {first:?}"
        ))
    } else {
        None
    };
    (format!("refused   {shown}: {first}"), failure)
}

/// The `# value:` claims `herd` does not hold, one line each, with the claim's line number.
fn wrong_values(shown: &str, claims: &[(usize, ValueClaim)], herd: &Herd) -> Vec<String> {
    claims
        .iter()
        .filter_map(|(line, claim)| {
            let got = limit(&herd.limits, claim.name)?;
            (got != claim.want).then(|| {
                format!(
                    "{shown}:{line}: expected limits.{} = {}, got {got}",
                    claim.name, claim.want
                )
            })
        })
        .collect()
}

/// Runs the server's code on one file. A panic is caught so that it is reported as the system
/// under test crashing (exit 3), not as `sim` itself dying with an exit code no script reads
/// as a verdict.
pub(super) fn guarded<T>(run: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(run)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// `1 server`, `2 servers`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// An error's first line: the file, the place and the mistake. A YAML error goes on to quote
/// the file around the place, and a header's own text there must not count as the error's.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

/// The scenario an accepted herd is written into: no steps, so the herd is all it holds.
const CARRIER: &str = "name: a herd file written back\nseed: 0\nduration: 10s\n";

/// Writes `herd` into a scenario as `sim shrink` and `swarm --emit` write one (an inline herd,
/// `Scenario::to_yaml`), reads that text back as a scenario and compares the herds. `Ok(None)`
/// when they are equal, `Ok(Some(why))` when not; `Err` when the harness cannot carry the
/// herd at all. `tls_dir` is left out on both sides: a scenario names no certificates. A
/// scenario keeps `data_dir` (its disk faults need one), so it must read back as it was.
fn write_back(path: &Path, herd: &Herd) -> Result<Option<String>, String> {
    let shown = path.display();
    let carrier = Scenario::from_yaml_str(CARRIER, path).map_err(|e| e.to_string())?;
    let scenario = carrier
        .with_herd(herd.clone(), path)
        .map_err(|e| format!("the harness cannot put this herd into a scenario: {e}"))?;
    let text = scenario.to_yaml(&[]);
    let written = text
        .lines()
        .find(|line| line.starts_with("  limits: "))
        .map(|line| format!("; written as `{}`", line.trim()))
        .unwrap_or_default();
    let reread = match Scenario::from_yaml_str(&text, path) {
        Ok(scenario) => scenario.herd,
        Err(e) => {
            return Ok(Some(format!(
                "{shown}: written back as an inline herd, it does not read again: {e}{written}"
            )));
        }
    };
    let expected = Herd {
        secret_file: None,
        tls_dir: None,
        metrics_off: false,
        ..herd.clone()
    };
    if reread == expected {
        return Ok(None);
    }
    Ok(Some(format!(
        "{shown}: written back as an inline herd, it reads back different: {}{written}",
        differences(&expected, &reread).join("; ")
    )))
}

/// What differs between two herds, field by field.
fn differences(was: &Herd, now: &Herd) -> Vec<String> {
    let mut out = Vec::new();
    if was.servers != now.servers {
        out.push(format!(
            "servers {:?} read back as {:?}",
            was.servers, now.servers
        ));
    }
    if was.links != now.links {
        out.push(format!(
            "links {:?} read back as {:?}",
            was.links, now.links
        ));
    }
    for name in LIMIT_NAMES {
        let (a, b) = (limit(&was.limits, name), limit(&now.limits, name));
        if a != b {
            let show = |v: Option<LimitValue>| v.map(|v| v.to_string());
            out.push(format!(
                "limits.{name} {} read back as {}",
                show(a).unwrap_or_default(),
                show(b).unwrap_or_default()
            ));
        }
    }
    if out.is_empty() {
        out.push(format!("{was:?} read back as {now:?}"));
    }
    out
}
