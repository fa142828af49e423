//! Tests of the `server` binary against the docs: every `cargo run -p server` command in a
//! fenced `sh` block of README.md or docs/*.md parses with this command line, and names only
//! servers of the herd it runs.

use std::path::Path;

use clap::Parser;
use server::config::Herd;

use super::{CertsCli, Cli};

/// The `server` arguments of every `cargo run -p server` line in `text`'s `sh` blocks.
fn server_commands(text: &str) -> Vec<Vec<String>> {
    let mut in_sh = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim_end() == "```sh";
            continue;
        }
        let code = line.split(" #").next().unwrap_or_default();
        if !in_sh || !code.contains("cargo run -p server") {
            continue;
        }
        let args = code.split_once(" -- ").map_or("", |(_, args)| args);
        found.push(args.split_whitespace().map(str::to_string).collect());
    }
    found
}

#[test]
fn every_server_command_in_the_docs_parses_and_names_servers_of_its_herd() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/ is readable") {
        pages.push(entry.expect("a docs entry").path());
    }
    let mut parsed = 0;
    for page in pages {
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for args in server_commands(&text) {
            if args.first().map(String::as_str) == Some("certs") {
                let cli = CertsCli::try_parse_from(args.iter()).unwrap_or_else(|e| {
                    panic!("{}: server {args:?} does not parse:\n{e}", page.display())
                });
                if let Some(file) = &cli.herd {
                    Herd::load(&root.join(file)).expect("the herd file loads");
                }
                parsed += 1;
                continue;
            }
            let argv = std::iter::once("server".to_string()).chain(args.iter().cloned());
            let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| {
                panic!("{}: server {args:?} does not parse:\n{e}", page.display())
            });
            let herd = match &cli.herd {
                Some(file) => Herd::load(&root.join(file)).expect("the herd file loads"),
                None => Herd::default_herd(),
            };
            for name in &cli.names {
                assert!(
                    herd.servers.iter().any(|s| &s.name == name),
                    "{}: {name} is not a server of the herd",
                    page.display()
                );
            }
            parsed += 1;
        }
    }
    assert!(
        parsed >= 5,
        "the docs show the server's commands ({parsed} parsed)"
    );
}

#[test]
fn a_flag_the_server_does_not_have_is_caught() {
    let commands = server_commands("```sh\ncargo run -p server -- --heard x.yaml   # typo\n```\n");
    let argv = std::iter::once("server".to_string()).chain(commands[0].iter().cloned());
    assert!(Cli::try_parse_from(argv).is_err());
}
