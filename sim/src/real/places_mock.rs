//! Places on wiremock: the legacy Nearby Search and Places API (New) `searchNearby` answered
//! from the server's own offline place set (the simulated stub's data and its reading of New
//! API bodies), every request recorded as the stub's trace event, and the scenario's `places`
//! faults as wiremock behaviours.
//!
//! Each server's `--places-base` ends in its own name (`http://127.0.0.1:PORT/Bailey`), so the
//! mock knows who asks even though every request arrives through the fault proxy, and
//! `places_calls` pairs each request with the WHATSAT it serves as in the simulation.

use std::time::Duration;

use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::places_stub::{FaultCell, new_api};
use crate::recorder::Recorder;
use crate::trace::TraceEvent;

/// An unreachable Places never answers: wiremock holds the reply this long, longer than any
/// `places_timeout`, so the server's own timeout is what its client sees (as in the
/// simulation, whose stub accepts and never answers).
pub const UNREACHABLE_DELAY: Duration = Duration::from_secs(3600);
/// The legacy Nearby Search path, after the server's name.
const LEGACY_PATH: &str = "/maps/api/place/nearbysearch/json";

/// Starts the mock; it lives until dropped.
pub async fn start(fault: FaultCell, events: Recorder) -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^/[^/]+{LEGACY_PATH}$")))
        .respond_with(Answer {
            fault: fault.clone(),
            events: events.clone(),
        })
        .mount(&mock)
        .await;
    // Any method: a GET is recorded and refused, as Google refuses it. The path holds no
    // regex metacharacter.
    Mock::given(path_regex(format!("^/[^/]+{}$", new_api::PATH)))
        .respond_with(SearchNearbyAnswer { fault, events })
        .mount(&mock)
        .await;
    mock
}

/// The server's name (first path segment) and the rest of the path.
fn split_path(path: &str) -> (String, String) {
    path.strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .map(|(from, rest)| (from.to_string(), format!("/{rest}")))
        .unwrap_or_default()
}

/// What a fault does to when (and whether) a reply comes.
fn delayed(template: ResponseTemplate, fault: &crate::scenario::PlacesFault) -> ResponseTemplate {
    let delay = if fault.unreachable {
        Some(UNREACHABLE_DELAY)
    } else {
        fault.latency
    };
    match delay {
        Some(delay) => template.set_delay(delay),
        None => template,
    }
}

struct SearchNearbyAnswer {
    fault: FaultCell,
    events: Recorder,
}

impl Respond for SearchNearbyAnswer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (from, rest) = split_path(request.url.path());
        let header = |name: &str| request.headers.contains_key(name);
        let read = new_api::read(&new_api::Received {
            method_is_post: request.method.as_str() == "POST",
            field_mask_present: header("x-goog-fieldmask"),
            body: &request.body,
        });
        self.events.push(TraceEvent::places_stub_search_nearby(
            self.events.now(),
            &rest,
            &read.location,
            &read.radius,
            read.max_result_count,
            header("x-goog-api-key"),
            Some(from),
        ));
        let fault = self.fault.lock().map(|f| f.clone()).unwrap_or_default();
        let template = broken_transport(&fault).unwrap_or_else(|| {
            let (code, body) = new_api::answer(&read.request, fault.status.as_deref());
            ResponseTemplate::new(code).set_body_raw(body, "application/json")
        });
        delayed(template, &fault)
    }
}

/// The answer of a fault that breaks the response itself, the same for both APIs: an HTTP
/// error status, or a body that is not JSON.
fn broken_transport(fault: &crate::scenario::PlacesFault) -> Option<ResponseTemplate> {
    if let Some(code) = fault.http_status {
        Some(ResponseTemplate::new(code).set_body_raw("<html>upstream trouble</html>", "text/html"))
    } else if fault.malformed {
        Some(
            ResponseTemplate::new(200)
                .set_body_raw("{\"results\": [ this is not json", "application/json"),
        )
    } else {
        None
    }
}

struct Answer {
    fault: FaultCell,
    events: Recorder,
}

impl Respond for Answer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let get = |key: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        };
        let location = get("location").unwrap_or_default();
        let radius = get("radius").unwrap_or_default();
        let (from, rest) = split_path(request.url.path());
        self.events.push(TraceEvent::places_stub_request(
            self.events.now(),
            &rest,
            &location,
            &radius,
            get("key").is_some(),
            Some(from),
        ));
        let fault = self.fault.lock().map(|f| f.clone()).unwrap_or_default();
        let template = if let Some(broken) = broken_transport(&fault) {
            broken
        } else if let Some(places_status) = &fault.status {
            let body = serde_json::json!({
                "error_message": "the mocked Places host refuses this request",
                "html_attributions": [],
                "results": [],
                "status": places_status,
            });
            ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
        } else if let Some((lat, lng)) = crate::places_stub::readable_location(&location) {
            let body =
                server::places::offline::nearby_json(lat, lng, radius.parse().unwrap_or(0.0));
            ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
        } else {
            let body = crate::places_stub::unreadable_location_json(&location);
            ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
        };
        delayed(template, &fault)
    }
}
