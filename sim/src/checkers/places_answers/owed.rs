//! What a WHATSAT reply's JSON owes to the Places answer behind it (docs/protocol.md §3): the
//! answer itself with `results` cut to the bound when it carries places; otherwise the failure
//! shape, `"results" : []` with the upstream status (else `UNKNOWN_ERROR`) and an
//! `error_message` that names the cause where the answer or the fault says what it was.
//!
//! The answer is read here from the bytes the Places stub recorded, by docs/protocol.md §11's and
//! Google's rules (legacy `status`; the New API's HTTP code and `{"error": {...}}`), never
//! by the server's `places` module.

use serde_json::{Map, Value};

use super::ordered::first_difference;

/// The status a failure reports when Places gave none (docs/protocol.md §11).
pub const UNKNOWN_ERROR: &str = "UNKNOWN_ERROR";

/// Which Places API an answer spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Legacy Nearby Search: the reply is its body, `results` cut.
    Legacy,
    /// Places API (New): the server converts `places[]` to the legacy shape.
    New,
}

/// One answer of the Places stub, as the server received it.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub api: Api,
    pub http_status: u16,
    pub body: &'a str,
}

/// What a reply owes.
#[derive(Debug, Clone, PartialEq)]
pub enum Owed {
    /// Legacy place data: exactly this JSON, keys in the order received, `results` cut.
    Exactly(Value),
    /// Places (New) place data: these places, verbatim and in order, as `results`, and the
    /// status `OK` (or `ZERO_RESULTS` when there are none). The other keys are the server's
    /// conversion, which docs/protocol.md does not spell out.
    Converted(Vec<Value>),
    /// A legacy refusal (HTTP 200, a status neither `OK` nor `ZERO_RESULTS`): the body's keys
    /// in the order received with `results` emptied, and Google's `error_message` when it
    /// gave one (else any, anywhere).
    Refusal(Map<String, Value>),
    /// No place data: `"results" : []`, this status, and an `error_message` naming `cause`.
    Failure { status: String, cause: Cause },
}

/// What an `error_message` must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Something: docs/protocol.md §11 asks for a message, and this failure leaves no word it must
    /// contain.
    Unnamed,
    /// Google's own message, which the server passes on as it is.
    Google(String),
    /// This text: the HTTP code, when Google gave no message.
    Names(String),
    /// That Places did not answer in time: one of [`TIMEOUT_WORDS`].
    Timeout,
}

/// Words a message about a timeout uses (any one, in any case).
pub const TIMEOUT_WORDS: [&str; 3] = ["time", "within", "deadline"];

impl Owed {
    /// What a reply owes to `answer` for a WHATSAT with `bound`, where the server reads at
    /// most `bytes_max` bytes of a body.
    pub fn from_answer(answer: &Answer, bound: usize, bytes_max: usize) -> Owed {
        let failure = |status: Option<String>, cause: Cause| Owed::Failure {
            status: status.unwrap_or_else(|| UNKNOWN_ERROR.to_string()),
            cause,
        };
        let success = (200..300).contains(&answer.http_status);
        let code = answer.http_status.to_string();
        if answer.body.len() > bytes_max {
            let cause = if success {
                Cause::Unnamed
            } else {
                Cause::Names(code)
            };
            return failure(None, cause);
        }
        let object = match serde_json::from_str::<Value>(answer.body) {
            Ok(Value::Object(object)) => Some(object),
            _ => None,
        };
        if !success {
            let (status, message) = object.as_ref().map(google_error).unwrap_or_default();
            let cause = match message {
                Some(google) => Cause::Google(google),
                None => Cause::Names(code),
            };
            return failure(status, cause);
        }
        let Some(object) = object else {
            return failure(None, Cause::Unnamed);
        };
        match answer.api {
            Api::Legacy => legacy(object, bound),
            Api::New => match object.get("places") {
                None => Owed::Converted(Vec::new()),
                Some(Value::Array(places)) => {
                    Owed::Converted(places.iter().take(bound).cloned().collect())
                }
                Some(_) => failure(None, Cause::Unnamed),
            },
        }
    }

    /// What a reply owes when the server had no answer to use: it gave up waiting, or could
    /// not reach Places. `timed_out`: it surely waited, so the message must say so.
    pub fn gave_up(timed_out: bool) -> Owed {
        Owed::Failure {
            status: UNKNOWN_ERROR.to_string(),
            cause: if timed_out {
                Cause::Timeout
            } else {
                Cause::Unnamed
            },
        }
    }

    /// The server's own refusal when its upstream call rate bound is spent: Google's
    /// `OVER_QUERY_LIMIT` shape, its message naming the bound per second.
    pub fn over_rate() -> Owed {
        Owed::Failure {
            status: "OVER_QUERY_LIMIT".to_string(),
            cause: Cause::Names("per second".to_string()),
        }
    }

    /// Whether the reply's JSON object is what is owed; if not, how it is not.
    pub fn check(&self, reply: &Map<String, Value>) -> Result<(), String> {
        match self {
            Owed::Exactly(want) => match first_difference(&Value::Object(reply.clone()), want) {
                None => Ok(()),
                Some(difference) => Err(format!(
                    "the JSON is not Places' answer with `results` cut to the bound: {difference}"
                )),
            },
            Owed::Converted(places) => {
                let results = |r: Value| Value::Object(Map::from_iter([("results".into(), r)]));
                let got = results(reply.get("results").cloned().unwrap_or(Value::Null));
                if let Some(difference) =
                    first_difference(&got, &results(Value::Array(places.clone())))
                {
                    return Err(format!(
                        "`results` are not the places Places (New) sent, cut to the bound: {difference}"
                    ));
                }
                let status = if places.is_empty() {
                    "ZERO_RESULTS"
                } else {
                    "OK"
                };
                expect_status(reply, status)
            }
            Owed::Refusal(body) => refusal(reply, body),
            Owed::Failure { status, cause } => {
                if !reply.get("results").is_some_and(is_empty_array) {
                    return Err("a failure's `results` is not `[]`".to_string());
                }
                expect_status(reply, status)?;
                let message = error_message(reply)?;
                cause.check(message)
            }
        }
    }

    /// Whether what is owed is place data (which the offline set's promises then judge).
    pub fn is_place_data(&self) -> bool {
        matches!(self, Owed::Exactly(_) | Owed::Converted(_))
    }

    /// A few words on what is owed, for a verdict line.
    pub fn describe(&self) -> String {
        match self {
            Owed::Exactly(_) => "Places' answer with `results` cut".to_string(),
            Owed::Converted(places) => format!("the {} places Places (New) sent", places.len()),
            Owed::Refusal(body) => format!(
                "Places' refusal {}",
                body.get("status").map_or("?".to_string(), Value::to_string)
            ),
            Owed::Failure { status, cause } => format!("a failure {status} ({cause})"),
        }
    }
}

impl Cause {
    fn check(&self, message: &str) -> Result<(), String> {
        let ok = match self {
            Cause::Unnamed => true,
            Cause::Google(text) => message == text,
            Cause::Names(text) => message.contains(text.as_str()),
            Cause::Timeout => {
                let lower = message.to_lowercase();
                TIMEOUT_WORDS.iter().any(|w| lower.contains(w))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("`error_message` {message:?} does not name {self}"))
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Unnamed => f.write_str("any cause"),
            Cause::Google(text) => write!(f, "exactly Google's {text:?}"),
            Cause::Names(text) => write!(f, "{text:?}"),
            Cause::Timeout => f.write_str("the timeout"),
        }
    }
}

/// Legacy place data, or a refusal, or a body that breaks the API's promise.
fn legacy(mut object: Map<String, Value>, bound: usize) -> Owed {
    let status = object
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_string);
    match status.as_deref() {
        None => Owed::Failure {
            status: UNKNOWN_ERROR.to_string(),
            cause: Cause::Unnamed,
        },
        Some("OK" | "ZERO_RESULTS") => match object.get_mut("results") {
            Some(Value::Array(results)) => {
                results.truncate(bound);
                Owed::Exactly(Value::Object(object))
            }
            _ => Owed::Failure {
                status: UNKNOWN_ERROR.to_string(),
                cause: Cause::Unnamed,
            },
        },
        Some(_) => Owed::Refusal(object),
    }
}

/// Google's status and message from an error body: the New API's `{"error": {"status",
/// "message"}}` or legacy's `{"status", "error_message"}`.
fn google_error(object: &Map<String, Value>) -> (Option<String>, Option<String>) {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    match object.get("error") {
        Some(Value::Object(error)) => (text(error.get("status")), text(error.get("message"))),
        _ => (
            text(object.get("status")),
            text(object.get("error_message")),
        ),
    }
}

/// A legacy refusal: every key Places sent, in its order, with `results` emptied; an
/// `error_message`, Google's if it sent one.
fn refusal(reply: &Map<String, Value>, body: &Map<String, Value>) -> Result<(), String> {
    let message = error_message(reply)?;
    if let Some(Value::String(google)) = body.get("error_message")
        && message != google
    {
        return Err(format!(
            "`error_message` {message:?} is not Places' own {google:?}"
        ));
    }
    let without_message = |map: &Map<String, Value>| -> Value {
        Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "error_message")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    };
    let mut want = body.clone();
    if want.contains_key("results") {
        want.insert("results".to_string(), Value::Array(Vec::new()));
    }
    match first_difference(&without_message(reply), &without_message(&want)) {
        None if reply.get("results").is_some_and(is_empty_array) => Ok(()),
        None => Err("a refusal's `results` is not `[]`".to_string()),
        Some(difference) => Err(format!(
            "the JSON is not Places' refusal with `results` emptied: {difference}"
        )),
    }
}

fn expect_status(reply: &Map<String, Value>, want: &str) -> Result<(), String> {
    match reply.get("status").and_then(Value::as_str) {
        Some(status) if status == want => Ok(()),
        Some(status) => Err(format!("`status` is {status:?}, not {want:?}")),
        None => Err(format!("no `status` string, where {want:?} is owed")),
    }
}

/// The reply's `error_message`, which docs/protocol.md §11 requires and which must say something.
fn error_message(reply: &Map<String, Value>) -> Result<&str, String> {
    match reply.get("error_message").and_then(Value::as_str) {
        Some(message) if !message.trim().is_empty() => Ok(message),
        Some(_) => Err("`error_message` is empty".to_string()),
        None => Err("no `error_message` string".to_string()),
    }
}

fn is_empty_array(value: &Value) -> bool {
    value.as_array().is_some_and(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Map<String, Value> {
        match serde_json::from_str(text) {
            Ok(Value::Object(object)) => object,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn legacy_answer(body: &str) -> Owed {
        let answer = Answer {
            api: Api::Legacy,
            http_status: 200,
            body,
        };
        Owed::from_answer(&answer, 2, 1 << 20)
    }

    const PLACES: &str =
        r#"{"html_attributions":["x"],"results":[{"n":1},{"n":2},{"n":3}],"status":"OK"}"#;

    #[test]
    fn legacy_place_data_is_owed_cut_to_the_bound_in_order() {
        let owed = legacy_answer(PLACES);
        let right =
            object(r#"{"html_attributions":["x"],"results":[{"n":1},{"n":2}],"status":"OK"}"#);
        assert_eq!(owed.check(&right), Ok(()));
        for wrong in [
            r#"{"html_attributions":["x"],"results":[{"n":1},{"n":2},{"n":3}],"status":"OK"}"#,
            r#"{"html_attributions":["x"],"results":[{"n":2},{"n":1}],"status":"OK"}"#,
            r#"{"results":[{"n":1},{"n":2}],"html_attributions":["x"],"status":"OK"}"#,
            r#"{"html_attributions":[],"results":[{"n":1},{"n":2}],"status":"OK"}"#,
            r#"{"html_attributions":["x"],"results":[null,null],"status":"OK"}"#,
        ] {
            assert!(owed.check(&object(wrong)).is_err(), "{wrong}");
        }
    }

    #[test]
    fn a_legacy_refusal_keeps_its_keys_and_message_and_empties_results() {
        let body = r#"{"error_message":"no","html_attributions":[],"results":[{"n":1}],"status":"OVER_QUERY_LIMIT"}"#;
        let owed = legacy_answer(body);
        let right = object(
            r#"{"error_message":"no","html_attributions":[],"results":[],"status":"OVER_QUERY_LIMIT"}"#,
        );
        assert_eq!(owed.check(&right), Ok(()));
        for wrong in [
            r#"{"error_message":"","html_attributions":[],"results":[],"status":"OVER_QUERY_LIMIT"}"#,
            r#"{"error_message":"other","html_attributions":[],"results":[],"status":"OVER_QUERY_LIMIT"}"#,
            r#"{"error_message":"no","html_attributions":[],"results":[],"status":"UNKNOWN_ERROR"}"#,
            r#"{"error_message":"no","html_attributions":[],"results":[{"n":1}],"status":"OVER_QUERY_LIMIT"}"#,
            r#"{"html_attributions":[],"results":[],"status":"OVER_QUERY_LIMIT"}"#,
        ] {
            assert!(owed.check(&object(wrong)).is_err(), "{wrong}");
        }
        let silent =
            legacy_answer(r#"{"html_attributions":[],"results":[],"status":"REQUEST_DENIED"}"#);
        let added = object(
            r#"{"html_attributions":[],"results":[],"status":"REQUEST_DENIED","error_message":"denied"}"#,
        );
        assert_eq!(
            silent.check(&added),
            Ok(()),
            "any message when Google gave none"
        );
    }

    #[test]
    fn an_http_error_owes_googles_status_and_message_else_unknown_error_and_the_code() {
        let owed = |code: u16, body: &str| {
            Owed::from_answer(
                &Answer {
                    api: Api::New,
                    http_status: code,
                    body,
                },
                5,
                1 << 20,
            )
        };
        assert_eq!(
            owed(503, "<html>upstream trouble</html>"),
            Owed::Failure {
                status: UNKNOWN_ERROR.into(),
                cause: Cause::Names("503".into())
            }
        );
        let google = owed(
            429,
            r#"{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}"#,
        );
        assert_eq!(
            google,
            Owed::Failure {
                status: "RESOURCE_EXHAUSTED".into(),
                cause: Cause::Google("slow down".into())
            }
        );
        let right = object(
            r#"{"html_attributions":[],"results":[],"status":"RESOURCE_EXHAUSTED","error_message":"slow down"}"#,
        );
        assert_eq!(google.check(&right), Ok(()));
        for wrong in [
            r#"{"html_attributions":[],"results":[],"status":"UNKNOWN_ERROR","error_message":"slow down"}"#,
            r#"{"html_attributions":[],"results":[],"status":"RESOURCE_EXHAUSTED","error_message":""}"#,
            r#"{"html_attributions":[],"results":[],"status":"RESOURCE_EXHAUSTED"}"#,
            r#"{"html_attributions":[],"results":[],"status":"RESOURCE_EXHAUSTED","error_message":"Places answered HTTP 429"}"#,
            // Google's message inside the server's own words is not Google's message.
            r#"{"html_attributions":[],"results":[],"status":"RESOURCE_EXHAUSTED","error_message":"Places answered HTTP 429: slow down"}"#,
        ] {
            assert!(google.check(&object(wrong)).is_err(), "{wrong}");
        }
    }

    #[test]
    fn a_body_that_breaks_the_api_owes_unknown_error_with_any_message() {
        for body in [
            "{\"results\": [ this is not json",
            "[1]",
            r#"{"results":[]}"#,
            r#"{"status":"OK","results":{}}"#,
        ] {
            assert_eq!(
                legacy_answer(body),
                Owed::Failure {
                    status: UNKNOWN_ERROR.into(),
                    cause: Cause::Unnamed
                },
                "{body}"
            );
        }
        let too_large = Owed::from_answer(
            &Answer {
                api: Api::Legacy,
                http_status: 200,
                body: PLACES,
            },
            2,
            10,
        );
        assert_eq!(too_large, Owed::gave_up(false));
    }

    #[test]
    fn places_new_owes_its_places_verbatim_and_the_status_by_emptiness() {
        let answer = |body| Answer {
            api: Api::New,
            http_status: 200,
            body,
        };
        let owed = Owed::from_answer(&answer(r#"{"places":[{"id":"a"},{"id":"b"}]}"#), 1, 1 << 20);
        let right = object(r#"{"html_attributions":[],"results":[{"id":"a"}],"status":"OK"}"#);
        assert_eq!(owed.check(&right), Ok(()));
        let wrong = object(r#"{"html_attributions":[],"results":[{"id":"b"}],"status":"OK"}"#);
        assert!(owed.check(&wrong).is_err());
        let none = Owed::from_answer(&answer("{}"), 1, 1 << 20);
        let zero = object(r#"{"html_attributions":[],"results":[],"status":"ZERO_RESULTS"}"#);
        assert_eq!(none.check(&zero), Ok(()));
        let ok_but_empty = object(r#"{"html_attributions":[],"results":[],"status":"OK"}"#);
        assert!(none.check(&ok_but_empty).is_err());
    }

    #[test]
    fn giving_up_owes_unknown_error_and_after_a_timeout_says_so() {
        let timed_out = object(
            r#"{"html_attributions":[],"results":[],"status":"UNKNOWN_ERROR","error_message":"Places did not answer within 5s"}"#,
        );
        let vague = object(
            r#"{"html_attributions":[],"results":[],"status":"UNKNOWN_ERROR","error_message":"could not reach Places: reset"}"#,
        );
        let empty = object(
            r#"{"html_attributions":[],"results":[],"status":"UNKNOWN_ERROR","error_message":""}"#,
        );
        assert_eq!(Owed::gave_up(true).check(&timed_out), Ok(()));
        assert!(Owed::gave_up(true).check(&vague).is_err());
        assert_eq!(Owed::gave_up(false).check(&vague), Ok(()));
        assert!(Owed::gave_up(false).check(&empty).is_err());
    }
}
