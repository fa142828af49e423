//! The propagation trace: every event of a run, stamped with simulated time and host, and its
//! two renderings: a timeline for terminals and a stable YAML list for snapshots.
//!
//! Three sources write it, told apart by `host`:
//!
//! - each herd server (host = server name): the events of `server::events`, fields as
//!   documented there;
//! - the harness (host = [`HARNESS_HOST`]): one event per fault step and one per client
//!   command, reply or error (the consts below, each with its fields);
//! - the Places stub (host = [`PLACES_STUB_HOST`]): [`PLACES_STUB_REQUEST`].
//!
//! Harness events are built only through the constructors on [`TraceEvent`] (`fault`,
//! `client_send`, ...) so that the driver writes exactly the fields the checkers read.
//! Every field value is text; checkers parse what they need and report what they cannot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::scenario::Action;

/// The host of the harness's own events (faults, client commands).
pub const HARNESS_HOST: &str = "harness";
/// The host of the Places stub's events.
pub const PLACES_STUB_HOST: &str = crate::scenario::PLACES_HOST;

/// Fault: links cut. Fields: `step`, `from`, `to` (comma-separated host lists), `oneway`
/// (`true`: only `from` -> `to`).
pub const PARTITION: &str = "partition";
/// Fault healed: links repaired. Fields as [`PARTITION`].
pub const REPAIR: &str = "repair";
/// Fault: messages held on links. Fields: `step`, `from`, `to`.
pub const HOLD: &str = "hold";
/// Held messages delivered at once. Fields: `step`, `from`, `to`.
pub const RELEASE: &str = "release";
/// Link latency changed. Fields: `step`, `from`, `to`, `latency` (`min..max`).
pub const LATENCY: &str = "latency";
/// A server was crashed (its memory is gone). Fields: `step`, `server`.
pub const CRASH: &str = "crash";
/// A crashed server was started again, empty. Fields: `step`, `server`.
pub const RESTART: &str = "restart";
/// A server's clock offset changed. Fields: `step`, `server`, `by` (signed, `-3s`).
pub const SKEW: &str = "skew";
/// The Places stub's behaviour changed. Fields: `step` and those set of `healthy`, `latency`,
/// `http_status`, `malformed`, `status`, `unreachable`.
pub const PLACES_FAULT: &str = "places_fault";
/// Every fault event name, for filters.
pub const FAULT_EVENTS: [&str; 9] = [
    PARTITION,
    REPAIR,
    HOLD,
    RELEASE,
    LATENCY,
    CRASH,
    RESTART,
    SKEW,
    PLACES_FAULT,
];

/// A client wrote one command. Fields: `id` (the step index), `client`, `server`, `line`
/// (the bytes as lossy UTF-8 without the final newline, whole), `bytes` (count written,
/// newline included), `utf8` (`true`|`false`: whether the bytes were valid UTF-8).
pub const CLIENT_SEND: &str = "client_send";
/// A client read the whole reply to a command. Fields: `id`, `client`, `server`, `text`
/// (the full reply, newlines included).
pub const CLIENT_REPLY: &str = "client_reply";
/// A client's command failed at the transport (refused, reset, closed before a reply).
/// Fields: `id`, `client`, `server`, `error`.
pub const CLIENT_ERROR: &str = "client_error";
/// A load step started. Fields: `id`, `server`, `prefix`, `clients` (distinct ids
/// `{prefix}0`..), `connections`.
pub const LOAD_SENT: &str = "load_sent";
/// A load step's connections all finished. Fields: `id`, `server`, `replies` (lines read),
/// `invalid` (of which `? ` replies), `errors` (connections that failed).
pub const LOAD_DONE: &str = "load_done";
/// A hostile client wrote one line. Fields: `id`, `server`, `line`.
pub const HOSTILE_SEND: &str = "hostile_send";
/// A hostile client read the whole reply. Fields: `id`, `server`, `text`.
pub const HOSTILE_REPLY: &str = "hostile_reply";
/// A hostile client holds connections open, silent. Fields: `id`, `server`, `opened`,
/// `failed`.
pub const HOSTILE_HOLD: &str = "hostile_hold";
/// The Places stub got a request. Fields: `path`, `location`, `radius`, `key_present`, and
/// `from` (the server that asked) when the stub knows it.
pub const PLACES_STUB_REQUEST: &str = "places_stub_request";

/// Field values longer than this (in chars) are cut in renderings.
pub const RENDER_CHARS_MAX: usize = 100;

/// Renderings show these fields first, in this order, then the rest alphabetically: who and
/// what before the details.
const FIELDS_FIRST: [&str; 10] = [
    "step", "id", "client", "server", "peer", "origin", "outcome", "source", "from", "to",
];

/// One event: when (simulated time since the start), where, what, and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    pub at: Duration,
    pub host: String,
    pub name: String,
    pub fields: BTreeMap<String, String>,
}

/// The events of one run, in recording order (which is time order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
}

impl TraceEvent {
    pub fn new(at: Duration, host: impl Into<String>, name: impl Into<String>) -> TraceEvent {
        TraceEvent {
            at,
            host: host.into(),
            name: name.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Adds a field (builder style).
    pub fn with(mut self, key: &str, value: impl ToString) -> TraceEvent {
        self.fields.insert(key.to_string(), value.to_string());
        self
    }

    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// Whether this is the harness event `name`.
    pub fn is_harness(&self, name: &str) -> bool {
        self.host == HARNESS_HOST && self.name == name
    }

    /// The `id` field of client events.
    pub fn id(&self) -> Option<u64> {
        self.field("id").and_then(|id| id.parse().ok())
    }

    /// The fields in rendering order: who and what first (step, id, client, server, peer, ...),
    /// then the rest alphabetically. Fixed, so renderings never vary.
    pub fn ordered_fields(&self) -> Vec<(&str, &str)> {
        let first = FIELDS_FIRST
            .iter()
            .filter_map(|key| self.fields.get_key_value(*key));
        let rest = self
            .fields
            .iter()
            .filter(|(key, _)| !FIELDS_FIRST.contains(&key.as_str()));
        first
            .chain(rest)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The harness event for fault step `step`, or `None` for workload actions.
    pub fn fault(at: Duration, step: u64, action: &Action) -> Option<TraceEvent> {
        let event = |name: &str| TraceEvent::new(at, HARNESS_HOST, name).with("step", step);
        let link = |name: &str, between: &[String], and: &[String]| {
            event(name)
                .with("from", between.join(","))
                .with("to", and.join(","))
        };
        Some(match action {
            Action::IamAt(_)
            | Action::WhatsAt(_)
            | Action::Raw(_)
            | Action::Load(_)
            | Action::Hostile(_) => return None,
            Action::Partition(l) => link(PARTITION, &l.between, &l.and).with("oneway", l.oneway),
            Action::Repair(l) => link(REPAIR, &l.between, &l.and).with("oneway", l.oneway),
            Action::Hold(l) => link(HOLD, &l.between, &l.and),
            Action::Release(l) => link(RELEASE, &l.between, &l.and),
            Action::Latency(l) => link(LATENCY, &l.between, &l.and).with("latency", l.latency),
            Action::Crash(server) => event(CRASH).with("server", server),
            Action::Restart(server) => event(RESTART).with("server", server),
            Action::Skew(s) => event(SKEW).with("server", &s.server).with("by", s.by),
            Action::Places(p) => p
                .settings()
                .into_iter()
                .fold(event(PLACES_FAULT), |e, (key, value)| e.with(key, value)),
        })
    }

    /// A client wrote `bytes` (one command line) to `server`.
    pub fn client_send(
        at: Duration,
        id: u64,
        client: &str,
        server: &str,
        bytes: &[u8],
    ) -> TraceEvent {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        TraceEvent::new(at, HARNESS_HOST, CLIENT_SEND)
            .with("id", id)
            .with("client", client)
            .with("server", server)
            .with("line", String::from_utf8_lossy(body))
            .with("bytes", bytes.len())
            .with("utf8", std::str::from_utf8(bytes).is_ok())
    }

    /// A client read the whole reply `text`.
    pub fn client_reply(
        at: Duration,
        id: u64,
        client: &str,
        server: &str,
        text: &str,
    ) -> TraceEvent {
        TraceEvent::new(at, HARNESS_HOST, CLIENT_REPLY)
            .with("id", id)
            .with("client", client)
            .with("server", server)
            .with("text", text)
    }

    /// A client's command failed at the transport.
    pub fn client_error(
        at: Duration,
        id: u64,
        client: &str,
        server: &str,
        error: &str,
    ) -> TraceEvent {
        TraceEvent::new(at, HARNESS_HOST, CLIENT_ERROR)
            .with("id", id)
            .with("client", client)
            .with("server", server)
            .with("error", error)
    }

    /// A load step started.
    pub fn load_sent(at: Duration, id: u64, load: &crate::scenario::Load) -> TraceEvent {
        TraceEvent::new(at, HARNESS_HOST, LOAD_SENT)
            .with("id", id)
            .with("server", &load.server)
            .with("prefix", &load.prefix)
            .with("clients", load.clients)
            .with("connections", load.connections)
    }

    /// A harness event of a hostile client, `id` and `server` filled in.
    pub fn hostile(at: Duration, name: &str, id: u64, server: &str) -> TraceEvent {
        TraceEvent::new(at, HARNESS_HOST, name)
            .with("id", id)
            .with("server", server)
    }

    /// The Places stub got a request.
    pub fn places_stub_request(
        at: Duration,
        path: &str,
        location: &str,
        radius: &str,
        key_present: bool,
    ) -> TraceEvent {
        TraceEvent::new(at, PLACES_STUB_HOST, PLACES_STUB_REQUEST)
            .with("path", path)
            .with("location", location)
            .with("radius", radius)
            .with("key_present", key_present)
    }
}

impl Trace {
    pub fn new() -> Trace {
        Trace::default()
    }

    pub fn push(&mut self, event: TraceEvent) {
        debug_assert!(
            self.events.last().is_none_or(|last| last.at <= event.at),
            "trace events are recorded in time order"
        );
        self.events.push(event);
    }

    /// A readable timeline, one event per line, columns aligned:
    /// `   1.250s  Clark    record_stored  client=kiwi outcome=new ...`.
    pub fn timeline(&self) -> String {
        let times: Vec<String> = self.events.iter().map(|e| fmt_at(e.at)).collect();
        let time_width = times.iter().map(String::len).max().unwrap_or(0);
        let host_width = self.events.iter().map(|e| e.host.len()).max().unwrap_or(0);
        let name_width = self.events.iter().map(|e| e.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (event, time) in self.events.iter().zip(&times) {
            let fields: Vec<String> = event
                .ordered_fields()
                .into_iter()
                .map(|(key, value)| {
                    format!("{key}={}", quote_for_timeline(&render_value(key, value)))
                })
                .collect();
            let line = format!(
                "{time:>time_width$}  {:<host_width$}  {:<name_width$}  {}",
                event.host,
                event.name,
                fields.join(" ")
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The events as a YAML list, one flow mapping per line, for snapshots:
    /// `- { at: 1.250s, host: Clark, event: record_stored, client: kiwi, ... }`.
    /// Fields are in a fixed order, long values cut, WHATSAT JSON digested and the ephemeral
    /// port of `remote` addresses hidden, so nothing varies that a reviewer should not see.
    pub fn to_snapshot_yaml(&self) -> String {
        let mut out = String::new();
        for line in self.snapshot_lines() {
            let _ = writeln!(out, "- {line}");
        }
        if out.is_empty() {
            out.push_str("[]\n");
        }
        out
    }

    /// The flow mappings of [`Trace::to_snapshot_yaml`], without the `- ` (to nest them).
    pub fn snapshot_lines(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|event| {
                let mut parts = vec![
                    format!("at: {}", fmt_at(event.at)),
                    format!("host: {}", yaml_scalar(&event.host)),
                    format!("event: {}", yaml_scalar(&event.name)),
                ];
                for (key, value) in event.ordered_fields() {
                    let value = if key == "remote" {
                        hide_port(value)
                    } else {
                        render_value(key, value)
                    };
                    parts.push(format!("{}: {}", yaml_scalar(key), yaml_scalar(&value)));
                }
                format!("{{ {} }}", parts.join(", "))
            })
            .collect()
    }
}

/// Simulated time as `1.250s`: milliseconds, or more digits when the time needs them.
pub fn fmt_at(at: Duration) -> String {
    let nanos = at.as_nanos();
    let (secs, sub) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    if sub % 1_000_000 == 0 {
        format!("{secs}.{:03}s", sub / 1_000_000)
    } else if sub % 1_000 == 0 {
        format!("{secs}.{:06}s", sub / 1_000)
    } else {
        format!("{secs}.{sub:09}s")
    }
}

/// A field value as renderings show it: its first line, at most [`RENDER_CHARS_MAX`] chars;
/// for a reply (`text`), followed by a digest of what came after the first line.
pub fn render_value(key: &str, value: &str) -> String {
    if key != "text" {
        return shorten(value, RENDER_CHARS_MAX);
    }
    let (first, rest) = value.split_once('\n').unwrap_or((value, ""));
    let first = shorten(first, RENDER_CHARS_MAX);
    match digest_body(rest) {
        Some(digest) => format!("{first} [{digest}]"),
        None => first,
    }
}

/// A reply with its Places JSON replaced by a digest:
/// `AT Clark ... [json: 3 results, status OK]`. Single-line replies are returned as they are
/// (without the newline).
pub fn digest_reply(text: &str) -> String {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    match digest_body(rest) {
        Some(digest) => format!("{first} [{digest}]"),
        None => first.to_string(),
    }
}

/// `json: 3 results, status OK` for a Places JSON body, `+N more lines` for other text,
/// `None` for nothing.
fn digest_body(rest: &str) -> Option<String> {
    let rest = rest.trim_matches('\n');
    if rest.is_empty() {
        return None;
    }
    if !rest.starts_with('{') {
        return Some(format!("+{} more lines", rest.lines().count()));
    }
    Some(match serde_json::from_str::<serde_json::Value>(rest) {
        Ok(json) => {
            let results = match json.get("results").and_then(|r| r.as_array()) {
                Some(results) => format!("{} results", results.len()),
                None => "no results".to_string(),
            };
            let status = json
                .get("status")
                .and_then(|s| s.as_str())
                .unwrap_or("missing");
            let error = if json.get("error_message").is_some() {
                ", error_message"
            } else {
                ""
            };
            format!("json: {results}, status {status}{error}")
        }
        Err(_) => format!("json: unparseable, {} bytes", rest.len()),
    })
}

/// The first line of `text`, cut to `chars_max` chars; what was dropped is counted.
pub fn shorten(text: &str, chars_max: usize) -> String {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let mut out: String = first.chars().take(chars_max).collect();
    if out.len() < first.len() {
        let _ = write!(out, "... ({} bytes)", first.len());
    }
    let more = rest.trim_end_matches('\n');
    if !more.is_empty() {
        let _ = write!(out, " [+{} more lines]", more.lines().count());
    }
    out
}

/// A YAML scalar: plain when it is unambiguous text, else double-quoted (JSON escaping is
/// valid YAML).
pub fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-/".contains(c))
        && !text.starts_with(['.', '/'])
        && !["true", "false", "null", "yes", "no", "on", "off", "~"]
            .contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
    }
}

fn quote_for_timeline(value: &str) -> String {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\');
    if bare {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

/// `192.168.0.3:49153` -> `192.168.0.3:*`: ports of accepted connections shift whenever one
/// more connection happens earlier, which is noise in a snapshot.
fn hide_port(address: &str) -> String {
    match address.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => format!("{host}:*"),
        _ => address.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{LinkCut, PlacesFault};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sample() -> Trace {
        let mut trace = Trace::new();
        trace.push(TraceEvent::client_send(
            ms(0),
            0,
            "kiwi",
            "Clark",
            b"IAMAT kiwi +34.068930-118.445127 1700000000\n",
        ));
        trace.push(
            TraceEvent::new(ms(2), "Clark", "record_stored")
                .with("client", "kiwi")
                .with("outcome", "new")
                .with("source", "client"),
        );
        trace.push(TraceEvent::client_reply(
            ms(1250),
            1,
            "kiwi",
            "Bailey",
            "AT Clark +0.001000000 kiwi +34.068930-118.445127 1700000000\n{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}\n\n",
        ));
        trace
    }

    #[test]
    fn the_timeline_aligns_columns_and_digests_json() {
        let timeline = sample().timeline();
        let lines: Vec<&str> = timeline.lines().collect();
        assert_eq!(lines.len(), 3, "one line per event:\n{timeline}");
        assert!(
            lines[0].starts_with("0.000s  harness  client_send  "),
            "{timeline}"
        );
        assert!(
            lines[1].starts_with("0.002s  Clark    record_stored  "),
            "{timeline}"
        );
        assert!(
            lines[2].contains("[json: 0 results, status ZERO_RESULTS]"),
            "{timeline}"
        );
        assert!(
            lines[0].contains("line=\"IAMAT kiwi +34.068930-118.445127 1700000000\""),
            "{timeline}"
        );
    }

    #[test]
    fn the_snapshot_is_one_flow_mapping_per_event_and_parses_as_yaml()
    -> Result<(), serde_saphyr::Error> {
        let yaml = sample().to_snapshot_yaml();
        assert!(yaml.starts_with("- { at: 0.000s, host: harness, event: client_send, id: 0, client: kiwi, server: Clark, bytes: 44, "), "{yaml}");
        let parsed: Vec<BTreeMap<String, serde_json::Value>> = serde_saphyr::from_str(&yaml)?;
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[2]["event"], "client_reply");
        Ok(())
    }

    #[test]
    fn long_values_are_cut_and_counted() {
        let long = "x".repeat(200_000);
        let mut trace = Trace::new();
        trace.push(TraceEvent::client_send(
            ms(0),
            0,
            "raw",
            "Bailey",
            format!("{long}\n").as_bytes(),
        ));
        let yaml = trace.to_snapshot_yaml();
        assert!(yaml.contains("... (200000 bytes)"), "{yaml}");
        assert!(
            yaml.len() < 400,
            "the snapshot line stays short: {} bytes",
            yaml.len()
        );
    }

    #[test]
    fn remote_ports_are_hidden_in_snapshots() {
        let mut trace = Trace::new();
        trace.push(
            TraceEvent::new(ms(3), "Clark", "connection_opened")
                .with("conn", 1)
                .with("remote", "192.168.0.9:49153"),
        );
        assert!(
            trace
                .to_snapshot_yaml()
                .contains("remote: \"192.168.0.9:*\"")
        );
    }

    #[test]
    fn fault_events_carry_structured_fields() -> Result<(), String> {
        let cut = Action::Partition(LinkCut {
            between: vec!["Clark".into()],
            and: vec!["Bona".into(), "Jaquez".into()],
            oneway: true,
        });
        let event = TraceEvent::fault(ms(1000), 2, &cut).ok_or("a partition is a fault")?;
        assert_eq!(event.name, PARTITION);
        assert_eq!(event.field("from"), Some("Clark"));
        assert_eq!(event.field("to"), Some("Bona,Jaquez"));
        assert_eq!(event.field("oneway"), Some("true"));
        let places = Action::Places(PlacesFault {
            http_status: Some(503),
            ..PlacesFault::default()
        });
        let event = TraceEvent::fault(ms(1000), 3, &places).ok_or("places is a fault")?;
        assert_eq!(event.field("http_status"), Some("503"));
        Ok(())
    }

    #[test]
    fn times_print_with_milliseconds_or_finer() {
        assert_eq!(fmt_at(ms(1250)), "1.250s");
        assert_eq!(fmt_at(Duration::from_micros(1500)), "0.001500s");
        assert_eq!(fmt_at(Duration::from_nanos(7)), "0.000000007s");
    }

    #[test]
    fn yaml_scalars_are_quoted_only_when_needed() {
        assert_eq!(
            yaml_scalar("+34.068930-118.445127"),
            "+34.068930-118.445127"
        );
        assert_eq!(yaml_scalar("peer:Clark"), "\"peer:Clark\"");
        assert_eq!(yaml_scalar("true"), "\"true\"");
        assert_eq!(yaml_scalar(""), "\"\"");
        assert_eq!(yaml_scalar("a b"), "\"a b\"");
    }
}
