//! The `tamper` step: an attacker on the path of a live link between two servers that injects
//! bytes, replays bytes it saw earlier, or alters the bytes in flight, on one direction.

use serde::Deserialize;
use server::config::Herd;

/// The most bytes one `inject` carries.
pub const TAMPER_INJECT_BYTES_MAX: usize = 64 * 1024;
/// The most bytes one `replay` sends again; also how many bytes of each tampered direction the
/// attacker remembers.
pub const TAMPER_REPLAY_BYTES_MAX: usize = 64 * 1024;
/// The most bytes one `alter` changes.
pub const TAMPER_ALTER_BYTES_MAX: usize = 64;

/// `tamper: { from, to, inject | replay | alter }`: what the attacker does to the bytes `from`
/// sends `to` on their link, once, at the next chunk `from` writes after the step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "TamperFile")]
pub struct Tamper {
    pub from: String,
    pub to: String,
    pub mode: TamperMode,
}

/// What the attacker does to one direction of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TamperMode {
    /// These bytes, sent before the next chunk as if `from` had sent them.
    Inject(Vec<u8>),
    /// The last this many bytes `from` sent `to` (as many as it saw, if fewer), sent again
    /// before the next chunk.
    Replay(usize),
    /// The next chunk with one bit flipped (the lowest) in each of the last this many bytes
    /// of its first line (before its first newline).
    Alter(usize),
}

impl TamperMode {
    /// The mode's key in the YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            TamperMode::Inject(_) => "inject",
            TamperMode::Replay(_) => "replay",
            TamperMode::Alter(_) => "alter",
        }
    }

    /// The mode as the trace and descriptions say it: `inject 42 bytes`, `replay 100 bytes`.
    pub fn describe(&self) -> String {
        match self {
            TamperMode::Inject(bytes) => format!("inject {} bytes", bytes.len()),
            TamperMode::Replay(n) => format!("replay {n} bytes"),
            TamperMode::Alter(n) => format!("alter {n} bytes"),
        }
    }
}

/// A `tamper` step as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TamperFile {
    from: String,
    to: String,
    #[serde(default)]
    inject: Option<String>,
    #[serde(default)]
    replay: Option<usize>,
    #[serde(default)]
    alter: Option<usize>,
}

impl TryFrom<TamperFile> for Tamper {
    type Error = String;

    fn try_from(file: TamperFile) -> Result<Tamper, String> {
        let mode = match (file.inject, file.replay, file.alter) {
            (Some(text), None, None) => {
                if text.is_empty() || text.len() > TAMPER_INJECT_BYTES_MAX {
                    return Err(format!(
                        "`tamper.inject` must hold 1 to {TAMPER_INJECT_BYTES_MAX} bytes, found {}",
                        text.len()
                    ));
                }
                TamperMode::Inject(text.into_bytes())
            }
            (None, Some(n), None) => {
                if n == 0 || n > TAMPER_REPLAY_BYTES_MAX {
                    return Err(format!(
                        "`tamper.replay` is a byte count from 1 to {TAMPER_REPLAY_BYTES_MAX}, found {n}"
                    ));
                }
                TamperMode::Replay(n)
            }
            (None, None, Some(n)) => {
                if n == 0 || n > TAMPER_ALTER_BYTES_MAX {
                    return Err(format!(
                        "`tamper.alter` is a byte count from 1 to {TAMPER_ALTER_BYTES_MAX}, found {n}"
                    ));
                }
                TamperMode::Alter(n)
            }
            _ => {
                return Err("`tamper` needs exactly one of `inject`, `replay` or `alter`".into());
            }
        };
        Ok(Tamper {
            from: file.from,
            to: file.to,
            mode,
        })
    }
}

/// `from` and `to` are two servers of the herd with a link between them.
pub(super) fn check_tamper(t: &Tamper, herd: &Herd) -> Result<(), String> {
    for name in [&t.from, &t.to] {
        if herd.server(name).is_none() {
            return Err(format!("`tamper`: `{name}` is not a server of the herd"));
        }
    }
    if t.from == t.to {
        return Err(format!(
            "`tamper` is on a link between two servers; `from` and `to` are both `{}`",
            t.from
        ));
    }
    if !herd.neighbours(&t.from).iter().any(|n| n.name == t.to) {
        return Err(format!(
            "`tamper`: {} and {} share no link in the herd, so there is nothing to tamper with",
            t.from, t.to
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Action, Scenario};
    use super::{Tamper, TamperMode};

    fn parse(step: &str) -> Result<Scenario, String> {
        let text = format!("name: t\nseed: 1\nduration: 20s\nsteps:\n  - {{ at: 1s, {step} }}\n");
        Scenario::from_yaml_str(&text, "scenarios/test.yaml").map_err(|e| e.to_string())
    }

    fn error(step: &str) -> String {
        parse(step)
            .err()
            .unwrap_or_else(|| "parsed without error".into())
    }

    #[test]
    fn each_mode_parses_and_writes_back() -> Result<(), String> {
        let cases = [
            (
                r#"tamper: { from: Bailey, to: Bona, inject: "AT x\n" }"#,
                TamperMode::Inject(b"AT x\n".to_vec()),
            ),
            (
                "tamper: { from: Bona, to: Bailey, replay: 400 }",
                TamperMode::Replay(400),
            ),
            (
                "tamper: { from: Bailey, to: Bona, alter: 2 }",
                TamperMode::Alter(2),
            ),
        ];
        for (step, mode) in cases {
            let scenario = parse(step)?;
            let Action::Tamper(Tamper { mode: got, .. }) = &scenario.steps[0].action else {
                return Err(format!("{step}: not a tamper step"));
            };
            assert_eq!(got, &mode);
            let again = Scenario::from_yaml_str(&scenario.to_yaml(&[]), "again.yaml")
                .map_err(|e| e.to_string())?;
            assert_eq!(again.steps[0].action, scenario.steps[0].action);
        }
        Ok(())
    }

    #[test]
    fn a_tamper_needs_one_mode_in_bounds_on_a_link_of_the_herd() {
        let cases = [
            (
                "tamper: { from: Bailey, to: Bona }",
                "exactly one of `inject`, `replay` or `alter`",
            ),
            (
                "tamper: { from: Bailey, to: Bona, replay: 3, alter: 1 }",
                "exactly one of",
            ),
            (
                "tamper: { from: Bailey, to: Bona, replay: 0 }",
                "from 1 to 65536",
            ),
            (
                "tamper: { from: Bailey, to: Bona, alter: 65 }",
                "from 1 to 64",
            ),
            (
                r#"tamper: { from: Bailey, to: Bona, inject: "" }"#,
                "1 to 65536 bytes",
            ),
            (
                "tamper: { from: Bailey, to: Bona, flip: 1 }",
                "unknown field `flip`",
            ),
            (
                "tamper: { from: Bailey, to: Nobody, alter: 1 }",
                "`Nobody` is not a server",
            ),
            ("tamper: { from: Bona, to: Bona, alter: 1 }", "both `Bona`"),
            (
                "tamper: { from: Bailey, to: Clark, alter: 1 }",
                "share no link",
            ),
        ];
        for (step, want) in cases {
            let e = error(step);
            assert!(e.contains(want), "{step}: {e}");
        }
    }
}
