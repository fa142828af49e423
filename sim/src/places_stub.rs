//! The simulated Places host: legacy Nearby Search and Places API (New) `searchNearby` over
//! turmoil, serving the server's own offline place data (one source for offline mode, wiremock
//! tests and the simulation), with faults switched by scenario steps. It records every request
//! it gets in the trace, and every answer it gives.

pub mod new_api;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::recorder::Recorder;
use crate::scenario::PlacesFault;
use crate::trace::TraceEvent;

/// The stub's port on its host ([`crate::hosts::PLACES_HOST`]).
pub const PORT: u16 = 80;
/// The key simulated servers send; the stub records whether one came, never its value.
pub const KEY: &str = "simulated-key";

/// The stub's current behaviour, replaced by `places` steps.
pub type FaultCell = Arc<Mutex<PlacesFault>>;

/// The stub host's software: accept, serve HTTP/1 with the current fault.
pub async fn serve(fault: FaultCell, recorder: Recorder) -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
    loop {
        let (stream, remote) = listener.accept().await?;
        // Which server asks, so checkers and diagrams pair each request with its WHATSAT.
        let from = turmoil::reverse_lookup(remote.ip()).unwrap_or_else(|| remote.ip().to_string());
        let (fault, recorder) = (fault.clone(), recorder.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                answer(req, from.clone(), fault.clone(), recorder.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The largest request body the stub reads; a `searchNearby` body is a few hundred bytes.
const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

async fn answer(
    req: Request<hyper::body::Incoming>,
    from: String,
    fault: FaultCell,
    recorder: Recorder,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (api, request_event) = if req.uri().path() == new_api::PATH {
        let (request, event) = read_search_nearby(req, from, &recorder).await;
        (Api::New(request), event)
    } else {
        let (query, event) = read_legacy(&req, from, &recorder);
        (Api::Legacy(query), event)
    };
    let fault = fault.lock().map(|f| f.clone()).unwrap_or_default();
    if fault.unreachable {
        // Never answer: the server's request timeout is what the client sees.
        std::future::pending::<()>().await;
    }
    let (status, body) = if let Some(code) = fault.http_status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Bytes::from_static(b"<html>upstream trouble</html>"))
    } else if fault.malformed {
        (
            StatusCode::OK,
            Bytes::from_static(b"{\"results\": [ this is not json"),
        )
    } else {
        match api {
            Api::Legacy(query) => legacy_answer(&query, fault.status.as_deref()),
            Api::New(request) => {
                let (code, body) = new_api::answer(&request, fault.status.as_deref());
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, Bytes::from(body))
            }
        }
    };
    // What the server will read, recorded as decided: `places_answers` judges each WHATSAT
    // reply against it. A `latency` fault delays the answer, not the record of it.
    if let Some(event) =
        TraceEvent::places_stub_answer(recorder.now(), &request_event, status.as_u16(), &body)
    {
        recorder.push(event);
    }
    if let Some(delay) = fault.latency {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Which API a request spoke, with what the stub read of it.
enum Api {
    Legacy(LegacyQuery),
    /// The body's request, or the refusal Google would answer.
    New(Result<new_api::SearchNearby, String>),
}

/// A legacy Nearby Search's query values, as written.
struct LegacyQuery {
    location: String,
    radius: String,
}

/// Reads and records a legacy `GET ...?location=&radius=&key=`; also returns the recorded
/// event, which its answer's record repeats.
fn read_legacy<B>(
    req: &Request<B>,
    from: String,
    recorder: &Recorder,
) -> (LegacyQuery, TraceEvent) {
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let location = get("location").unwrap_or_default();
    let radius = get("radius").unwrap_or_default();
    let event = TraceEvent::places_stub_request(
        recorder.now(),
        req.uri().path(),
        &location,
        &radius,
        get("key").is_some(),
        Some(from),
    );
    recorder.push(event.clone());
    (LegacyQuery { location, radius }, event)
}

/// Reads and records a Places (New) `POST /v1/places:searchNearby`: its key and field mask
/// headers and its JSON body. Anything Google would refuse is an `Err` with its message. Also
/// returns the recorded event, which its answer's record repeats.
async fn read_search_nearby(
    req: Request<hyper::body::Incoming>,
    from: String,
    recorder: &Recorder,
) -> (Result<new_api::SearchNearby, String>, TraceEvent) {
    let key_present = req.headers().contains_key("x-goog-api-key");
    let field_mask_present = req.headers().contains_key("x-goog-fieldmask");
    let method_is_post = req.method() == hyper::Method::POST;
    let path = req.uri().path().to_string();
    let body = http_body_util::Limited::new(req.into_body(), REQUEST_BODY_BYTES_MAX)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let read = new_api::read(&new_api::Received {
        method_is_post,
        field_mask_present,
        body: &body,
    });
    let event = TraceEvent::places_stub_search_nearby(
        recorder.now(),
        &path,
        &read.location,
        &read.radius,
        read.max_result_count,
        key_present,
        Some(from),
    );
    recorder.push(event.clone());
    (read.request, event)
}

/// The legacy answer: places at a readable location, else Google's refusal; `places_status`
/// (a fault) replaces both.
fn legacy_answer(query: &LegacyQuery, places_status: Option<&str>) -> (StatusCode, Bytes) {
    let body = if let Some(places_status) = places_status {
        serde_json::json!({
            "error_message": "the simulated Places host refuses this request",
            "html_attributions": [],
            "results": [],
            "status": places_status,
        })
    } else if let Some((lat, lng)) = readable_location(&query.location) {
        server::places::offline::nearby_json(lat, lng, query.radius.parse().unwrap_or(0.0))
    } else {
        unreadable_location_json(&query.location)
    };
    (StatusCode::OK, Bytes::from(body.to_string()))
}

/// What Google answers a location it cannot read, rather than places near 0,0.
pub fn unreadable_location_json(location: &str) -> serde_json::Value {
    serde_json::json!({
        "error_message": format!("Invalid request. Invalid 'location' parameter: {location:?}."),
        "html_attributions": [],
        "results": [],
        "status": "INVALID_REQUEST",
    })
}

/// Degrees of a `LAT,LNG` query value (docs/protocol.md §11), by the reference grammar and within
/// range; `None` for anything Places could not read.
pub fn readable_location(value: &str) -> Option<(f64, f64)> {
    let location = crate::oracle::spec::Location::from_places_query(value)?;
    if !location.in_range() {
        return None;
    }
    let (lat, lng) = value.split_once(',')?;
    Some((lat.parse().ok()?, lng.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::readable_location;

    #[test]
    fn only_two_decimal_degrees_in_range_are_a_location() {
        assert_eq!(readable_location("34.5,-118.25"), Some((34.5, -118.25)));
        for unreadable in [
            "",
            "34.5",
            "+34.5,-118",
            "34.5;-118",
            "-118,34.5",
            "1e1,0",
            "NaN,0",
        ] {
            assert_eq!(readable_location(unreadable), None, "{unreadable:?}");
        }
    }
}
