//! Places API (New) `searchNearby`: the POST request and converting its answer to the
//! legacy shape, so clients see one reply format whichever API the key belongs to.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request};
use http_body_util::Full;
use serde_json::{Value, json};

use super::error::UpstreamError;
use super::transport::Exchange;
use crate::protocol::{Location, Radius};

/// Where Places API (New) lives when no base URL is configured.
pub(crate) const BASE_DEFAULT: &str = "https://places.googleapis.com";

const PATH: &str = "/v1/places:searchNearby";

/// Google rejects a `maxResultCount` outside 1..=20 with INVALID_ARGUMENT; WHATSAT's bound is
/// validated to that range already, so clamping only guards against a caller's mistake.
const MAX_RESULT_COUNT_MAX: usize = 20;

/// The New API answers only the fields asked for (and bills by them): these are the ones a
/// WHATSAT client can use.
pub(crate) const FIELD_MASK: &str = "places.id,places.displayName,places.formattedAddress,places.location,places.types,places.rating";

/// `POST {base}/v1/places:searchNearby` with the key in a header (never in the URL).
pub(crate) fn request(
    base: &str,
    key: &str,
    location: &Location,
    radius: &Radius,
    bound: usize,
) -> Result<Request<Full<Bytes>>, UpstreamError> {
    let body = json!({
        "maxResultCount": bound.clamp(1, MAX_RESULT_COUNT_MAX),
        "locationRestriction": {
            "circle": {
                "center": { "latitude": location.latitude(), "longitude": location.longitude() },
                "radius": radius.metres(),
            }
        }
    });
    let mut key_value = HeaderValue::from_str(key).map_err(|_| {
        UpstreamError::Connect("the Places key is not a valid HTTP header value".to_string())
    })?;
    // Keeps the key out of hyper's and http's Debug output.
    key_value.set_sensitive(true);
    Request::post(format!("{base}{PATH}"))
        .header(CONTENT_TYPE, "application/json")
        .header("X-Goog-Api-Key", key_value)
        .header("X-Goog-FieldMask", FIELD_MASK)
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| UpstreamError::Connect(format!("invalid Places request: {e}")))
}

/// `{"places": [...]}` (or `{}` when nothing is near) as legacy's
/// `{"html_attributions": [], "results": [places verbatim], "status": "OK"|"ZERO_RESULTS"}`.
pub(crate) fn interpret(exchange: Exchange) -> Result<Value, UpstreamError> {
    let object = exchange.json_object()?;
    let places = match object.get("places") {
        None => Vec::new(),
        Some(Value::Array(places)) => places.clone(),
        Some(_) => {
            return Err(UpstreamError::Malformed(
                "\"places\" is not an array".to_string(),
            ));
        }
    };
    let status = if places.is_empty() {
        "ZERO_RESULTS"
    } else {
        "OK"
    };
    Ok(json!({ "html_attributions": [], "results": places, "status": status }))
}
