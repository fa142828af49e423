//! The file's shape as serde sees it, and the hand-written parts of deserialization: durations,
//! a step (one `at`, one action key, an optional `expect`), the three ways to name a herd, and
//! a raw step's three payloads. Everything here keeps serde-saphyr's positions in its errors.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;
use server::config::Herd;

use super::{
    Action, Checks, Expect, LatencyRange, LimitOverrides, Network, PlacesApi, RAW_REPEAT_COUNT_MAX,
    Raw, RawPayload, ScenarioError, SignedDuration,
};

/// The top level of a scenario file, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub seed: u64,
    pub duration: Spanned<Dur>,
    #[serde(default)]
    pub tick: Option<Spanned<Dur>>,
    #[serde(default)]
    pub start: Option<Spanned<String>>,
    #[serde(default)]
    pub herd: Option<Spanned<HerdSpec>>,
    #[serde(default)]
    pub network: Option<NetworkFile>,
    #[serde(default)]
    pub limits: Option<Spanned<LimitOverrides>>,
    #[serde(default)]
    pub places_api: PlacesApi,
    #[serde(default)]
    pub unauthenticated: bool,
    #[serde(default)]
    pub canary: Option<Spanned<String>>,
    #[serde(default)]
    pub buggify: Option<Spanned<super::buggify::BuggifySettings>>,
    #[serde(default)]
    pub steps: Vec<Spanned<StepFile>>,
    #[serde(default)]
    pub checks: Option<Spanned<Checks>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkFile {
    #[serde(default)]
    latency: Option<LatencyRange>,
}

impl NetworkFile {
    pub fn into_network(self) -> Network {
        let mut network = Network::default();
        if let Some(latency) = self.latency {
            network.latency = latency;
        }
        network
    }
}

/// Turns a serde-saphyr error into a `Syntax` error at its position, without the position
/// suffix serde-saphyr appends to the message (ours leads the line instead).
pub(super) fn syntax_error(path: &Path, err: &serde_saphyr::Error) -> ScenarioError {
    let (line, column) = err.location().map_or((0, 0), |l| (l.line(), l.column()));
    let mut message = err.without_snippet().to_string();
    let suffix = format!(" at line {line}, column {column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_string();
    }
    ScenarioError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Parses a non-negative duration: `0`, `250ms`, `1s`, `1.5s`, `2m`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    server::config::parse_duration(text)
        .map_err(|_| format!("expected a duration like 250ms, 1s or 1.5s, found `{text}`"))
}

/// A duration field (`deserialize_with`).
pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(de::Error::custom)
}

/// An optional duration field (`deserialize_with`, with `default`).
pub(super) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_duration(&text).map(Some).map_err(de::Error::custom),
    }
}

/// A duration value that can be wrapped in `Spanned`.
pub(super) struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        duration(d).map(Dur)
    }
}

impl std::str::FromStr for LatencyRange {
    type Err = String;

    /// `min..max`, or one duration for both; what `Display` writes reads back.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (min, max) = text.split_once("..").unwrap_or((text, text));
        let (min, max) = (parse_duration(min)?, parse_duration(max)?);
        if min > max {
            return Err(format!(
                "latency range `{text}` has its minimum above its maximum"
            ));
        }
        Ok(LatencyRange { min, max })
    }
}

impl<'de> Deserialize<'de> for LatencyRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let trimmed = text.trim();
        let (negative, rest) = match (trimmed.strip_prefix('-'), trimmed.strip_prefix('+')) {
            (Some(rest), _) => (true, rest),
            (_, Some(rest)) => (false, rest),
            _ => (false, trimmed),
        };
        let magnitude = parse_duration(rest).map_err(|_| {
            de::Error::custom(format!(
                "expected a signed duration like -3s or +250ms, found `{text}`"
            ))
        })?;
        Ok(SignedDuration {
            negative: negative && !magnitude.is_zero(),
            magnitude,
        })
    }
}

/// One step as written: `at`, exactly one action key, and maybe `expect`.
pub(super) struct StepFile {
    pub at: Duration,
    pub action: Action,
    pub expect: Option<Expect>,
}

/// Every key a step may have, for "expected one of" messages.
const STEP_KEYS: &[&str] = &[
    "at",
    "expect",
    "iamat",
    "whatsat",
    "raw",
    "partition",
    "repair",
    "hold",
    "release",
    "latency",
    "crash",
    "restart",
    "impostor",
    "tamper",
    "skew",
    "places",
    "load",
    "hostile",
    "disk",
];

impl<'de> Deserialize<'de> for StepFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = StepFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a step: a map with `at`, one action (iamat, whatsat, raw, partition, repair, hold, release, latency, crash, restart, impostor, tamper, skew, places, load, hostile, disk) and an optional `expect`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StepFile, A::Error> {
        let mut at = None;
        let mut expect = None;
        let mut action: Option<Action> = None;
        while let Some(key) = map.next_key::<String>()? {
            let parsed = match key.as_str() {
                "at" => {
                    if at.is_some() {
                        return Err(de::Error::duplicate_field("at"));
                    }
                    at = Some(map.next_value::<Dur>()?.0);
                    continue;
                }
                "expect" => {
                    if expect.is_some() {
                        return Err(de::Error::duplicate_field("expect"));
                    }
                    expect = Some(map.next_value::<Expect>()?);
                    continue;
                }
                "iamat" => Action::IamAt(map.next_value()?),
                "whatsat" => Action::WhatsAt(map.next_value()?),
                "raw" => Action::Raw(map.next_value()?),
                "partition" => Action::Partition(map.next_value()?),
                "repair" => Action::Repair(map.next_value()?),
                "hold" => Action::Hold(map.next_value()?),
                "release" => Action::Release(map.next_value()?),
                "latency" => Action::Latency(map.next_value()?),
                "crash" => Action::Crash(map.next_value()?),
                "restart" => Action::Restart(map.next_value()?),
                "impostor" => Action::Impostor(map.next_value()?),
                "tamper" => Action::Tamper(map.next_value()?),
                "skew" => Action::Skew(map.next_value()?),
                "places" => Action::Places(map.next_value()?),
                "load" => Action::Load(map.next_value()?),
                "hostile" => Action::Hostile(map.next_value()?),
                "disk" => Action::Disk(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, STEP_KEYS)),
            };
            if let Some(first) = &action {
                return Err(de::Error::custom(format!(
                    "a step holds one action, this one has both `{}` and `{}` (write two steps with the same `at`)",
                    first.kind(),
                    parsed.kind()
                )));
            }
            action = Some(parsed);
        }
        let at = at.ok_or_else(|| de::Error::missing_field("at"))?;
        let action = action.ok_or_else(|| {
            de::Error::custom(
                "a step needs one action: iamat, whatsat, raw, partition, repair, hold, release, latency, crash, restart, impostor, tamper, skew, places, load, hostile or disk",
            )
        })?;
        Ok(StepFile { at, action, expect })
    }
}

/// `herd: default`, `herd: { file: PATH }` or an inline herd.
pub(super) enum HerdSpec {
    Default,
    File(String),
    Inline(Box<Herd>),
}

impl<'de> Deserialize<'de> for HerdSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HerdVisitor)
    }
}

struct HerdVisitor;

impl<'de> Visitor<'de> for HerdVisitor {
    type Value = HerdSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "`default`, `{ file: PATH }` or an inline herd `{ servers: [...], links: [...] }`",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<HerdSpec, E> {
        if v == "default" {
            Ok(HerdSpec::Default)
        } else {
            Err(E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HerdSpec, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        if first == "file" {
            let file: String = map.next_value()?;
            if let Some(extra) = map.next_key::<String>()? {
                return Err(de::Error::custom(format!(
                    "a herd named by `file` takes no other key, found `{extra}`"
                )));
            }
            return Ok(HerdSpec::File(file));
        }
        // An inline herd: hand the whole map, first key included, to the server's own schema.
        let rest = PrependKey {
            first: Some(first),
            rest: map,
        };
        let herd = Herd::deserialize(de::value::MapAccessDeserializer::new(rest))?;
        Ok(HerdSpec::Inline(Box::new(herd)))
    }
}

/// A map access that replays one key already read, then continues with the rest.
struct PrependKey<A> {
    first: Option<String>,
    rest: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for PrependKey<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(key) => seed.deserialize(key.into_deserializer()).map(Some),
            None => self.rest.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.rest.next_value_seed(seed)
    }
}

/// A raw step as written; exactly one of `line`, `bytes_hex`, `repeat`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    server: String,
    #[serde(default = "default_raw_client")]
    client: String,
    #[serde(default)]
    line: Option<String>,
    #[serde(default)]
    bytes_hex: Option<String>,
    #[serde(default)]
    repeat: Option<RepeatFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepeatFile {
    byte: String,
    count: usize,
    #[serde(default = "newline_by_default")]
    newline: bool,
}

fn newline_by_default() -> bool {
    true
}

fn default_raw_client() -> String {
    "raw".to_string()
}

impl TryFrom<RawFile> for Raw {
    type Error = String;

    fn try_from(file: RawFile) -> Result<Raw, String> {
        let payload = match (file.line, file.bytes_hex, file.repeat) {
            (Some(line), None, None) => {
                if line.contains('\n') {
                    return Err("a raw `line` is one line: it may not contain a newline".into());
                }
                RawPayload::Line(line)
            }
            (None, Some(hex), None) => RawPayload::Hex(parse_hex(&hex)?),
            (None, None, Some(repeat)) => {
                let byte = match repeat.byte.as_bytes() {
                    [byte] => *byte,
                    _ => {
                        return Err(format!(
                            "`repeat.byte` is one ASCII character, found `{}`",
                            repeat.byte
                        ));
                    }
                };
                if byte == b'\n' {
                    return Err("`repeat.byte` may not be a newline".into());
                }
                if repeat.count == 0 || repeat.count > RAW_REPEAT_COUNT_MAX {
                    return Err(format!(
                        "`repeat.count` must be between 1 and {RAW_REPEAT_COUNT_MAX}, found {}",
                        repeat.count
                    ));
                }
                RawPayload::Repeat {
                    byte,
                    count: repeat.count,
                    newline: repeat.newline,
                }
            }
            _ => {
                return Err("a raw step has exactly one of `line`, `bytes_hex` or `repeat`".into());
            }
        };
        Ok(Raw {
            server: file.server,
            client: file.client,
            payload,
        })
    }
}

/// Hex bytes, white space between them allowed: `ff fe 0a`. A newline byte may only end them,
/// because a raw step is one line.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return Err(format!(
            "`bytes_hex` needs pairs of hex digits like `ff fe 0a`, found `{text}`"
        ));
    }
    let mut bytes = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks(2) {
        let pair = std::str::from_utf8(pair).map_err(|_| format!("`{text}` is not hex"))?;
        let byte = u8::from_str_radix(pair, 16)
            .map_err(|_| format!("`{pair}` in `bytes_hex` is not a hex byte"))?;
        bytes.push(byte);
    }
    if let Some(pos) = bytes.iter().position(|b| *b == b'\n')
        && pos + 1 != bytes.len()
    {
        return Err("`bytes_hex` is one line: a newline (0a) may only end it".into());
    }
    Ok(bytes)
}
