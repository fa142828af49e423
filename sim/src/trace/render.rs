//! The trace's renderings: a timeline for terminals and a stable YAML list for snapshots.
//! Both show each event's fields as its JSON has them, in one fixed order.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Trace, TraceEvent};
use crate::scenario::yaml_scalar;

/// Field values longer than this (in chars) are cut in renderings.
pub const RENDER_CHARS_MAX: usize = 100;

/// Renderings show these fields first, in this order, then the rest alphabetically: who and
/// what before the details.
const FIELDS_FIRST: [&str; 10] = [
    "step", "id", "client", "server", "peer", "origin", "outcome", "source", "from", "to",
];

impl TraceEvent {
    /// The fields as text, in rendering order: who and what first (step, id, client, server,
    /// peer, ...), then the rest alphabetically. Fixed, so renderings never vary. Lists of
    /// hosts are joined with commas; absent optional fields are left out.
    pub fn ordered_fields(&self) -> Vec<(String, String)> {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&self.what) else {
            return Vec::new();
        };
        let text = |value: &serde_json::Value| match value {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            serde_json::Value::Array(items) => Some(
                items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            other => Some(other.to_string()),
        };
        let mut fields: Vec<(String, String)> = map
            .iter()
            .filter(|(key, _)| key.as_str() != "event")
            .filter_map(|(key, value)| text(value).map(|v| (key.clone(), v)))
            .collect();
        let rank = |key: &str| {
            FIELDS_FIRST
                .iter()
                .position(|k| *k == key)
                .unwrap_or(FIELDS_FIRST.len())
        };
        fields.sort_by(|(a, _), (b, _)| (rank(a), a).cmp(&(rank(b), b)));
        fields
    }
}

impl Trace {
    /// A readable timeline, one event per line, columns aligned:
    /// `   1.250s  Clark    record_stored  client=kiwi outcome=new ...`.
    pub fn timeline(&self) -> String {
        self.timeline_folded(&super::startup::Folds::default())
    }

    /// The timeline without what `folds` leaves out, each folded start-up said in one line
    /// (`links_up`) where its last event stood.
    pub fn timeline_folded(&self, folds: &super::startup::Folds) -> String {
        let times: Vec<String> = self.events.iter().map(|e| fmt_at(e.at)).collect();
        let time_width = times.iter().map(String::len).max().unwrap_or(0);
        let host_width = self.events.iter().map(|e| e.host.len()).max().unwrap_or(0);
        let name_width = self
            .events
            .iter()
            .map(|e| e.name().len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (i, (event, time)) in self.events.iter().zip(&times).enumerate() {
            if let Some(summary) = folds.summaries.get(&i) {
                let line = format!(
                    "{time:>time_width$}  {:<host_width$}  {:<name_width$}  {summary}",
                    event.host, "links_up"
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
            if folds.hidden.contains(&i) {
                continue;
            }
            let fields: Vec<String> = event
                .ordered_fields()
                .into_iter()
                .map(|(key, value)| {
                    format!("{key}={}", quote_for_timeline(&render_value(&key, &value)))
                })
                .collect();
            let line = format!(
                "{time:>time_width$}  {:<host_width$}  {:<name_width$}  {}",
                event.host,
                event.name(),
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
                    format!("event: {}", yaml_scalar(event.name())),
                ];
                for (key, value) in event.ordered_fields() {
                    let value = if key == "remote" {
                        hide_port(&value)
                    } else {
                        render_value(&key, &value)
                    };
                    parts.push(format!("{}: {}", yaml_scalar(&key), yaml_scalar(&value)));
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
/// for a reply (`text`), followed by a digest of what came after the first line; for the
/// Places stub's answer (`body`), a digest of its JSON.
pub fn render_value(key: &str, value: &str) -> String {
    if key == "body" {
        return digest_answer_body(value);
    }
    if key != "text" {
        return shorten(value, RENDER_CHARS_MAX);
    }
    if value.starts_with("# HELP ") {
        // A server's metrics scrape: the `metrics` checker reads it; the timeline counts it.
        let samples = value.lines().filter(|l| !l.starts_with('#')).count();
        return format!("[scrape: {samples} samples]");
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

/// The Places stub's answer body in a few words: `json: 3 results, status OK` (legacy),
/// `json: 3 places` (Places API (New)), `json: error RESOURCE_EXHAUSTED`; anything that is
/// not a JSON object is shortened as it is.
fn digest_answer_body(body: &str) -> String {
    let Ok(serde_json::Value::Object(json)) = serde_json::from_str::<serde_json::Value>(body)
    else {
        return shorten(body, RENDER_CHARS_MAX);
    };
    if let Some(error) = json.get("error") {
        let status = error["status"].as_str().unwrap_or("missing");
        return format!("json: error {status}");
    }
    if json.contains_key("status") || json.contains_key("results") {
        return digest_body(body).unwrap_or_default();
    }
    let places = json
        .get("places")
        .and_then(|p| p.as_array())
        .map_or(0, Vec::len);
    format!("json: {places} places")
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
    use crate::scenario::{Action, LinkCut, PlacesFault};
    use crate::trace::SimEvent;
    use server::events::{Event, Source};
    use server::store::Outcome;
    use std::collections::BTreeMap;

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
        let record = crate::trace::read::at_line(
            "AT Clark +0.002000000 kiwi +34.068930-118.445127 1700000000",
        )
        .expect("a valid AT line");
        trace.push(TraceEvent::server(
            ms(2),
            "Clark",
            Event::RecordStored {
                record,
                outcome: Outcome::New,
                source: Source::Client,
            },
        ));
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
    fn the_stubs_answer_bodies_are_digested() {
        let request = TraceEvent::places_stub_request(ms(0), "/p", "1,2", "10", true, None);
        let line = |body: &str| {
            let mut trace = Trace::new();
            if let Some(answer) =
                TraceEvent::places_stub_answer(ms(0), &request, 200, body.as_bytes())
            {
                trace.push(answer);
            }
            trace.to_snapshot_yaml()
        };
        let legacy = r#"{"html_attributions":[],"results":[{},{}],"status":"OK"}"#;
        assert!(
            line(legacy).contains("body: \"json: 2 results, status OK\""),
            "{}",
            line(legacy)
        );
        assert!(line(r#"{"places":[{}]}"#).contains("body: \"json: 1 places\""));
        assert!(line("{}").contains("body: \"json: 0 places\""));
        let error = r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}"#;
        assert!(line(error).contains("body: \"json: error RESOURCE_EXHAUSTED\""));
        let html = line("<html>upstream trouble</html>");
        assert!(
            html.contains("body: \"<html>upstream trouble</html>\""),
            "{html}"
        );
        assert!(
            html.contains("http_status: 200, location: \"1,2\", path: \"/p\", radius: 10 }"),
            "{html}"
        );
    }

    #[test]
    fn remote_ports_are_hidden_in_snapshots() {
        let mut trace = Trace::new();
        trace.push(TraceEvent::server(
            ms(3),
            "Clark",
            Event::ConnectionOpened {
                conn: 1,
                remote: "192.168.0.9:49153".into(),
            },
        ));
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
        assert_eq!(
            event.sim_event(),
            Some(&SimEvent::Partition {
                step: 2,
                from: vec!["Clark".into()],
                to: vec!["Bona".into(), "Jaquez".into()],
                oneway: true
            })
        );
        let fields = event.ordered_fields();
        assert!(
            fields.contains(&("to".into(), "Bona,Jaquez".into())),
            "{fields:?}"
        );
        let places = Action::Places(PlacesFault {
            http_status: Some(503),
            ..PlacesFault::default()
        });
        let event = TraceEvent::fault(ms(1000), 3, &places).ok_or("places is a fault")?;
        assert!(
            event
                .ordered_fields()
                .contains(&("http_status".into(), "503".into()))
        );
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
