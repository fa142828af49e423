//! The herd-file corpus on disk: which files it holds and what each one's header says the
//! server must do with it. A file without a readable header is the harness's own input gone
//! wrong, never a verdict on the server.

use std::fmt;
use std::path::{Path, PathBuf};

use super::values::{ValueClaim, parse_claim};

/// What the server must do with one herd file, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `# refused: TEXT`: `Herd::load` must fail with an error containing TEXT.
    Refused { text: String },
    /// `# accepted`: `Herd::load` must succeed, with every `# value:` claim holding.
    Accepted { values: Vec<(usize, ValueClaim)> },
}

/// One corpus file and its expectation.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    pub path: PathBuf,
    pub expected: Expected,
}

/// A corpus file (or path) the harness cannot use, with the line at fault (0: the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

const REFUSED: &str = "# refused:";
const ACCEPTED: &str = "# accepted";
const VALUE: &str = "# value:";

/// The `.yaml` files under `paths`: a file as given, a directory walked to any depth; sorted
/// by path within each directory so the report's order never depends on the file system.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CorpusError> {
    let mut found = Vec::new();
    for path in paths {
        let error = |message: String| CorpusError {
            path: path.clone(),
            line: 0,
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| error(format!("cannot read: {e}")))?;
        if meta.is_dir() {
            walk(path, &mut found).map_err(|e| error(format!("cannot list: {e}")))?;
        } else {
            found.push(path.clone());
        }
    }
    if found.is_empty() {
        return Err(CorpusError {
            path: paths.first().cloned().unwrap_or_default(),
            line: 0,
            message: "no herd files (*.yaml) found".into(),
        });
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<PathBuf>>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|x| x == "yaml") {
            found.push(path);
        }
    }
    Ok(())
}

/// Reads `path`'s header: its first line must be `# refused: TEXT` (TEXT not empty) or
/// `# accepted`; `# value: limits.NAME = VALUE` lines may follow anywhere in an accepted file.
pub fn read(path: &Path) -> Result<CorpusFile, CorpusError> {
    let error = |line: usize, message: String| CorpusError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(0, format!("cannot read: {e}")))?;
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    let first = lines.next().map(|(_, line)| line.trim_end()).unwrap_or("");
    let mut expected = if let Some(rest) = first.strip_prefix(REFUSED) {
        let text = rest.trim();
        if text.is_empty() {
            return Err(error(
                1,
                "`# refused:` needs the text the error must contain".into(),
            ));
        }
        Expected::Refused { text: text.into() }
    } else if first == ACCEPTED {
        Expected::Accepted { values: Vec::new() }
    } else {
        return Err(error(
            1,
            format!(
                "a herd corpus file starts with `{REFUSED} TEXT` or `{ACCEPTED}`, found {first:?}"
            ),
        ));
    };
    for (number, line) in lines {
        let line = line.trim_end();
        if line.starts_with(REFUSED) || line == ACCEPTED {
            return Err(error(
                number,
                "a second verdict header; only the first line holds one".into(),
            ));
        }
        let Some(claim) = line.strip_prefix(VALUE) else {
            continue;
        };
        let Expected::Accepted { values } = &mut expected else {
            return Err(error(
                number,
                "`# value:` lines belong to accepted files only".into(),
            ));
        };
        values.push((number, parse_claim(claim).map_err(|m| error(number, m))?));
    }
    Ok(CorpusFile {
        path: path.to_path_buf(),
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::herd_corpus::values::LimitValue;

    /// Writes `text` to a file of its own (tests run in parallel) and reads its header.
    fn header_of(text: &str) -> Result<Expected, String> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sim-herd-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{n}.yaml"));
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        let read = read(&path).map(|f| f.expected).map_err(|e| {
            assert!(e.to_string().starts_with(&path.display().to_string()));
            format!("{}: {}", e.line, e.message)
        });
        let _ = std::fs::remove_file(&path);
        read
    }

    #[test]
    fn headers_say_refused_with_a_text_or_accepted_with_values() {
        assert_eq!(
            header_of("# refused: used twice\nservers: []\n"),
            Ok(Expected::Refused {
                text: "used twice".into()
            })
        );
        let accepted = header_of("# accepted\n# why\n# value: limits.link_batch_max = 8\n");
        let Ok(Expected::Accepted { values }) = accepted else {
            panic!("{accepted:?}");
        };
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].0, 3);
        assert_eq!(values[0].1.want, LimitValue::Count(8));
    }

    #[test]
    fn a_file_without_a_sound_header_is_refused_with_its_line() {
        for (text, line) in [
            ("servers: []\n", 1),
            ("", 1),
            ("# refused:\n", 1),
            ("# accepted: yes\n", 1),
            ("# Accepted\n", 1),
            ("# accepted\n# refused: x\n", 2),
            ("# refused: x\n# value: limits.link_batch_max = 8\n", 2),
            ("# accepted\n\n# value: limits.link_batch_max = 8s\n", 3),
        ] {
            let got = header_of(text);
            assert!(
                got.as_ref()
                    .is_err_and(|e| e.starts_with(&format!("{line}: "))),
                "{text:?} gave {got:?}"
            );
        }
    }
}
