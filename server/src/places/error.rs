//! Why a Places request gave no place data, and the failure JSON a client gets instead.
//!
//! docs/protocol.md §11: a Places failure never fails the WHATSAT; the client gets the usual shape
//! with `"results" : []`, Google's status where there is one (else `"UNKNOWN_ERROR"`) and an
//! `"error_message"`. The variants are the `kind`s of the `places_error` event.

use std::time::Duration;

use serde_json::{Map, Value, json};

/// The status reported when Places gave none of its own.
pub(crate) const UNKNOWN_ERROR: &str = "UNKNOWN_ERROR";

#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// The whole exchange (connect, headers, body) overran `PlacesSettings::timeout`.
    #[error("Places did not answer within {0:?}")]
    Timeout(Duration),
    /// No response: bad URL or header, DNS, TCP, TLS, or the connection broke mid-body.
    #[error("could not reach Places: {0}")]
    Connect(String),
    /// A non-2xx answer; `status`/`message` are Google's when its error body carried them.
    #[error("Places answered HTTP {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    HttpStatus {
        code: u16,
        status: Option<String>,
        message: Option<String>,
    },
    /// The body was larger than `PlacesSettings::response_bytes_max`.
    #[error("Places response is over the {0}-byte limit")]
    TooLarge(usize),
    /// A 2xx body that is not the JSON object the API promises.
    #[error("Places response is malformed: {0}")]
    Malformed(String),
    /// A legacy body whose `status` is neither `OK` nor `ZERO_RESULTS`; `body` is kept so the
    /// reply shows Google's own fields in Google's order.
    #[error("Places answered status {status}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        status: String,
        message: Option<String>,
        body: Map<String, Value>,
    },
    /// Not asked: this server's upstream call rate bound was spent (`places_budget`).
    #[error("this server's Places call rate bound is spent")]
    OverRate,
}

impl UpstreamError {
    /// The `kind` field of the `places_error` event.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Timeout(_) => "timeout",
            UpstreamError::Connect(_) => "connect",
            UpstreamError::HttpStatus { .. } => "http_status",
            UpstreamError::TooLarge(_) => "too_large",
            UpstreamError::Malformed(_) => "malformed",
            UpstreamError::Status { .. } => "status",
            UpstreamError::OverRate => "over_rate",
        }
    }

    /// Google's status for this failure where it gave one.
    fn status(&self) -> &str {
        match self {
            UpstreamError::HttpStatus {
                status: Some(status),
                ..
            }
            | UpstreamError::Status { status, .. } => status,
            _ => UNKNOWN_ERROR,
        }
    }

    /// Google's own message where it gave one, else this error's description.
    fn error_message(&self) -> String {
        match self {
            UpstreamError::HttpStatus {
                message: Some(m), ..
            }
            | UpstreamError::Status {
                message: Some(m), ..
            } => m.clone(),
            _ => self.to_string(),
        }
    }

    /// The JSON a client gets in place of Places' answer.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            UpstreamError::Status { body, .. } => {
                let mut body = body.clone();
                // Assigning to an existing key keeps its position (preserve_order).
                body.insert("results".to_string(), json!([]));
                if !body.get("error_message").is_some_and(Value::is_string) {
                    body.insert(
                        "error_message".to_string(),
                        Value::String(self.error_message()),
                    );
                }
                Value::Object(body)
            }
            _ => json!({
                "html_attributions": [],
                "results": [],
                "status": self.status(),
                "error_message": self.error_message(),
            }),
        }
    }
}

/// What a client gets when this server's upstream call rate bound is spent: Google's own
/// `OVER_QUERY_LIMIT` shape, so a client that understands Places understands it.
pub(crate) fn over_query_limit(calls_per_second_max: usize) -> Value {
    json!({
        "html_attributions": [],
        "results": [],
        "status": "OVER_QUERY_LIMIT",
        "error_message": format!(
            "this server makes at most {calls_per_second_max} Places calls per second; try again shortly"
        ),
    })
}

/// Google's status and message from an error body: the New API's
/// `{"error": {"code", "message", "status"}}` or the legacy `{"status", "error_message"}`.
pub(crate) fn google_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    match object.get("error") {
        Some(Value::Object(error)) => (text(error.get("status")), text(error.get("message"))),
        _ => (
            text(object.get("status")),
            text(object.get("error_message")),
        ),
    }
}

/// The error and its sources, `": "`-joined: hyper's top-level errors alone ("client error
/// (Connect)") do not say what happened.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_api_error_body_gives_its_status_and_message() {
        let body = br#"{"error":{"code":403,"message":"API key not valid.","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(
            google_error(body),
            (
                Some("PERMISSION_DENIED".into()),
                Some("API key not valid.".into())
            )
        );
    }

    #[test]
    fn a_legacy_error_body_gives_its_status_and_message() {
        let body = br#"{"error_message":"nope","results":[],"status":"INVALID_REQUEST"}"#;
        assert_eq!(
            google_error(body),
            (Some("INVALID_REQUEST".into()), Some("nope".into()))
        );
    }

    #[test]
    fn a_body_that_is_not_json_gives_nothing() {
        assert_eq!(google_error(b"<html>502</html>"), (None, None));
    }

    #[test]
    fn a_plain_failure_has_the_reply_shape_with_unknown_error() {
        let json = UpstreamError::TooLarge(10).to_json();
        assert_eq!(
            json.to_string(),
            r#"{"html_attributions":[],"results":[],"status":"UNKNOWN_ERROR","error_message":"Places response is over the 10-byte limit"}"#
        );
    }

    #[test]
    fn a_status_failure_keeps_googles_fields_in_order_and_empties_results() {
        let body = match serde_json::from_str::<Value>(
            r#"{"html_attributions":[],"results":[1],"status":"OVER_QUERY_LIMIT"}"#,
        ) {
            Ok(Value::Object(body)) => body,
            other => panic!("{other:?}"),
        };
        let error = UpstreamError::Status {
            status: "OVER_QUERY_LIMIT".into(),
            message: None,
            body,
        };
        assert_eq!(
            error.to_json().to_string(),
            r#"{"html_attributions":[],"results":[],"status":"OVER_QUERY_LIMIT","error_message":"Places answered status OVER_QUERY_LIMIT"}"#
        );
    }
}
