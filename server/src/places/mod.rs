//! The Places upstream: the JSON part of a WHATSAT reply (docs/protocol.md §3 and §11).
//!
//! `PlacesClient::nearby` asks Places (legacy Nearby Search or Places API (New)) or, with no
//! key, the built-in offline place set; cuts `results` to the bound; and lays the JSON out as
//! Google does. It never fails: any upstream failure becomes a JSON object of the same shape,
//! so the herd keeps answering while Places is down.
//!
//! - `transport`: the [`HttpSend`] seam and the one time- and size-bounded exchange.
//! - `legacy`, `new_api`: each API's request and how its answer is read.
//! - `error`: why there is no place data, and the failure JSON.
//! - [`budget`]: one server's cache, merging of identical calls, and call rate bound.
//! - [`layout`]: Google's pretty-printing.
//! - [`offline`]: the offline place set, shared with the simulation and the tests.
//!
//! The key is only ever written into the request to Places: not into events, `describe`,
//! or error messages (which are scrubbed of it in case an upstream error echoes it).

pub mod budget;
mod error;
pub mod layout;
mod legacy;
mod new_api;
pub mod offline;
mod transport;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::Value;

use crate::events::Event;
use crate::protocol::{Location, Radius};
use budget::{Budget, Search, Spent};
use error::UpstreamError;
pub use transport::{BoxError, HttpSend, SendFuture};

/// How long one Places request may take, connect to last body byte, by default.
pub const TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// The largest Places body read by default; 20 legacy results are far below it.
pub const RESPONSE_BYTES_MAX_DEFAULT: usize = 1 << 20;

/// What replaces the key wherever an upstream text might echo it.
const KEY_REDACTED: &str = "[redacted]";

/// Which Places API the key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PlacesApi {
    /// Legacy Nearby Search, the assignment's API.
    #[default]
    Legacy,
    /// Places API (New) `searchNearby`, the only one new Google projects can enable.
    New,
}

impl PlacesApi {
    fn as_str(self) -> &'static str {
        match self {
            PlacesApi::Legacy => "legacy",
            PlacesApi::New => "new",
        }
    }
}

impl fmt::Display for PlacesApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Places API name that is neither `legacy` nor `new`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Places API {0:?} (expected \"legacy\" or \"new\")")]
pub struct UnknownPlacesApi(pub String);

impl FromStr for PlacesApi {
    type Err = UnknownPlacesApi;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "legacy" => Ok(PlacesApi::Legacy),
            "new" => Ok(PlacesApi::New),
            other => Err(UnknownPlacesApi(other.to_string())),
        }
    }
}

/// How to reach Places. Defaults: legacy API at Google's own base, 5 s, 1 MiB.
#[derive(Debug, Clone)]
pub struct PlacesSettings {
    pub api: PlacesApi,
    /// `None`: the API's own base (`https://maps.googleapis.com` for legacy,
    /// `https://places.googleapis.com` for New). Tests and the simulation point it elsewhere.
    pub base_url: Option<String>,
    /// One deadline over the whole request, body included.
    pub timeout: Duration,
    /// Larger bodies are an upstream failure and are never buffered beyond this.
    pub response_bytes_max: usize,
}

impl Default for PlacesSettings {
    fn default() -> Self {
        PlacesSettings {
            api: PlacesApi::default(),
            base_url: None,
            timeout: TIMEOUT_DEFAULT,
            response_bytes_max: RESPONSE_BYTES_MAX_DEFAULT,
        }
    }
}

/// The Places upstream of one server. Cheap to clone: every connection handler holds one.
#[derive(Clone)]
pub struct PlacesClient {
    inner: Arc<Mode>,
}

enum Mode {
    Offline,
    Online(Online),
}

struct Online {
    settings: PlacesSettings,
    /// The configured base without a trailing `/`.
    base: String,
    key: String,
    http: Arc<dyn HttpSend>,
}

impl fmt::Debug for PlacesClient {
    /// Hand-written so the key can never reach a `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PlacesClient")
            .field(&self.describe())
            .finish()
    }
}

impl PlacesClient {
    /// No key: answers from the built-in offline place set (legacy shape, deterministic,
    /// marked as offline).
    pub fn offline() -> PlacesClient {
        PlacesClient {
            inner: Arc::new(Mode::Offline),
        }
    }

    /// Asks Places through `http` with `key`.
    pub fn online(settings: PlacesSettings, key: String, http: Arc<dyn HttpSend>) -> PlacesClient {
        let base = match (&settings.base_url, settings.api) {
            (Some(base), _) => base.trim_end_matches('/').to_string(),
            (None, PlacesApi::Legacy) => legacy::BASE_DEFAULT.to_string(),
            (None, PlacesApi::New) => new_api::BASE_DEFAULT.to_string(),
        };
        PlacesClient {
            inner: Arc::new(Mode::Online(Online {
                settings,
                base,
                key,
                http,
            })),
        }
    }

    /// Production: a hyper-util legacy client over hyper-rustls (webpki roots, ring; https,
    /// or plain http for a loopback base), with tokio timers so its pool never reads
    /// `std::time` on its own.
    ///
    /// Binary-only: its `HttpConnector` resolves names with `getaddrinfo` on tokio's blocking
    /// pool, which the simulation must not use; the simulation calls [`PlacesClient::online`]
    /// with its own connector instead. Relies on ring being rustls' only crypto provider in
    /// the build (hyper-rustls' `with_webpki_roots` asks rustls for the default provider).
    pub fn https(settings: PlacesSettings, key: String) -> PlacesClient {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client: Client<_, http_body_util::Full<bytes::Bytes>> =
            Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .build(connector);
        PlacesClient::online(settings, key, Arc::new(client))
    }

    pub fn is_offline(&self) -> bool {
        matches!(*self.inner, Mode::Offline)
    }

    /// One line for the start-up summary. Never contains the key.
    pub fn describe(&self) -> String {
        match &*self.inner {
            Mode::Offline => "offline place set (PLACES_API_KEY not set)".to_string(),
            Mode::Online(online) => {
                let api = match online.settings.api {
                    PlacesApi::Legacy => "legacy Nearby Search",
                    PlacesApi::New => "Places API (New) searchNearby",
                };
                format!(
                    "{api} at {} (timeout {:?}, response_bytes_max {})",
                    online.base, online.settings.timeout, online.settings.response_bytes_max
                )
            }
        }
    }

    /// The JSON part of a WHATSAT reply: a Nearby Search at `location` within `radius`,
    /// `results` cut to `bound`, in Google's layout, ending in exactly `"\n\n"`.
    ///
    /// Never fails: a timeout, connect error, non-2xx, oversized or unparseable body, or a
    /// non-OK status gives the same shape with `"results" : []`, Google's status (else
    /// `"UNKNOWN_ERROR"`) and an `"error_message"`.
    ///
    /// Emits `places_request {api, radius_m, bound}` (`api` is `legacy`, `new` or `offline`),
    /// `places_error {kind, detail}` on a failure, and always one `places_response {status,
    /// results, bytes}`, `bytes` being the laid-out JSON's length: a trace can pair every
    /// request with its response.
    pub async fn nearby(&self, location: &Location, radius: &Radius, bound: usize) -> String {
        self.answer(location, radius, bound, None).await.text
    }

    /// [`PlacesClient::nearby`] within one server's [`Budget`]: an online answer comes from
    /// its cache, from an identical call in flight, or from a call of its own if the call rate
    /// bound allows; past that bound the JSON is Google's `OVER_QUERY_LIMIT` shape. Emits
    /// `places_spared {how}` (`cached`, `merged` or `over_rate`) when no call of its own went
    /// upstream, between `places_request` and `places_response`.
    pub async fn nearby_within(
        &self,
        budget: &Budget,
        location: &Location,
        radius: &Radius,
        bound: usize,
    ) -> Answer {
        self.answer(location, radius, bound, Some(budget)).await
    }

    async fn answer(
        &self,
        location: &Location,
        radius: &Radius,
        bound: usize,
        budget: Option<&Budget>,
    ) -> Answer {
        let api = match &*self.inner {
            Mode::Offline => "offline",
            Mode::Online(online) => online.settings.api.as_str(),
        };
        Event::PlacesRequest {
            api: api.to_string(),
            radius_m: radius.metres_text(),
            bound: bound as u64,
        }
        .emit();
        let mut latency = None;
        let (answer, spent) = match (&*self.inner, budget) {
            (Mode::Offline, _) => (
                Some(Ok(offline::nearby_json(
                    location.latitude(),
                    location.longitude(),
                    radius.metres(),
                ))),
                Spent::Called,
            ),
            (Mode::Online(online), None) => (
                Some(
                    online
                        .nearby(location, radius, bound)
                        .await
                        .map_err(Arc::new),
                ),
                Spent::Called,
            ),
            (Mode::Online(online), Some(budget)) => {
                let search = Search {
                    location: location.query_value(),
                    radius_m: radius.metres_text(),
                    bound: (online.settings.api == PlacesApi::New).then_some(bound),
                };
                let latency = &mut latency;
                budget
                    .fetch(search, || async move {
                        let started = tokio::time::Instant::now();
                        let fetched = online.nearby(location, radius, bound).await;
                        *latency = Some(started.elapsed());
                        fetched.map_err(Arc::new)
                    })
                    .await
            }
        };
        if let Some(how) = spent.spared() {
            Event::PlacesSpared {
                how: how.to_string(),
            }
            .emit();
        }
        let value = match answer {
            Some(Ok(value)) => cut_results(value, bound),
            Some(Err(failure)) => {
                let redact = |text: String| match &*self.inner {
                    Mode::Online(online) => online.redact(text),
                    Mode::Offline => text,
                };
                // A failure shared by merged WHATSATs is reported once, by the one that called.
                if spent == Spent::Called {
                    Event::PlacesError {
                        kind: failure.kind().to_string(),
                        detail: redact(failure.to_string()),
                    }
                    .emit();
                }
                redact_strings(failure.to_json(), &redact)
            }
            None => error::over_query_limit(budget.map_or(0, Budget::calls_per_second_max)),
        };
        let mut text = layout::google_layout(&value);
        let status = value
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or(error::UNKNOWN_ERROR)
            .to_string();
        let results = value
            .get("results")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        Event::PlacesResponse {
            status: status.clone(),
            results: results as u64,
            bytes: text.len() as u64,
        }
        .emit();
        text.push_str("\n\n");
        Answer {
            text,
            spent,
            status,
            latency,
        }
    }
}

/// A WHATSAT's JSON and how it was come by, for metrics.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The laid-out JSON, ending in `"\n\n"`.
    pub text: String,
    pub spent: Spent,
    /// The JSON's `status`.
    pub status: String,
    /// How long this WHATSAT's own upstream call took, when it made one.
    pub latency: Option<Duration>,
}

impl Online {
    /// The API's answer in legacy shape, uncut.
    async fn nearby(
        &self,
        location: &Location,
        radius: &Radius,
        bound: usize,
    ) -> Result<Value, UpstreamError> {
        let request = match self.settings.api {
            PlacesApi::Legacy => legacy::request(&self.base, &self.key, location, radius)?,
            PlacesApi::New => new_api::request(&self.base, &self.key, location, radius, bound)?,
        };
        let exchange = transport::exchange(
            self.http.as_ref(),
            request,
            self.settings.timeout,
            self.settings.response_bytes_max,
        )
        .await?;
        match self.settings.api {
            PlacesApi::Legacy => legacy::interpret(exchange),
            PlacesApi::New => new_api::interpret(exchange),
        }
    }

    /// `text` with the key, raw or percent-encoded, replaced.
    fn redact(&self, text: String) -> String {
        if self.key.is_empty() {
            return text;
        }
        text.replace(&self.key, KEY_REDACTED)
            .replace(&legacy::query_component(&self.key), KEY_REDACTED)
    }
}

/// Keeps the first `bound` items of `"results"`; every other key, and key order, untouched.
fn cut_results(mut value: Value, bound: usize) -> Value {
    if let Some(results) = value.get_mut("results").and_then(Value::as_array_mut) {
        results.truncate(bound);
    }
    value
}

/// Applies `redact` to every string in `value` (failure JSON only: it is small).
fn redact_strings(value: Value, redact: &dyn Fn(String) -> String) -> Value {
    match value {
        Value::String(text) => Value::String(redact(text)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| redact_strings(v, redact))
                .collect(),
        ),
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .map(|(k, v)| (k, redact_strings(v, redact)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearby_future_can_be_spawned() {
        fn assert_send<T: Send + 'static>(_: T) {}
        let client = PlacesClient::offline();
        let (location, radius) = match ("+1-2".parse::<Location>(), "1".parse::<Radius>()) {
            (Ok(location), Ok(radius)) => (location, radius),
            _ => panic!("test values do not parse"),
        };
        assert_send(async move { client.nearby(&location, &radius, 5).await });
    }

    #[test]
    fn places_api_names_round_trip() {
        for api in [PlacesApi::Legacy, PlacesApi::New] {
            assert_eq!(api.to_string().parse::<PlacesApi>(), Ok(api));
        }
        assert!("New".parse::<PlacesApi>().is_err());
    }

    #[test]
    fn cutting_keeps_key_order_and_other_keys() {
        let value = serde_json::json!({"html_attributions": [], "next_page_token": "t", "results": [1, 2, 3], "status": "OK"});
        assert_eq!(
            cut_results(value, 2).to_string(),
            r#"{"html_attributions":[],"next_page_token":"t","results":[1,2],"status":"OK"}"#
        );
    }

    #[test]
    fn the_description_of_an_online_client_never_contains_the_key() {
        struct Never;
        impl HttpSend for Never {
            fn send(&self, _req: http::Request<http_body_util::Full<bytes::Bytes>>) -> SendFuture {
                Box::pin(async { Err(BoxError::from("unused")) })
            }
        }
        let settings = PlacesSettings {
            api: PlacesApi::New,
            ..PlacesSettings::default()
        };
        let client = PlacesClient::online(settings, "sekrit".to_string(), Arc::new(Never));
        assert!(
            client
                .describe()
                .starts_with("Places API (New) searchNearby at https://places.googleapis.com")
        );
        assert!(!client.describe().contains("sekrit"));
        assert!(!format!("{client:?}").contains("sekrit"));
        assert!(!client.is_offline());
    }
}
