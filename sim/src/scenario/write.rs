//! Writes a scenario back as YAML that loads to the same scenario: how generated (`swarm`) and
//! shrunk (`shrink`) scenarios become ordinary files anyone can replay.

use std::fmt::Write;

use super::{
    Action, Expect, HerdSource, Hostile, LimitOverrides, PlacesApi, PlacesFault, Raw, RawPayload,
    Scenario, Step, fmt_duration,
};

/// A YAML scalar: plain when it is a simple name, else double-quoted (JSON string syntax is
/// valid YAML), so nothing can be read back as a number, a boolean or null.
fn quote(text: &str) -> String {
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        return text.to_string();
    }
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", quoted.join(", "))
}

impl Scenario {
    /// The scenario as a YAML document, with `header` lines written first as comments.
    /// A herd from a file is written inline, so the document stands on its own anywhere.
    pub fn to_yaml(&self, header: &[String]) -> String {
        let mut out = String::new();
        for line in header {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "name: {}", quote(&self.name));
        if let Some(description) = &self.description {
            out.push_str("description: |\n");
            for line in description.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        let _ = writeln!(out, "seed: {}", self.seed);
        let _ = writeln!(out, "duration: {}", fmt_duration(self.duration));
        let _ = writeln!(out, "tick: {}", fmt_duration(self.tick));
        if self.start != super::START_DEFAULT {
            let _ = writeln!(out, "start: {}", super::start::format(self.start));
        }
        self.write_herd(&mut out);
        let _ = writeln!(out, "network: {{ latency: {} }}", self.network.latency);
        let limits = limits_flow(&self.limits);
        if !limits.is_empty() {
            let _ = writeln!(out, "limits: {{ {} }}", limits.join(", "));
        }
        if self.unauthenticated {
            let _ = writeln!(out, "unauthenticated: true");
        }
        if let Some(buggify) = &self.buggify {
            let _ = writeln!(out, "buggify: {}", buggify.flow());
        }
        if let Some(canary) = self.canary {
            let _ = writeln!(out, "canary: {canary}");
        }
        if self.places_api != PlacesApi::default() {
            let _ = writeln!(out, "places_api: {}", self.places_api);
        }
        if self.steps.is_empty() {
            out.push_str("steps: []\n");
        } else {
            out.push_str("steps:\n");
            for step in &self.steps {
                let _ = writeln!(out, "{}", step_yaml(step));
            }
        }
        let _ = writeln!(
            out,
            "checks:\n  converged_within: {}\n  answered_within: {}",
            fmt_duration(self.checks.converged_within),
            fmt_duration(self.checks.answered_within)
        );
        if let Some(refills_max) = self.checks.refills_max {
            let _ = writeln!(out, "  refills_max: {refills_max}");
        }
        if !self.checks.skip.is_empty() {
            let _ = writeln!(out, "  skip: {}", list(&self.checks.skip));
        }
        if !self.checks.real_divergence.is_empty() {
            out.push_str("  real_divergence:\n");
            for (checker, reason) in &self.checks.real_divergence {
                let _ = writeln!(out, "    {checker}: {}", yaml_scalar(reason));
            }
        }
        out
    }

    fn write_herd(&self, out: &mut String) {
        if self.herd_source == HerdSource::Default
            && self.herd == server::config::Herd::default_herd()
        {
            out.push_str("herd: default\n");
            return;
        }
        out.push_str("herd:\n");
        for line in herd_yaml(&self.herd).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// A herd as the body of a herd file (`server --herd FILE`): its servers, links, limits that
/// differ from the defaults (durations by the server's own writer) and data directory. A
/// scenario holds the same text indented under `herd:`.
pub fn herd_yaml(herd: &server::config::Herd) -> String {
    let mut out = String::from("servers:\n");
    for s in &herd.servers {
        let peer = s.peer_port.map(|p| format!(", peer_port: {p}"));
        let _ = writeln!(
            out,
            "  - {{ name: {}, host: {}, port: {}{} }}",
            quote(&s.name),
            quote(&s.host),
            s.port,
            peer.unwrap_or_default()
        );
    }
    if !herd.links.is_empty() {
        out.push_str("links:\n");
        for l in &herd.links {
            let classic = if l.classic { ", classic: true" } else { "" };
            let _ = writeln!(out, "  - {{ between: {}{classic} }}", list(&l.between));
        }
    }
    if herd.limits != server::config::Limits::default() {
        let limits = serde_json::to_string(&herd.limits).unwrap_or_else(|_| "{}".into());
        let _ = writeln!(out, "limits: {limits}");
    }
    if let Some(dir) = &herd.data_dir {
        let _ = writeln!(out, "data_dir: {}", quote(&dir.display().to_string()));
    }
    out
}

fn limits_flow(l: &LimitOverrides) -> Vec<String> {
    let mut out = Vec::new();
    let mut count = |name: &str, v: Option<usize>| {
        if let Some(v) = v {
            out.push(format!("{name}: {v}"));
        }
    };
    count("connections_max", l.connections_max);
    count("line_bytes_max", l.line_bytes_max);
    count("clients_max", l.clients_max);
    count("table_bytes_max", l.table_bytes_max);
    count("client_id_bytes_max", l.client_id_bytes_max);
    count("peer_links_max", l.peer_links_max);
    count("peer_handshakes_max", l.peer_handshakes_max);
    count("link_batch_max", l.link_batch_max);
    count("places_response_bytes_max", l.places_response_bytes_max);
    count("places_cache_bytes_max", l.places_cache_bytes_max);
    count("places_calls_per_second_max", l.places_calls_per_second_max);
    let durations = [
        ("client_idle_timeout", l.client_idle_timeout),
        ("backoff_min", l.backoff_min),
        ("backoff_max", l.backoff_max),
        ("peer_connect_timeout", l.peer_connect_timeout),
        ("heartbeat_interval", l.heartbeat_interval),
        ("heartbeat_timeout", l.heartbeat_timeout),
        ("places_timeout", l.places_timeout),
        ("whatsat_wait", l.whatsat_wait),
        ("places_cache_ttl", l.places_cache_ttl),
        ("ready_alone_after", l.ready_alone_after),
        ("timestamp_ahead_max", l.timestamp_ahead_max),
        ("client_write_timeout", l.client_write_timeout),
    ];
    for (name, value) in durations {
        if let Some(d) = value {
            out.push(format!("{name}: {}", fmt_duration(d)));
        }
    }
    out
}

fn step_yaml(step: &Step) -> String {
    let action = match &step.action {
        Action::IamAt(i) => {
            let timestamp = i
                .timestamp
                .as_ref()
                .map(|t| format!(", timestamp: {}", quote(t)))
                .unwrap_or_default();
            format!(
                "iamat: {{ client: {}, server: {}, location: {}{timestamp} }}",
                quote(&i.client),
                quote(&i.server),
                quote(&i.location)
            )
        }
        Action::WhatsAt(w) => format!(
            "whatsat: {{ client: {}, server: {}, radius_km: {}, bound: {} }}",
            quote(&w.client),
            quote(&w.server),
            quote(&w.radius_km),
            w.bound
        ),
        Action::Raw(r) => raw_yaml(r),
        Action::Partition(c) | Action::Repair(c) => {
            let oneway = if c.oneway { ", oneway: true" } else { "" };
            format!(
                "{}: {{ between: {}, and: {}{oneway} }}",
                step.action.kind(),
                list(&c.between),
                list(&c.and)
            )
        }
        Action::Hold(g) | Action::Release(g) => {
            format!(
                "{}: {{ between: {}, and: {} }}",
                step.action.kind(),
                list(&g.between),
                list(&g.and)
            )
        }
        Action::Latency(l) => format!(
            "latency: {{ between: {}, and: {}, latency: {} }}",
            list(&l.between),
            list(&l.and),
            l.latency
        ),
        Action::Load(l) => {
            let rate = l
                .per_second
                .map(|r| format!(", per_second: {r}"))
                .unwrap_or_default();
            format!(
                "load: {{ server: {}, clients: {}, connections: {}, prefix: {}{rate} }}",
                quote(&l.server),
                l.clients,
                l.connections,
                quote(&l.prefix)
            )
        }
        Action::Hostile(h) => hostile_yaml(h),
        Action::Crash(s) => format!("crash: {}", quote(s)),
        Action::Disk(d) => format!(
            "disk: {{ server: {}, fault: {} }}",
            quote(&d.server),
            d.fault.as_str()
        ),
        Action::Restart(s) => format!("restart: {}", quote(s)),
        Action::Impostor(i) if i.certificate == super::ImpostorCertificate::default() => {
            format!("impostor: {}", quote(&i.server))
        }
        Action::Impostor(i) => format!(
            "impostor: {{ server: {}, certificate: {} }}",
            quote(&i.server),
            i.certificate.yaml()
        ),
        Action::Tamper(t) => tamper_yaml(t),
        Action::Skew(s) => format!("skew: {{ server: {}, by: {} }}", quote(&s.server), s.by),
        Action::Places(p) => places_yaml(p),
    };
    let expect = step.expect.as_ref().map(expect_yaml).unwrap_or_default();
    format!("  - {{ at: {}, {action}{expect} }}", fmt_duration(step.at))
}

/// A `raw` step's action: its server, client and payload.
fn raw_yaml(r: &Raw) -> String {
    let payload = match &r.payload {
        RawPayload::Line(line) => format!("line: {}", quote(line)),
        RawPayload::Hex(bytes) => {
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("bytes_hex: {}", quote(&hex.join(" ")))
        }
        RawPayload::Repeat {
            byte,
            count,
            newline,
        } => {
            let last = if *newline { "" } else { ", newline: false" };
            format!(
                "repeat: {{ byte: {}, count: {count}{last} }}",
                quote(&(*byte as char).to_string())
            )
        }
    };
    format!(
        "raw: {{ server: {}, client: {}, {payload} }}",
        quote(&r.server),
        quote(&r.client)
    )
}

/// A `hostile` step's action, with only the fields it sets.
fn hostile_yaml(h: &Hostile) -> String {
    let mut parts = vec![format!("server: {}", quote(&h.server))];
    if !h.lines.is_empty() {
        let lines: Vec<String> = h.lines.iter().map(|l| quote(l)).collect();
        parts.push(format!("lines: [{}]", lines.join(", ")));
    }
    if h.to_peer_port {
        parts.push("to_peer_port: true".into());
    }
    if let Some(bytes) = h.huge_id_bytes {
        parts.push(format!("huge_id_bytes: {bytes}"));
    }
    if h.hold_connections > 0 {
        parts.push(format!("hold_connections: {}", h.hold_connections));
    }
    if let Some(d) = h.hold_for {
        parts.push(format!("for: {}", fmt_duration(d)));
    }
    if let Some(name) = &h.peer_as {
        parts.push(format!("peer_as: {}", quote(name)));
    }
    if let Some(stall) = &h.stall {
        parts.push(format!(
            "stall: {{ as: {}, per_second: {}, for: {} }}",
            quote(&stall.name),
            stall.per_second,
            fmt_duration(stall.stall_for)
        ));
    }
    format!("hostile: {{ {} }}", parts.join(", "))
}

/// A `places` step's action, with only the faults it sets (`healthy` when none).
fn places_yaml(p: &PlacesFault) -> String {
    let mut parts = Vec::new();
    if let Some(d) = p.latency {
        parts.push(format!("latency: {}", fmt_duration(d)));
    }
    if let Some(code) = p.http_status {
        parts.push(format!("http_status: {code}"));
    }
    if p.malformed {
        parts.push("malformed: true".into());
    }
    if let Some(status) = &p.status {
        parts.push(format!("status: {}", quote(status)));
    }
    if p.unreachable {
        parts.push("unreachable: true".into());
    }
    if p.healthy || parts.is_empty() {
        parts.push("healthy: true".into());
    }
    format!("places: {{ {} }}", parts.join(", "))
}

fn expect_yaml(e: &Expect) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &e.origin {
        parts.push(format!("origin: {}", quote(v)));
    }
    if let Some(v) = &e.location {
        parts.push(format!("location: {}", quote(v)));
    }
    if let Some(v) = &e.timestamp {
        parts.push(format!("timestamp: {}", quote(v)));
    }
    if let Some(v) = &e.time_diff {
        parts.push(format!("time_diff: {}", quote(v)));
    }
    if let Some(v) = e.results {
        parts.push(format!("results: {v}"));
    }
    if let Some(v) = &e.status {
        parts.push(format!("status: {}", quote(v)));
    }
    if let Some(v) = e.invalid {
        parts.push(format!("invalid: {v}"));
    }
    if let Some(v) = e.replies {
        parts.push(format!("replies: {v}"));
    }
    format!(", expect: {{ {} }}", parts.join(", "))
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

/// A `tamper` step's action.
fn tamper_yaml(t: &crate::scenario::Tamper) -> String {
    use crate::scenario::TamperMode;
    let mode = match &t.mode {
        TamperMode::Inject(bytes) => format!("inject: {}", quote(&String::from_utf8_lossy(bytes))),
        TamperMode::Replay(n) => format!("replay: {n}"),
        TamperMode::Alter(n) => format!("alter: {n}"),
    };
    format!(
        "tamper: {{ from: {}, to: {}, {mode} }}",
        quote(&t.from),
        quote(&t.to)
    )
}

#[cfg(test)]
mod tests {
    use super::super::Scenario;

    #[test]
    fn every_committed_scenario_writes_back_to_an_equal_scenario() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let original = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let text = original.to_yaml(&["written back".to_string()]);
            let reread =
                Scenario::from_yaml_str(&text, &path).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(
                reread.steps.len(),
                original.steps.len(),
                "{}",
                path.display()
            );
            for (a, b) in reread.steps.iter().zip(&original.steps) {
                assert_eq!(
                    (a.at, &a.action, &a.expect),
                    (b.at, &b.action, &b.expect),
                    "{}",
                    path.display()
                );
            }
            assert_eq!(reread.herd, original.herd, "{}", path.display());
            assert_eq!(reread.limits, original.limits);
            assert_eq!(reread.checks, original.checks);
            assert_eq!(
                (reread.seed, reread.duration, reread.tick, reread.start),
                (
                    original.seed,
                    original.duration,
                    original.tick,
                    original.start
                )
            );
            assert_eq!(reread.network, original.network);
            assert_eq!(
                reread.to_yaml(&[]),
                original.to_yaml(&[]),
                "writing is a fixed point"
            );
            checked += 1;
        }
        assert!(checked >= 10);
    }
}
