//! `docs/protocol.md`'s examples, held to the code and to the harness's own oracle: every
//! `session` block is replayed through the server's parser and command code with the block's
//! clock, and judged apart by `sim::oracle::spec`; every `link` line must parse and print back
//! as written; §12's table of bounds must name every `Limits` field with its default. An
//! example or a bound that drifts from the code fails here.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use server::commands;
use server::config::Herd;
use server::digest::{self, TableDigest};
use server::net::Clock;
use server::places::PlacesClient;
use server::protocol::{Command, invalid_reply};
use server::state::Shared;
use sim::oracle::spec::{self, ClientLine};

const NANOS_PER_SECOND: i128 = 1_000_000_000;

fn protocol_doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    std::fs::read_to_string(&path).expect("docs/protocol.md is readable")
}

/// A fenced block: its info string (after the backticks) and its lines.
struct Block {
    info: String,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for line in text.lines() {
        match (open.take(), line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    lines: Vec::new(),
                })
            }
            (Some(block), Some(_)) => found.push(block),
            (Some(mut block), None) => {
                block.lines.push(line.to_string());
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    found
}

struct FixedClock(i128);

impl Clock for FixedClock {
    fn now_nanos(&self) -> i128 {
        self.0
    }
}

/// The block's clock, `SECONDS[.FRACTION]`, read by the oracle's own timestamp grammar.
fn clock_nanos(text: &str) -> i128 {
    match spec::timestamp_nanos(text) {
        Ok(Some(nanos)) => nanos,
        _ => panic!("session clock {text:?} is not POSIX seconds"),
    }
}

/// A time difference as the protocol writes one: a sign, seconds, nine fraction digits.
fn time_diff_text(nanos: i128) -> String {
    let sign = if nanos < 0 { '-' } else { '+' };
    let magnitude = nanos.abs();
    format!(
        "{sign}{}.{:09}",
        magnitude / NANOS_PER_SECOND,
        magnitude % NANOS_PER_SECOND
    )
}

/// `? ` and the line with protocol white space trimmed at both ends, by the oracle's white space.
fn question(line: &str) -> String {
    format!("? {}\n", line.trim_matches(spec::is_white_space))
}

/// One session: the lines sent, each with the reply the page shows.
fn exchanges(lines: &[String]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for line in lines {
        match line.strip_prefix("> ") {
            Some(sent) => found.push((sent.to_string(), String::new())),
            None => {
                let (_, reply) = found
                    .last_mut()
                    .unwrap_or_else(|| panic!("a reply before any line sent: {line:?}"));
                reply.push_str(line);
                reply.push('\n');
            }
        }
    }
    found
}

/// What the server's command code answers to `sent`: the handler's dispatch on a plain client
/// connection of a herd without classic links, where an `AT` line is a forgery and gets `?`.
async fn server_reply(shared: &Shared, sent: &str) -> String {
    let line = sent.as_bytes();
    match Command::parse_line(line) {
        Ok(Command::IAmAt {
            client,
            location,
            timestamp,
        }) => commands::iamat(shared, client, location, timestamp, line),
        Ok(Command::WhatsAt {
            client,
            radius,
            bound,
        }) => commands::whatsat(shared, &client, &radius, bound, line).await,
        _ => format!("{}\n", invalid_reply(line)),
    }
}

/// What the oracle owes `sent`, given the AT lines this session's IAMATs were answered with
/// (newest timestamp per client): the reply must be that, or `?` where a bound allows it.
fn judge(
    server: &str,
    clock: i128,
    sent: &str,
    reply: &str,
    held: &mut BTreeMap<String, (i128, String)>,
) {
    let limits = server::config::Limits::default();
    let ahead_max = i128::try_from(limits.timestamp_ahead_max.as_nanos()).expect("a day fits");
    match ClientLine::parse(sent) {
        ClientLine::Invalid(_) | ClientLine::Link => {
            assert_eq!(reply, question(sent), "an invalid line: {sent:?}")
        }
        ClientLine::IamAt {
            client,
            location_text,
            timestamp_text,
            timestamp_nanos,
            ..
        } => {
            let nanos = timestamp_nanos.expect("example timestamps are in range");
            if reply.starts_with("? ") {
                assert!(
                    client.len() > limits.client_id_bytes_max
                        || location_text.len() > limits.location_bytes_max
                        || timestamp_text.len() > limits.timestamp_bytes_max
                        || nanos > clock + ahead_max,
                    "{sent:?} refused with no bound broken"
                );
                assert_eq!(reply, question(sent));
                return;
            }
            let at = format!(
                "AT {server} {} {client} {location_text} {timestamp_text}\n",
                time_diff_text(clock - nanos)
            );
            assert_eq!(reply, at, "the AT reply to {sent:?}");
            if held.get(&client).is_none_or(|(t, _)| *t < nanos) {
                held.insert(client, (nanos, at));
            }
        }
        ClientLine::WhatsAt { client, .. } => match held.get(&client) {
            None => assert_eq!(reply, question(sent), "WHATSAT for an unknown client"),
            Some((_, at)) => {
                assert!(reply.starts_with(&format!("{at}{{\n")), "{sent:?}: {reply}");
                assert!(reply.ends_with("}\n\n"), "{sent:?}: {reply}");
                let json = &reply[at.len()..];
                let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
                assert!(value.get("results").is_some_and(|r| r.is_array()), "{json}");
            }
        },
    }
}

#[test]
fn every_session_on_the_protocol_page_is_what_the_server_answers() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let mut judged = 0;
    for block in blocks(&protocol_doc()) {
        let mut words = block.info.split_whitespace();
        if words.next() != Some("session") {
            continue;
        }
        let (Some(server), Some(clock), None) = (words.next(), words.next(), words.next()) else {
            panic!(
                "a session block names a server and a clock: {:?}",
                block.info
            );
        };
        let clock = clock_nanos(clock);
        let shared = Shared::new(
            &Herd::default_herd(),
            server,
            Arc::new(FixedClock(clock)),
            PlacesClient::offline(),
            1,
        );
        let mut held = BTreeMap::new();
        for (sent, shown) in exchanges(&block.lines) {
            let reply = runtime.block_on(server_reply(&shared, &sent));
            assert_eq!(
                shown, reply,
                "docs/protocol.md shows another reply to {sent:?}"
            );
            judge(server, clock, &sent, &shown, &mut held);
            judged += 1;
        }
    }
    assert!(
        judged >= 20,
        "the page shows its examples ({judged} judged)"
    );
}

#[test]
fn every_link_line_on_the_protocol_page_parses_and_prints_back() {
    let mut judged = 0;
    for block in blocks(&protocol_doc()) {
        if block.info.split_whitespace().next() != Some("link") {
            continue;
        }
        let mut handshake = Handshake::default();
        for line in block.lines.iter().filter(|l| !l.trim().is_empty()) {
            let command = Command::parse_line(line.as_bytes())
                .unwrap_or_else(|e| panic!("{line:?} does not parse: {e}"));
            assert_eq!(&command.to_string(), line, "prints back as written");
            assert_eq!(ClientLine::parse(line), ClientLine::Link, "{line:?}");
            handshake.see(command);
            judged += 1;
        }
        let mut words = block.info.split_whitespace().skip(1);
        if let Some(dialler) = words.next() {
            handshake.judge(dialler);
            judged += 1;
        }
    }
    assert!(
        judged >= 9,
        "the page shows the link protocol ({judged} lines)"
    );
}

/// The handshake lines of one `link DIALLER ACCEPTER` block.
#[derive(Default)]
struct Handshake {
    peer: Option<(String, u64)>,
    hello: bool,
    /// The dialler's head and epoch.
    auth: Option<(u64, u64)>,
    /// The accepter's epoch, `seq` and digest.
    linked: Option<(u64, u64, Option<TableDigest>)>,
}

impl Handshake {
    fn see(&mut self, command: Command) {
        match command {
            Command::Peer { name, epoch } => self.peer = Some((name, epoch)),
            Command::Hello => self.hello = true,
            Command::Auth { head, epoch } => self.auth = Some((head, epoch)),
            Command::Linked { epoch, seq, digest } => self.linked = Some((epoch, seq, digest)),
            _ => {}
        }
    }

    /// `PEER` names the dialler, `AUTH` repeats its epoch, every line of the handshake is
    /// there, and a `seq` of 0 is answered with the digest of an empty table on a 256-byte line
    /// limit.
    fn judge(&self, dialler: &str) {
        let (Some((name, epoch)), true, Some((_, said)), Some((_, seq, digest))) =
            (&self.peer, self.hello, &self.auth, &self.linked)
        else {
            panic!("a handshake block shows PEER, HELLO, AUTH and LINKED");
        };
        assert_eq!(name, dialler, "PEER names the dialler");
        assert_eq!(said, epoch, "AUTH repeats the epoch PEER said");
        let empty = TableDigest::empty(digest::buckets_for(256));
        let owed_digest = (*seq == 0).then_some(empty);
        assert_eq!(digest, &owed_digest, "LINKED's digest");
    }
}

/// A default as §12's table writes it (`64 MiB`, `1 day`, `500ms`, `1024`), as the herd file's
/// serialised `Limits` would: a number, or a duration compared once parsed.
fn documented_default(text: &str) -> serde_json::Value {
    if let Some(mib) = text.strip_suffix(" MiB") {
        return serde_json::json!(mib.parse::<u64>().expect("a MiB count") << 20);
    }
    if let Ok(number) = text.parse::<u64>() {
        return serde_json::json!(number);
    }
    let text = match text.strip_suffix(" day") {
        Some(days) => format!("{}s", days.parse::<u64>().expect("a day count") * 86_400),
        None => text.to_string(),
    };
    let duration = server::config::parse_duration(&text).expect("a duration");
    serde_json::json!(duration.as_nanos() as u64)
}

/// `value` from the serialised `Limits` as [`documented_default`] gives it.
fn code_default(value: &serde_json::Value) -> serde_json::Value {
    match value.as_str() {
        Some(text) => {
            let duration = server::config::parse_duration(text).expect("a duration");
            serde_json::json!(duration.as_nanos() as u64)
        }
        None => value.clone(),
    }
}

#[test]
fn the_bounds_table_names_every_limit_with_its_default_and_the_record_overhead() {
    let doc = protocol_doc();
    let bounds = &doc[doc.find("## 12. Bounds").expect("§12")..];
    let bounds = &bounds[..bounds.find("\n## ").unwrap_or(bounds.len())];
    let rows: BTreeMap<String, (String, String)> = bounds
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((
                name.to_string(),
                (cells[2].to_string(), cells[3].to_string()),
            ))
        })
        .collect();
    let code = serde_json::to_value(server::config::Limits::default()).expect("limits serialise");
    let code = code.as_object().expect("limits are a map");
    for (name, value) in code {
        let Some((default, _)) = rows.get(name) else {
            panic!("§12 does not name `{name}`");
        };
        assert_eq!(
            documented_default(default),
            code_default(value),
            "§12 says `{name}` is {default}"
        );
    }
    let extra: Vec<&String> = rows.keys().filter(|n| !code.contains_key(*n)).collect();
    assert!(extra.is_empty(), "§12 names no such limit: {extra:?}");
    let overhead = format!(
        "text plus {} bytes a record",
        server::store::ENTRY_OVERHEAD_BYTES
    );
    assert!(
        rows["table_bytes_max"].1.contains(&overhead),
        "{:?}",
        rows["table_bytes_max"]
    );
}
