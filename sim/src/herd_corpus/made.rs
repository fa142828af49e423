//! Herds the harness makes itself (`sim explore`'s children set limits at their documented
//! bounds), judged as corpus files would be: the server's loader must take the herd's file
//! and read every limit back as the harness set it, and where the herd sits at a documented
//! bound, refuse the same herd one step past it. A failure comes with the file that shows it,
//! which `sim check-herds` replays.

use std::fmt::Write;
use std::time::Duration;

use server::config::{Herd, Limits};

use super::judge::guarded;
use super::values::{LIMIT_NAMES, LimitValue, limit};
use crate::scenario::herd_yaml;

/// The most an `AT` line holds besides its client id, as `docs/running.md` gives it: `AT `, a
/// longest server name (64 bytes), four spaces, and the time difference, location and
/// timestamp budgets (32, 64 and 32 bytes). Counted in
/// `scenarios/herds/accepted/client-id-at-bound.yaml`, not read from `server::config`.
pub const AT_LINE_BESIDES_ID_BYTES: usize = 3 + 64 + 4 + 32 + 64 + 32;
/// The least `line_bytes_max` a herd may give.
pub const LINE_BYTES_LEAST: usize = 256;
/// The least `log_file_bytes_max` a herd may give (`docs/operating.md`).
pub const LOG_FILE_BYTES_LEAST: usize = 4096;

/// The name a made herd's file is loaded under, in the server's messages.
const ORIGIN: &str = "explore-herd.yaml";

/// A documented bound a herd sits at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// What it is, as a feature names it: `id_at_line_bound`, `line_least`, `log_file_least`.
    pub name: &'static str,
    /// The limit a refusal of the herd one step past it must name.
    pub limit: &'static str,
    /// The herd's limits one step past the bound (every other rule still kept).
    pub past: Limits,
}

/// The documented bounds `limits` sits at.
pub fn bounds_at(limits: &Limits) -> Vec<Bound> {
    let mut out = Vec::new();
    if limits.client_id_bytes_max + AT_LINE_BESIDES_ID_BYTES == limits.line_bytes_max {
        out.push(Bound {
            name: "id_at_line_bound",
            limit: "client_id_bytes_max",
            past: Limits {
                client_id_bytes_max: limits.client_id_bytes_max + 1,
                ..limits.clone()
            },
        });
    }
    if limits.line_bytes_max == LINE_BYTES_LEAST {
        out.push(Bound {
            name: "line_least",
            limit: "line_bytes_max",
            past: Limits {
                line_bytes_max: LINE_BYTES_LEAST - 1,
                client_id_bytes_max: limits
                    .client_id_bytes_max
                    .min(LINE_BYTES_LEAST - 1 - AT_LINE_BESIDES_ID_BYTES),
                ..limits.clone()
            },
        });
    }
    if limits.log_file_bytes_max == LOG_FILE_BYTES_LEAST {
        out.push(Bound {
            name: "log_file_least",
            limit: "log_file_bytes_max",
            past: Limits {
                log_file_bytes_max: LOG_FILE_BYTES_LEAST - 1,
                ..limits.clone()
            },
        });
    }
    out
}

/// What the server did wrong with a made herd: the `sim check-herds` verdict its file fails
/// there (`herd_accepted`, `herd_written_back` or `herd_refused`), why, and that file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeFault {
    pub verdict: &'static str,
    pub why: String,
    pub file: String,
}

/// Judges a made herd: its file loaded by the server's own loader, as `server --herd` would,
/// must be taken with every limit as made, both as the harness writes it (`herd_accepted`) and
/// as the server's own writer writes it (`herd_written_back`: `sim shrink` and the corpus
/// write herds so); at each documented bound it sits at, the herd one step past must be
/// refused, the error naming the limit (`herd_refused`). A panic of the server's code is
/// caught and said as a fault too.
pub fn judge_made(herd: &Herd) -> Option<MadeFault> {
    let taken = |text: String, verdict| {
        let why = taken_as_made(herd, &text)?;
        Some(MadeFault {
            verdict,
            file: accepted_file(herd, &why),
            why,
        })
    };
    if let Some(fault) = taken(harness_yaml(herd), "herd_accepted") {
        return Some(fault);
    }
    if let Some(fault) = taken(herd_yaml(herd), "herd_written_back") {
        return Some(fault);
    }
    bounds_at(&herd.limits).into_iter().find_map(|bound| {
        let past = Herd {
            limits: bound.past,
            ..herd.clone()
        };
        let why = match load(&harness_yaml(&past)) {
            Err(message) if message.contains(bound.limit) => return None,
            Err(message) => format!(
                "a herd one step past the {} bound was refused for another reason: {message}",
                bound.name
            ),
            Ok(_) => format!(
                "a herd one step past the {} bound ({} = {}) was accepted",
                bound.name,
                bound.limit,
                limit(&past.limits, bound.limit).map_or(String::new(), claim_text)
            ),
        };
        let mut file = format!("# refused: {}\n", bound.limit);
        for line in why.lines() {
            let _ = writeln!(file, "# {line}");
        }
        file.push_str(&harness_yaml(&past));
        Some(MadeFault {
            verdict: "herd_refused",
            why,
            file,
        })
    })
}

/// Why the server's loader did not take `text`, `herd`'s file, with every limit as made, if
/// it did not.
fn taken_as_made(herd: &Herd, text: &str) -> Option<String> {
    let read = match load(text) {
        Ok(read) => read,
        Err(message) => {
            return Some(format!(
                "a herd within the documented rules was refused: {message}"
            ));
        }
    };
    let wrong: Vec<String> = LIMIT_NAMES
        .iter()
        .filter_map(|name| {
            let (made, got) = (limit(&herd.limits, name)?, limit(&read.limits, name)?);
            (made != got).then(|| format!("limits.{name} made {made}, read back as {got}"))
        })
        .collect();
    (!wrong.is_empty()).then(|| format!("the herd file reads back wrong: {}", wrong.join("; ")))
}

/// A herd file's text loaded by the server's loader; a refusal (or a panic) as its first line.
fn load(text: &str) -> Result<Herd, String> {
    match guarded(|| Herd::from_yaml_str(text, ORIGIN)) {
        Ok(Ok(read)) => Ok(read),
        Ok(Err(e)) => {
            let message = e.to_string();
            Err(message.lines().next().unwrap_or_default().to_string())
        }
        Err(panic) => Err(format!("loading the herd panicked: {panic}")),
    }
}

/// `herd`'s file with every duration written by the harness, in seconds with nine decimals
/// (`0.499015000s`), not by the server's writer: a file whose text does not depend on the
/// code it judges, so a writer that gets a value wrong fails it on `sim check-herds`' write-back
/// and passes it once fixed.
fn harness_yaml(herd: &Herd) -> String {
    let text = herd_yaml(herd);
    let Ok(serde_json::Value::Object(mut json)) = serde_json::to_value(&herd.limits) else {
        return text;
    };
    for name in LIMIT_NAMES {
        if let Some(LimitValue::Duration(d)) = limit(&herd.limits, name) {
            let seconds = format!("{}.{:09}s", d.as_secs(), d.subsec_nanos());
            json.insert(name.to_string(), serde_json::Value::String(seconds));
        }
    }
    let limits = serde_json::Value::Object(json);
    text.lines()
        .map(|line| match line.starts_with("limits: ") {
            true => format!("limits: {limits}\n"),
            false => format!("{line}\n"),
        })
        .collect()
}

/// `herd` as an `# accepted` corpus file: the header, `why` as comment lines, one `# value:`
/// claim per limit that differs from the default (written by the harness: counts in digits,
/// durations in whole nanoseconds), then the herd file as [`harness_yaml`] writes it.
fn accepted_file(herd: &Herd, why: &str) -> String {
    let mut out = String::from("# accepted\n");
    for line in why.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let defaults = Limits::default();
    for name in LIMIT_NAMES {
        let (Some(value), default) = (limit(&herd.limits, name), limit(&defaults, name)) else {
            continue;
        };
        if Some(value) != default {
            let _ = writeln!(out, "# value: limits.{name} = {}", claim_text(value));
        }
    }
    out.push_str(&harness_yaml(herd));
    out
}

/// A value as a `# value:` line writes it: `4096`, `999500000ns`.
fn claim_text(value: LimitValue) -> String {
    match value {
        LimitValue::Count(n) => n.to_string(),
        LimitValue::Duration(d) => format!("{}ns", d.as_nanos()),
    }
}

/// A duration `micros` microseconds short of `d` (at least 1 µs): a value only a herd file
/// that keeps microseconds can hold.
pub fn short_by_micros(d: Duration, micros: u64) -> Duration {
    d.saturating_sub(Duration::from_micros(micros))
        .max(Duration::from_micros(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::herd_corpus::corpus;

    /// `text` judged by `sim check-herds` (written to a file of its own).
    fn check_herds(text: &str, name: &str) -> super::super::Judged {
        let dir = std::env::temp_dir().join(format!("sim-made-herd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let file = corpus::read(&path).unwrap();
        let judged = super::super::judge(&[file]);
        let _ = std::fs::remove_file(&path);
        judged
    }

    #[test]
    fn a_herd_at_the_documented_bounds_is_taken_and_one_step_past_each_is_refused() {
        let mut herd = Herd::default_herd();
        herd.limits.log_file_bytes_max = LOG_FILE_BYTES_LEAST;
        herd.limits.backoff_min = short_by_micros(herd.limits.backoff_min, 500);
        herd.limits.line_bytes_max = LINE_BYTES_LEAST;
        herd.limits.client_id_bytes_max = LINE_BYTES_LEAST - 199;
        let names: Vec<&str> = bounds_at(&herd.limits).iter().map(|b| b.name).collect();
        assert_eq!(names, ["id_at_line_bound", "line_least", "log_file_least"]);
        assert_eq!(judge_made(&herd), None);
        let text = accepted_file(&herd, "made by a test");
        assert!(
            text.contains("# value: limits.backoff_min = 99500000ns"),
            "{text}"
        );
        // The body's durations are the harness's own text, not the server's writer's.
        assert!(text.contains(r#""backoff_min":"0.099500000s""#), "{text}");
        let judged = check_herds(&text, "made.yaml");
        assert!(
            judged.verdicts.iter().all(|v| v.ok),
            "{:?}",
            judged.verdicts
        );
        assert!(judged.crashes.is_empty());
    }

    #[test]
    fn a_herd_past_a_rule_is_said_refused_with_a_file_check_herds_fails_on() {
        let mut herd = Herd::default_herd();
        herd.limits.client_id_bytes_max = herd.limits.line_bytes_max - 198;
        let fault = judge_made(&herd).expect("one byte past the id bound");
        assert_eq!(fault.verdict, "herd_accepted");
        assert!(fault.why.contains("client_id_bytes_max"), "{}", fault.why);
        let judged = check_herds(&fault.file, "refused.yaml");
        let failed: Vec<&str> = judged
            .verdicts
            .iter()
            .filter(|v| !v.ok)
            .map(|v| v.name)
            .collect();
        assert_eq!(failed, ["herd_accepted"]);
    }
}
