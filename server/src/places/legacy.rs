//! Legacy Nearby Search (the assignment's API): the GET request and reading its answer.
//!
//! Legacy answers HTTP 200 even for a denied key; the verdict is the body's `status`, so a
//! 2xx body is only place data when that status is `OK` or `ZERO_RESULTS`.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::Value;

use super::error::UpstreamError;
use super::transport::Exchange;
use crate::protocol::{Location, Radius};

/// Where legacy Nearby Search lives when no base URL is configured.
pub(crate) const BASE_DEFAULT: &str = "https://maps.googleapis.com";

const PATH: &str = "/maps/api/place/nearbysearch/json";

/// `GET {base}/maps/api/place/nearbysearch/json?location=LAT,LNG&radius=METRES&key=KEY`.
pub(crate) fn request(
    base: &str,
    key: &str,
    location: &Location,
    radius: &Radius,
) -> Result<Request<Full<Bytes>>, UpstreamError> {
    let uri = format!(
        "{base}{PATH}?location={}&radius={}&key={}",
        query_component(&location.query_value()),
        query_component(&radius.metres_text()),
        query_component(key),
    );
    // http's URI errors never quote the URI, so the key cannot leak through them.
    Request::get(uri)
        .body(Full::new(Bytes::new()))
        .map_err(|e| UpstreamError::Connect(format!("invalid Places request: {e}")))
}

/// The received object, every top-level key in received order, when it carries place data.
pub(crate) fn interpret(exchange: Exchange) -> Result<Value, UpstreamError> {
    let object = exchange.json_object()?;
    let Some(status) = object
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(UpstreamError::Malformed("no \"status\" string".to_string()));
    };
    if status != "OK" && status != "ZERO_RESULTS" {
        let message = object
            .get("error_message")
            .and_then(Value::as_str)
            .map(str::to_string);
        return Err(UpstreamError::Status {
            status,
            message,
            body: object,
        });
    }
    if !object.get("results").is_some_and(Value::is_array) {
        return Err(UpstreamError::Malformed(format!(
            "status {status} without a \"results\" array"
        )));
    }
    Ok(Value::Object(object))
}

/// Percent-encodes a query value: RFC 3986 unreserved characters and `,` (legacy's own
/// `LAT,LNG` separator) stay, every other byte becomes `%XX`, so a key with `&`, `=` or `+`
/// cannot change the query.
pub(crate) fn query_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~,".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_unreserved_characters_and_encode_the_rest() {
        assert_eq!(
            query_component("34.068930,-118.445127"),
            "34.068930,-118.445127"
        );
        assert_eq!(query_component("a+b&c=d é"), "a%2Bb%26c%3Dd%20%C3%A9");
    }
}
