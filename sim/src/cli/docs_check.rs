//! Tests of the `sim` binary against the docs: every `sim` command shown in a fenced `sh` block
//! of README.md, docs/*.md or scenarios/README.md parses with this command line, every file a
//! command names is in the repository, and the pages stay current and linked.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::Cli;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md, every page of docs/, and scenarios/README.md, as (path, text).
fn pages() -> Vec<(String, String)> {
    let root = workspace();
    let mut paths = vec!["README.md".to_string(), "scenarios/README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(root.join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            (path, text)
        })
        .collect()
}

/// The commands of a page's `sh` blocks, one per block in order, comments and line
/// continuations removed.
fn sh_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut open: Option<Vec<String>> = None;
    let mut pending = String::new();
    for line in text.lines() {
        match open.as_mut() {
            None if line.trim_end() == "```sh" => open = Some(Vec::new()),
            None => {}
            Some(_) if line.starts_with("```") => blocks.extend(open.take()),
            Some(commands) => {
                let code = line.split(" #").next().unwrap_or_default().trim_end();
                match code.strip_suffix('\\') {
                    Some(part) => pending.push_str(part),
                    None => {
                        pending.push_str(code);
                        if !pending.trim().is_empty() {
                            commands.push(pending.trim().to_string());
                        }
                        pending.clear();
                    }
                }
            }
        }
    }
    blocks
}

/// A word that stands for a value the reader chooses (`FILE`, `DIR...`, `BASE_BINARY`).
fn placeholder(word: &str) -> bool {
    let word = word.trim_end_matches('.');
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
}

/// Does a file or folder the command names exist? A glob needs its folder.
fn exists(word: &str) -> bool {
    let root = workspace();
    match word.split_once('*') {
        Some((prefix, _)) => root.join(prefix).exists(),
        None => root.join(word).exists(),
    }
}

/// What one command line checks: the `sim` arguments it passes, if it runs `sim`, and the
/// files it names that must exist. `made` holds the files earlier commands of its block wrote.
fn check_command(command: &str, made: &mut Vec<String>) -> Result<Option<Vec<String>>, String> {
    let mut words: Vec<String> = command
        .split_whitespace()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .map(|w| w.trim_matches('\'').to_string())
        .collect();
    if let Some(at) = words.iter().position(|w| w == ">") {
        made.extend(words.get(at + 1).cloned());
        words.truncate(at);
    }
    let sim_args = match words.iter().position(|w| w == "--") {
        Some(at) if words.windows(2).any(|p| p == ["-p", "sim"]) && words[0] == "cargo" => {
            Some(words[at + 1..].to_vec())
        }
        _ => None,
    };
    let mut outputs = made.clone();
    if let Some(args) = &sim_args {
        for pair in args.windows(2) {
            if pair[0] == "--svg" || pair[0] == "--html" {
                outputs.push(pair[1].clone());
            }
        }
    }
    for word in &words {
        let pathish = word.contains('/') || word.ends_with(".yaml") || word.ends_with(".sh");
        let named = pathish
            && word.chars().any(|c| c.is_ascii_alphabetic())
            && !word.starts_with('-')
            && !word.contains("://");
        if named && !placeholder(word) && !outputs.contains(word) && !exists(word) {
            return Err(format!("names {word}, which is not in the repository"));
        }
    }
    Ok(sim_args)
}

#[test]
fn every_sim_command_in_the_docs_parses_and_names_files_that_exist() {
    let mut parsed = 0;
    for (path, text) in pages() {
        for block in sh_blocks(&text) {
            let mut made = Vec::new();
            for command in block {
                let sim_args = check_command(&command, &mut made)
                    .unwrap_or_else(|e| panic!("{path}: `{command}` {e}"));
                if let Some(args) = sim_args {
                    let argv = std::iter::once("sim".to_string()).chain(args);
                    if let Err(e) = Cli::try_parse_from(argv) {
                        panic!("{path}: `{command}` does not parse:\n{e}");
                    }
                    parsed += 1;
                }
            }
        }
    }
    assert!(
        parsed >= 15,
        "the docs show sim's commands ({parsed} parsed)"
    );
}

#[test]
fn a_command_the_cli_refuses_or_a_missing_file_is_caught() {
    let mut made = Vec::new();
    let bad_flag = check_command(
        "cargo run -p sim -- --sed 4 scenarios/partition.yaml",
        &mut made,
    )
    .expect("the file exists")
    .expect("a sim command");
    assert!(Cli::try_parse_from(std::iter::once("sim".to_string()).chain(bad_flag)).is_err());
    assert!(check_command("cargo run -p sim -- scenarios/nowhere.yaml", &mut made).is_err());
    assert!(check_command("sim/nowhere.sh 60", &mut made).is_err());
    let block = sh_blocks(
        "```sh\ncargo run -p sim -- swarm --emit 3 > s3.yaml\ncargo run -p sim -- s3.yaml\n```\n",
    );
    let mut made = Vec::new();
    for command in &block[0] {
        assert!(check_command(command, &mut made).is_ok(), "{command}");
    }
}

/// `YYYY-MM-DD` with a year from 2020 on, not followed by `T` (a timestamp's date is an
/// example of a format, not a journal entry).
fn dated(line: &str) -> bool {
    let b = line.as_bytes();
    (0..b.len().saturating_sub(9)).any(|i| {
        let w = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        w.starts_with(b"20")
            && w[2] >= b'2'
            && digits(0..4)
            && w[4] == b'-'
            && digits(5..7)
            && w[7] == b'-'
            && digits(8..10)
            && b.get(i + 10) != Some(&b'T')
    })
}

#[test]
fn every_page_is_current_short_lined_and_linked_from_the_readme() {
    let root = workspace();
    let mut problems = Vec::new();
    // scenarios/README.md is the schema's reference, kept in step with the code by its own
    // test; the rules of a current, short-lined page hold for README.md and docs/.
    for (path, text) in pages()
        .into_iter()
        .filter(|(p, _)| p != "scenarios/README.md")
    {
        for (n, line) in text.lines().enumerate() {
            let at = format!("{path}:{}", n + 1);
            if line.chars().count() > 100 {
                problems.push(format!("{at}: longer than 100 characters"));
            }
            if dated(line) || line.contains("Now:") || line.contains("Earlier:") {
                problems.push(format!("{at}: a dated entry"));
            }
            if ["/tmp/", "/work/", "/home/", "/root/"]
                .iter()
                .any(|p| line.contains(p))
            {
                problems.push(format!("{at}: a machine path"));
            }
            for link in line.split("](").skip(1) {
                let target = link.split(')').next().unwrap_or_default();
                let file = target.split('#').next().unwrap_or_default();
                let base = Path::new(&path).parent().unwrap_or(Path::new(""));
                if !file.is_empty() && !file.contains("://") && !root.join(base).join(file).exists()
                {
                    problems.push(format!("{at}: links to {file}, which is not there"));
                }
            }
        }
    }
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    if readme.lines().count() > 250 {
        problems.push("README.md: more than 250 lines".to_string());
    }
    for (path, _) in pages() {
        if path.starts_with("docs/") && !readme.contains(&format!("]({path})")) {
            problems.push(format!("README.md does not link {path}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_dated_entry_is_told_from_a_timestamp() {
    assert!(dated("measured 2026-11-30 on the VM"));
    assert!(!dated("ts: 2026-11-26T05:39:38.123456Z"));
    assert!(!dated("crosses 2000-02-29, the last day of an era"));
}

/// Every text file under `dir` (no `target/`, no hidden folders) with one of `extensions`.
fn text_files(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                text_files(&path, extensions, found);
            }
        } else if extensions.iter().any(|e| name.ends_with(e)) {
            found.push(path);
        }
    }
}

/// The protocol the code follows is docs/protocol.md: no code or doc cites a protocol
/// document that is not in the repository.
#[test]
fn nothing_cites_a_protocol_document_outside_the_repository() {
    let root = workspace();
    let mut files = vec![root.join("README.md")];
    for dir in [
        "server",
        "sim",
        "scenarios",
        "fuzz",
        "docs",
        ".ci",
        ".github",
    ] {
        text_files(
            &root.join(dir),
            &[".rs", ".md", ".yaml", ".yml", ".sh", ".toml", ".py"],
            &mut files,
        );
    }
    let word = ["SP", "EC"].concat();
    let mut citing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let cites = line.match_indices(&word).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + word.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if cites {
                citing.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(
        files.len() > 100,
        "the tree is read ({} files)",
        files.len()
    );
    assert!(
        citing.is_empty(),
        "cite docs/protocol.md instead:\n{}",
        citing.join("\n")
    );
}
