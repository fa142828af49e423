//! One-line human descriptions of steps, for the timeline and the report:
//! `partition [Clark] | [Bona, Jaquez]`, `crash Campbell`, `kiwi -> Clark IAMAT ...`.

use super::{Action, Expect, PlacesFault, RawPayload, Step, fmt_duration};

/// Raw payloads longer than this are cut in descriptions.
const DESCRIBE_CHARS_MAX: usize = 60;

impl Step {
    /// `at 1.5s: <action>`, plus the expectation if any.
    pub fn describe(&self) -> String {
        let mut text = format!("at {}: {}", fmt_duration(self.at), self.action.describe());
        if let Some(expect) = &self.expect {
            text.push_str(&format!(", expect {}", expect.describe()));
        }
        text
    }
}

impl Action {
    /// One line saying what the step does, e.g. `partition [Clark] | [Bona, Jaquez]`
    /// (`->` instead of `|` for one-way), `kiwi -> Clark IAMAT kiwi +34.1-118.4 <now>`.
    pub fn describe(&self) -> String {
        match self {
            Action::IamAt(a) => format!(
                "{} -> {} IAMAT {} {} {}",
                a.client,
                a.server,
                a.client,
                a.location,
                a.timestamp.as_deref().unwrap_or("<now>")
            ),
            Action::WhatsAt(a) => format!(
                "{} -> {} WHATSAT {} {} {}",
                a.client, a.server, a.client, a.radius_km, a.bound
            ),
            Action::Raw(a) => format!(
                "{} -> {} raw {}",
                a.client,
                a.server,
                describe_payload(&a.payload)
            ),
            Action::Partition(l) => format!("partition {}", groups(&l.between, &l.and, l.oneway)),
            Action::Repair(l) => format!("repair {}", groups(&l.between, &l.and, l.oneway)),
            Action::Hold(l) => format!("hold {}", groups(&l.between, &l.and, false)),
            Action::Release(l) => format!("release {}", groups(&l.between, &l.and, false)),
            Action::Latency(l) => format!(
                "latency {} {}",
                groups(&l.between, &l.and, false),
                l.latency
            ),
            Action::Crash(name) => format!("crash {name}"),
            Action::Disk(d) => format!("disk {} {}", d.server, d.fault.as_str()),
            Action::Restart(name) => format!("restart {name}"),
            Action::Impostor(i) => format!("an impostor takes {}'s address", i.server),
            Action::Tamper(t) => format!("tamper {} -> {}: {}", t.from, t.to, t.mode.describe()),
            Action::Skew(s) => format!("skew {} by {}", s.server, s.by),
            Action::Places(p) => format!("places {}", p.describe()),
            Action::Load(l) => format!(
                "load -> {} {} clients {}* over {} connections{}",
                l.server,
                l.clients,
                l.prefix,
                l.connections,
                l.per_second
                    .map(|r| format!(" at {r}/s"))
                    .unwrap_or_default()
            ),
            Action::Hostile(h) => {
                let mut what = Vec::new();
                if !h.lines.is_empty() {
                    let lines: Vec<String> =
                        h.lines.iter().map(|l| format!("{:?}", cut(l))).collect();
                    what.push(lines.join(" "));
                }
                if let Some(bytes) = h.huge_id_bytes {
                    what.push(format!("IAMAT with a {bytes}-byte id"));
                }
                if h.hold_connections > 0 {
                    what.push(format!("holds {} connections", h.hold_connections));
                }
                if let Some(name) = &h.peer_as {
                    what.push(format!("links as {name} with a valid proof"));
                }
                if let Some(stall) = &h.stall {
                    what.push(format!(
                        "stalls handshakes as {} at {}/s for {}",
                        stall.name,
                        stall.per_second,
                        crate::scenario::fmt_duration(stall.stall_for)
                    ));
                }
                format!("hostile -> {} {}", h.server, what.join(", "))
            }
        }
    }
}

impl PlacesFault {
    /// `healthy`, or the faults joined: `latency 2s, http_status 503`.
    pub fn describe(&self) -> String {
        self.settings()
            .into_iter()
            .map(|(key, value)| {
                if value == "true" {
                    key.to_string()
                } else {
                    format!("{key} {value}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The fields that are set, as text, in a fixed order (trace fields use these).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.healthy {
            out.push(("healthy", "true".to_string()));
        }
        if let Some(latency) = self.latency {
            out.push(("latency", fmt_duration(latency)));
        }
        if let Some(code) = self.http_status {
            out.push(("http_status", code.to_string()));
        }
        if self.malformed {
            out.push(("malformed", "true".to_string()));
        }
        if let Some(status) = &self.status {
            out.push(("status", status.clone()));
        }
        if self.unreachable {
            out.push(("unreachable", "true".to_string()));
        }
        out
    }
}

impl Expect {
    /// `origin=Clark location=+34.1-118.4`, or `invalid`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.invalid {
            Some(true) => parts.push("invalid".to_string()),
            Some(false) => parts.push("valid".to_string()),
            None => {}
        }
        let texts = [
            ("origin", &self.origin),
            ("location", &self.location),
            ("timestamp", &self.timestamp),
            ("time_diff", &self.time_diff),
            ("status", &self.status),
        ];
        for (key, value) in texts {
            if let Some(value) = value {
                parts.push(format!("{key}={value}"));
            }
        }
        if let Some(results) = self.results {
            parts.push(format!("results={results}"));
        }
        if let Some(replies) = self.replies {
            parts.push(format!("replies={replies}"));
        }
        parts.join(" ")
    }
}

fn groups(between: &[String], and: &[String], oneway: bool) -> String {
    let arrow = if oneway { "->" } else { "|" };
    format!("[{}] {arrow} [{}]", between.join(", "), and.join(", "))
}

fn describe_payload(payload: &RawPayload) -> String {
    match payload {
        RawPayload::Line(line) => format!("{:?}", cut(line)),
        RawPayload::Hex(bytes) => {
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("hex {}", cut(&hex.join(" ")))
        }
        RawPayload::Repeat {
            byte,
            count,
            newline,
        } => {
            let last = if *newline { "" } else { ", no newline" };
            format!("{:?} x {count}{last}", char::from(*byte))
        }
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= DESCRIBE_CHARS_MAX {
        return text.to_string();
    }
    let head: String = text.chars().take(DESCRIBE_CHARS_MAX).collect();
    format!("{head}...")
}
