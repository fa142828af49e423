//! Places on wiremock: the legacy Nearby Search and Places API (New) `searchNearby` answered
//! from the server's own offline place set (the simulated stub's data and its reading of New
//! API bodies), every request and answer recorded as the stub's trace events, and the
//! scenario's `places` faults as wiremock behaviours. An answer is recorded as decided, before
//! wiremock's delay, as the simulated stub records it before its `latency` fault.
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
        let event = TraceEvent::places_stub_search_nearby(
            self.events.now(),
            &rest,
            &read.location,
            &read.radius,
            read.max_result_count,
            header("x-goog-api-key"),
            Some(from),
        );
        self.events.push(event.clone());
        let fault = self.fault.lock().map(|f| f.clone()).unwrap_or_default();
        let answer = broken_transport(&fault).unwrap_or_else(|| {
            let (code, body) = new_api::answer(&read.request, fault.status.as_deref());
            MockAnswer::json(code, body)
        });
        answer.recorded(&event, &fault, &self.events)
    }
}

/// One answer of the mock before wiremock sends it: HTTP code, body, content type.
struct MockAnswer {
    code: u16,
    body: String,
    content_type: &'static str,
}

impl MockAnswer {
    fn json(code: u16, body: String) -> MockAnswer {
        MockAnswer {
            code,
            body,
            content_type: "application/json",
        }
    }

    /// Records the answer to `request` as the simulated stub does (unless the fault means
    /// it never comes) and makes it a template, delayed as the fault says.
    fn recorded(
        self,
        request: &TraceEvent,
        fault: &crate::scenario::PlacesFault,
        events: &Recorder,
    ) -> ResponseTemplate {
        if !fault.unreachable
            && let Some(answer) = TraceEvent::places_stub_answer(
                events.now(),
                request,
                self.code,
                self.body.as_bytes(),
            )
        {
            events.push(answer);
        }
        let template = ResponseTemplate::new(self.code).set_body_raw(self.body, self.content_type);
        delayed(template, fault)
    }
}

/// The answer of a fault that breaks the response itself, the same for both APIs: an HTTP
/// error status, or a body that is not JSON.
fn broken_transport(fault: &crate::scenario::PlacesFault) -> Option<MockAnswer> {
    if let Some(code) = fault.http_status {
        Some(MockAnswer {
            code,
            body: "<html>upstream trouble</html>".to_string(),
            content_type: "text/html",
        })
    } else if fault.malformed {
        Some(MockAnswer::json(
            200,
            "{\"results\": [ this is not json".to_string(),
        ))
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
        let event = TraceEvent::places_stub_request(
            self.events.now(),
            &rest,
            &location,
            &radius,
            get("key").is_some(),
            Some(from),
        );
        self.events.push(event.clone());
        let fault = self.fault.lock().map(|f| f.clone()).unwrap_or_default();
        let answer = if let Some(broken) = broken_transport(&fault) {
            broken
        } else if let Some(places_status) = &fault.status {
            let body = serde_json::json!({
                "error_message": "the mocked Places host refuses this request",
                "html_attributions": [],
                "results": [],
                "status": places_status,
            });
            MockAnswer::json(200, body.to_string())
        } else if let Some((lat, lng)) = crate::places_stub::readable_location(&location) {
            let body =
                server::places::offline::nearby_json(lat, lng, radius.parse().unwrap_or(0.0));
            MockAnswer::json(200, body.to_string())
        } else {
            let body = crate::places_stub::unreadable_location_json(&location);
            MockAnswer::json(200, body.to_string())
        };
        answer.recorded(&event, &fault, &self.events)
    }
}
