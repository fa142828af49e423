//! `places_answers` on hand-made traces: each test writes one WHATSAT, what the stub got and
//! answered, and the reply, with exactly one thing wrong (or nothing).

use std::time::Duration;

use serde_json::{Value, json};

use super::PlacesAnswers;
use crate::checkers::testing::*;
use crate::checkers::{Checker, Verdict};
use crate::oracle::PLACES_NEW_API_PATH as NEW_API_PATH;
use crate::scenario::{Action, Checks, PlacesFault};
use crate::trace::{SimEvent, TraceEvent};

const LEGACY_PATH: &str = "/maps/api/place/nearbysearch/json";
const AT_LINE: &str = "AT Clark +0.1 kiwi +34.068930-118.445127 1700000000";
const LAT: f64 = 34.06893;
const LNG: f64 = -118.445127;

fn verdict(events: Vec<TraceEvent>) -> Verdict {
    let trace = trace(events);
    let checks = Checks::default();
    PlacesAnswers.check(&run_record(&trace, &checks))
}

/// The stub's legacy request from Bailey at kiwi's location.
fn legacy_request(at: u64, radius: &str) -> TraceEvent {
    TraceEvent::places_stub_request(
        ms(at),
        LEGACY_PATH,
        "34.068930,-118.445127",
        radius,
        true,
        Some("Bailey".into()),
    )
}

/// The stub's answer to `request`, `code` with `body`.
fn answered(at: u64, request: &TraceEvent, code: u16, body: &str) -> TraceEvent {
    TraceEvent::places_stub_answer(ms(at), request, code, body.as_bytes())
        .unwrap_or_else(|| panic!("not a stub request: {request:?}"))
}

/// The offline set's legacy answer around kiwi within `radius_m`.
fn offline(radius_m: f64) -> Value {
    server::places::offline::nearby_json(LAT, LNG, radius_m)
}

/// `json` with `results` cut to `bound`, key order kept.
fn cut(mut json: Value, bound: usize) -> Value {
    if let Some(Value::Array(results)) = json.get_mut("results") {
        results.truncate(bound);
    }
    json
}

/// kiwi's reply from Bailey at 9 ms: the AT line and `json` in Google's layout.
fn reply_with(json: &Value) -> TraceEvent {
    let text = format!(
        "{AT_LINE}\n{}\n\n",
        server::places::layout::google_layout(json)
    );
    reply(9, 1, "kiwi", "Bailey", &text)
}

/// WHATSAT kiwi 10 3 to Bailey, answered by the stub with `body` and replied with `json`.
fn legacy_exchange(code: u16, body: &str, json: &Value) -> Vec<TraceEvent> {
    legacy_exchange_within("10", code, body, json)
}

/// WHATSAT kiwi `km` 3 to Bailey, answered by the stub with `body` and replied with `json`.
fn legacy_exchange_within(km: &str, code: u16, body: &str, json: &Value) -> Vec<TraceEvent> {
    let metres = crate::oracle::spec::Decimal::parse_unsigned(km)
        .map(|d| d.times_thousand().to_string())
        .unwrap_or_default();
    let request = legacy_request(5, &metres);
    vec![
        send(0, 1, "kiwi", "Bailey", &format!("WHATSAT kiwi {km} 3")),
        request.clone(),
        answered(5, &request, code, body),
        reply_with(json),
    ]
}

fn places_step(at: u64, fault: PlacesFault) -> TraceEvent {
    TraceEvent::fault(ms(at), 50, &Action::Places(fault)).unwrap_or_else(|| panic!("a fault"))
}

fn failure(status: &str, message: &str) -> Value {
    json!({
        "html_attributions": [],
        "results": [],
        "status": status,
        "error_message": message,
    })
}

fn assert_caught(v: &Verdict, words: &str) {
    assert!(!v.ok, "expected a violation with {words:?}");
    assert!(
        v.details.iter().any(|d| d.contains(words)),
        "no detail with {words:?}: {v}"
    );
}

#[test]
fn the_offline_sets_answer_cut_to_the_bound_passes() {
    let answer = offline(10_000.0);
    let v = verdict(legacy_exchange(200, &answer.to_string(), &cut(answer, 3)));
    assert!(v.ok, "{v}");
    assert_eq!(
        v.metric.as_deref(),
        Some("1 WHATSAT replies judged, 1 showing the offline set (3 places)")
    );
}

#[test]
fn a_reply_not_cut_reordered_or_changed_is_caught() {
    let answer = offline(10_000.0);
    let body = answer.to_string();
    let v = verdict(legacy_exchange(200, &body, &cut(answer.clone(), 4)));
    assert_caught(&v, "at results: 4 items where Places sent 3");
    let mut reordered = serde_json::Map::new();
    for key in ["status", "results", "html_attributions"] {
        reordered.insert(key.into(), cut(answer.clone(), 3)[key].clone());
    }
    let v = verdict(legacy_exchange(200, &body, &Value::Object(reordered)));
    assert_caught(&v, "at the top: keys");
    let mut renamed = cut(answer, 3);
    renamed["results"][1]["name"] = json!("Somewhere Else");
    let v = verdict(legacy_exchange(200, &body, &renamed));
    assert_caught(&v, "at results[1].name");
}

#[test]
fn places_the_set_moved_are_caught_though_the_reply_is_faithful() {
    // The set itself is wrong (a lost sign): the reply passes it on faithfully.
    let mut answer = offline(10_000.0);
    let lat = answer["results"][1]["geometry"]["location"]["lat"]
        .as_f64()
        .unwrap_or_default();
    answer["results"][1]["geometry"]["location"]["lat"] = json!(2.0 * LAT - lat);
    let v = verdict(legacy_exchange(200, &answer.to_string(), &cut(answer, 3)));
    assert_caught(&v, "result 1 (offline-02) lies 80.0 m north");
}

#[test]
fn null_places_are_caught() {
    let mut answer = offline(10_000.0);
    if let Some(Value::Array(results)) = answer.get_mut("results") {
        results.iter_mut().for_each(|r| *r = Value::Null);
    }
    let v = verdict(legacy_exchange(200, &answer.to_string(), &cut(answer, 3)));
    assert_caught(&v, "result 0 (no id) has no readable position");
}

#[test]
fn places_beyond_the_radius_or_out_of_order_are_caught() {
    // Asked 10 km; the set answered 50 km's places.
    let answer = offline(50_000.0);
    let mut reversed = answer.clone();
    if let Some(Value::Array(results)) = reversed.get_mut("results") {
        results.reverse();
    }
    let v = verdict(legacy_exchange(
        200,
        &reversed.to_string(),
        &cut(reversed, 3),
    ));
    assert_caught(&v, "beyond the radius 10000 m");
    assert_caught(&v, "not nearest first");
}

#[test]
fn more_than_twenty_places_from_the_set_are_caught_though_the_reply_is_cut() {
    let mut answer = offline(50_000.0);
    let extra = offline(50_000.0)["results"][19].clone();
    if let Some(Value::Array(results)) = answer.get_mut("results") {
        results.push(extra);
    }
    let v = verdict(legacy_exchange(200, &answer.to_string(), &cut(answer, 3)));
    assert_caught(&v, "the Places stub answered 21 results");
}

#[test]
fn zero_results_follows_an_empty_answer() {
    let answer = offline(10.0);
    assert_eq!(answer["status"], "ZERO_RESULTS");
    let v = verdict(legacy_exchange_within(
        "0.01",
        200,
        &answer.to_string(),
        &answer,
    ));
    assert!(v.ok, "{v}");
    let mut wrong = answer;
    wrong["status"] = json!("OK");
    let v = verdict(legacy_exchange_within(
        "0.01",
        200,
        &wrong.to_string(),
        &wrong,
    ));
    assert_caught(&v, "`status` is \"OK\" with 0 results");
}

#[test]
fn an_http_error_owes_unknown_error_and_a_message_naming_the_code() {
    let html = "<html>upstream trouble</html>";
    let right = failure("UNKNOWN_ERROR", "Places answered HTTP 503");
    let v = verdict(legacy_exchange(503, html, &right));
    assert!(v.ok, "{v}");
    let v = verdict(legacy_exchange(503, html, &failure("UNKNOWN_ERROR", "")));
    assert_caught(&v, "`error_message` is empty");
    let v = verdict(legacy_exchange(
        503,
        html,
        &failure("UNKNOWN_ERROR", "upstream"),
    ));
    assert_caught(&v, "does not name \"503\"");
    let v = verdict(legacy_exchange(503, html, &failure("OK", "HTTP 503")));
    assert_caught(&v, "`status` is \"OK\", not \"UNKNOWN_ERROR\"");
}

#[test]
fn a_legacy_refusal_reaches_the_client_as_places_sent_it() {
    let body = json!({
        "error_message": "the simulated Places host refuses this request",
        "html_attributions": [],
        "results": [],
        "status": "OVER_QUERY_LIMIT",
    });
    let v = verdict(legacy_exchange(200, &body.to_string(), &body));
    assert!(v.ok, "{v}");
    let mut other_status = body.clone();
    other_status["status"] = json!("UNKNOWN_ERROR");
    let v = verdict(legacy_exchange(200, &body.to_string(), &other_status));
    assert_caught(&v, "at status");
    let mut no_message = body.clone();
    no_message["error_message"] = json!("");
    let v = verdict(legacy_exchange(200, &body.to_string(), &no_message));
    assert_caught(&v, "`error_message` is empty");
}

#[test]
fn a_zero_results_fault_is_passed_on_and_not_judged_as_the_offline_set() {
    let body = json!({
        "error_message": "the simulated Places host refuses this request",
        "html_attributions": [],
        "results": [],
        "status": "ZERO_RESULTS",
    });
    let mut events = vec![places_step(
        0,
        PlacesFault {
            status: Some("ZERO_RESULTS".into()),
            ..PlacesFault::default()
        },
    )];
    events.extend(legacy_exchange(200, &body.to_string(), &body));
    let v = verdict(events);
    assert!(v.ok, "no attribution or places are owed: {v}");
}

/// WHATSAT kiwi 10 3 to Bailey: the stub got it at 5 ms, answered (or not), reply at 9 s.
fn slow_exchange(answer: Option<&str>, reply_json: &Value) -> Vec<TraceEvent> {
    let request = legacy_request(5, "10000");
    let mut events = vec![
        send(0, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 3"),
        request.clone(),
    ];
    if let Some(body) = answer {
        events.push(answered(5, &request, 200, body));
    }
    let text = format!(
        "{AT_LINE}\n{}\n\n",
        server::places::layout::google_layout(reply_json)
    );
    events.push(reply(9_000, 1, "kiwi", "Bailey", &text));
    events
}

#[test]
fn a_stub_that_never_answered_owes_a_failure_that_names_the_timeout() {
    let timed_out = failure("UNKNOWN_ERROR", "Places did not answer within 5s");
    assert!(verdict(slow_exchange(None, &timed_out)).ok);
    let vague = failure("UNKNOWN_ERROR", "something went wrong");
    assert_caught(
        &verdict(slow_exchange(None, &vague)),
        "does not name the timeout",
    );
    let empty = failure("UNKNOWN_ERROR", "");
    assert_caught(
        &verdict(slow_exchange(None, &empty)),
        "`error_message` is empty",
    );
}

#[test]
fn giving_up_on_a_prompt_answer_is_caught() {
    let body = offline(10_000.0).to_string();
    let timed_out = failure("UNKNOWN_ERROR", "Places did not answer within 5s");
    let v = verdict(slow_exchange(Some(&body), &timed_out));
    assert_caught(&v, "owed Places' answer with `results` cut");
}

#[test]
fn a_latency_fault_at_least_the_timeout_lets_the_server_give_up() {
    let body = offline(10_000.0).to_string();
    let timed_out = failure("UNKNOWN_ERROR", "Places did not answer within 5s");
    let latency = |d: u64| {
        places_step(
            0,
            PlacesFault {
                latency: Some(Duration::from_secs(d)),
                ..PlacesFault::default()
            },
        )
    };
    let mut slow = vec![latency(8)];
    slow.extend(slow_exchange(Some(&body), &timed_out));
    assert!(verdict(slow).ok);
    let mut quick = vec![latency(2)];
    quick.extend(slow_exchange(Some(&body), &timed_out));
    assert!(!verdict(quick).ok, "2 s is well within the 5 s timeout");
    // Under a late answer the places themselves are still a right reply.
    let mut in_time = vec![latency(8)];
    in_time.extend(slow_exchange(Some(&body), &cut(offline(10_000.0), 3)));
    assert!(verdict(in_time).ok);
}

#[test]
fn a_link_step_on_the_places_host_lets_the_server_give_up_for_any_reason() {
    let body = offline(10_000.0).to_string();
    let cut_off = TraceEvent::harness(
        ms(1),
        SimEvent::Partition {
            step: 60,
            from: vec!["places".into()],
            to: vec!["Bailey".into()],
            oneway: false,
        },
    );
    let vague = failure("UNKNOWN_ERROR", "could not reach Places: reset");
    let mut events = slow_exchange(Some(&body), &vague);
    events.insert(1, cut_off);
    let v = verdict(events);
    assert!(v.ok, "{v}");
}

#[test]
fn no_request_at_all_owes_a_failure_with_any_message() {
    let vague = failure("UNKNOWN_ERROR", "could not reach Places: refused");
    let events = vec![
        send(0, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 3"),
        reply_with(&vague),
    ];
    assert!(verdict(events).ok);
    let places = cut(offline(10_000.0), 3);
    let events = vec![
        send(0, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 3"),
        reply_with(&places),
    ];
    assert_caught(&verdict(events), "owed a failure UNKNOWN_ERROR");
}

#[test]
fn an_answer_for_another_search_or_server_is_not_this_whatsats() {
    let answer = offline(10_000.0);
    let other_radius = legacy_request(5, "1000");
    let events = vec![
        send(0, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 3"),
        other_radius.clone(),
        answered(5, &other_radius, 200, &answer.to_string()),
        reply_with(&cut(answer.clone(), 3)),
    ];
    assert_caught(&verdict(events), "owed a failure");
    let other_server = TraceEvent::places_stub_request(
        ms(5),
        LEGACY_PATH,
        "34.068930,-118.445127",
        "10000",
        true,
        Some("Clark".into()),
    );
    let events = vec![
        send(0, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 3"),
        other_server.clone(),
        answered(5, &other_server, 200, &answer.to_string()),
        reply_with(&cut(answer, 3)),
    ];
    assert_caught(&verdict(events), "owed a failure");
}

/// WHATSAT kiwi 10 3 to Bailey on Places (New), answered with `code` and `body`.
fn new_api_exchange(code: u16, body: &str, json: &Value) -> Vec<TraceEvent> {
    let request = TraceEvent::places_stub_search_nearby(
        ms(5),
        NEW_API_PATH,
        "34.06893,-118.445127",
        "10000.0",
        Some(3),
        true,
        Some("Bailey".into()),
    );
    vec![
        send(0, 1, "kiwi", "Bailey", "WHATSAT kiwi 10 3"),
        request.clone(),
        answered(5, &request, code, body),
        reply_with(json),
    ]
}

/// The stub's Places (New) places: the set's first three, in the New API's shape.
fn new_places() -> Vec<Value> {
    offline(10_000.0)["results"]
        .as_array()
        .into_iter()
        .flatten()
        .take(3)
        .map(|r| {
            json!({
                "id": r["place_id"],
                "location": {
                    "latitude": r["geometry"]["location"]["lat"],
                    "longitude": r["geometry"]["location"]["lng"],
                },
                "displayName": { "text": r["name"], "languageCode": "en" },
            })
        })
        .collect()
}

#[test]
fn places_new_places_reach_the_client_verbatim_in_the_legacy_shape() {
    let places = new_places();
    let body = json!({ "places": places }).to_string();
    let right = json!({ "html_attributions": [], "results": places, "status": "OK" });
    let v = verdict(new_api_exchange(200, &body, &right));
    assert!(v.ok, "{v}");
    let mut renamed = right.clone();
    renamed["results"][0]["displayName"]["text"] = json!("Elsewhere");
    let v = verdict(new_api_exchange(200, &body, &renamed));
    assert_caught(&v, "at results[0].displayName.text");
    let mut zero = right;
    zero["status"] = json!("ZERO_RESULTS");
    let v = verdict(new_api_exchange(200, &body, &zero));
    assert_caught(&v, "`status` is \"ZERO_RESULTS\", not \"OK\"");
}

#[test]
fn a_places_new_error_owes_googles_status_and_message() {
    let body =
        json!({ "error": { "code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED" } })
            .to_string();
    let right = failure("RESOURCE_EXHAUSTED", "slow down");
    let v = verdict(new_api_exchange(429, &body, &right));
    assert!(v.ok, "{v}");
    let unknown = failure("UNKNOWN_ERROR", "slow down");
    assert_caught(
        &verdict(new_api_exchange(429, &body, &unknown)),
        "not \"RESOURCE_EXHAUSTED\"",
    );
}
