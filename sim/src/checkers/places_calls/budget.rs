//! `places_calls`' budget rules (docs/protocol.md §11): each server's upstream calls, as the Places
//! stub saw them, show its cache, its merging of identical calls and its call rate bound.
//!
//! Judged per server (the stub knows which asked) and per search (path, location, radius and
//! `maxResultCount`, as the stub read them), only where the trace proves the server wrong
//! whatever the network did with each message (latency up to the scenario's maximum):
//!
//! - **Cached**: a search asked again less than `places_cache_ttl` after the stub answered
//!   it with place data (HTTP 200, status `OK` or `ZERO_RESULTS`, within the body bound) in
//!   time for the server to read it (before its `places_timeout`, both latencies counted, and
//!   the delay of a `places` `latency` fault that may have been in effect: the stub records
//!   an answer as it decides it, before that delay). The server got that answer no sooner
//!   than the stub gave it, so its cache held it until at least then.
//! - **Merged**: a search asked again while the stub had not yet answered the first, within
//!   `places_timeout` less the latency of the first (so the server surely still waited).
//! - **Rate**: more than `places_calls_per_second_max` requests from one server within less
//!   than a second less [`rate_slack`]: the requests' latencies cannot stretch a second by more.
//!
//! The cache, the calls in flight and the rate count live in a server's memory: a crash or
//! restart of the server between two calls excuses the second from all three rules.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::checkers::stub_faults::StubFaults;
use crate::checkers::{RunRecord, Violation};
use crate::trace::SimEvent;
use crate::trace::replay::memory_lost;

/// What a server asked: path, location, radius and `maxResultCount` as the stub read them.
type Search = (String, String, String, Option<u64>);

/// One request a server made, and when (if) the stub answered it and with place data.
struct Call {
    at: Duration,
    answered: Option<(Duration, bool)>,
}

/// How much shorter than a second a server's window of calls may look at the stub: the
/// spread of request latencies, and a margin for real mode's scheduling.
pub fn rate_slack(run: &RunRecord) -> Duration {
    run.network_latency_max + Duration::from_millis(100)
}

/// Whether an answer's body carries place data a server reads (within its body bound).
fn place_data(http_status: u16, body: &str, bytes_max: usize) -> bool {
    http_status == 200
        && body.len() <= bytes_max
        && serde_json::from_str::<Value>(body).is_ok_and(|json| {
            matches!(json["status"].as_str(), Some("OK" | "ZERO_RESULTS"))
                || json.get("places").is_some()
        })
}

/// Server -> search -> its calls in order, answers paired with requests first in first out.
fn calls(run: &RunRecord) -> BTreeMap<String, BTreeMap<Search, Vec<Call>>> {
    let bytes_max = run.limits.places_response_bytes_max;
    let mut all: BTreeMap<String, BTreeMap<Search, Vec<Call>>> = BTreeMap::new();
    for (event, sim) in run.trace.sim_events() {
        match sim {
            SimEvent::PlacesStubRequest {
                path,
                location,
                radius,
                from: Some(from),
                max_result_count,
                ..
            } => {
                let search = (
                    path.clone(),
                    location.clone(),
                    radius.clone(),
                    *max_result_count,
                );
                all.entry(from.clone())
                    .or_default()
                    .entry(search)
                    .or_default()
                    .push(Call {
                        at: event.at,
                        answered: None,
                    });
            }
            SimEvent::PlacesStubAnswer {
                path,
                location,
                radius,
                from: Some(from),
                max_result_count,
                http_status,
                body,
            } => {
                let search = (
                    path.clone(),
                    location.clone(),
                    radius.clone(),
                    *max_result_count,
                );
                if let Some(call) = all
                    .get_mut(from)
                    .and_then(|searches| searches.get_mut(&search))
                    .and_then(|calls| calls.iter_mut().find(|c| c.answered.is_none()))
                {
                    call.answered = Some((event.at, place_data(*http_status, body, bytes_max)));
                }
            }
            _ => {}
        }
    }
    all
}

/// Server -> when it lost its memory (a harness `crash` or `restart`), in order.
fn memory_losses(run: &RunRecord) -> BTreeMap<String, Vec<Duration>> {
    let mut losses: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for event in &run.trace.events {
        if let Some(server) = memory_lost(event) {
            losses.entry(server.to_string()).or_default().push(event.at);
        }
    }
    losses
}

/// Every call a server's cache, merging or rate bound should have spared.
pub fn violations(run: &RunRecord) -> Vec<Violation> {
    let losses = memory_losses(run);
    let faults = StubFaults::from_run(run);
    let ttl = run.limits.places_cache_ttl;
    let latency = run.network_latency_max;
    let wait = run.limits.places_timeout.saturating_sub(latency);
    let read_by = run.limits.places_timeout.saturating_sub(2 * latency);
    let mut violations = Vec::new();
    for (server, searches) in calls(run) {
        let lost = losses.get(&server).map(Vec::as_slice).unwrap_or_default();
        // Whether the server lost its memory after `from` and no later than `to`.
        let lost_between =
            |from: Duration, to: Duration| lost.iter().any(|at| from <= *at && *at <= to);
        let mut times = Vec::new();
        for ((_, location, radius, _), calls) in &searches {
            times.extend(calls.iter().map(|c| c.at));
            for pair in calls.windows(2) {
                let (first, again) = (&pair[0], &pair[1]);
                if lost_between(first.at, again.at) {
                    continue;
                }
                let why = match first.answered {
                    Some((answered, true))
                        if answered.saturating_add(faults.delay_at(answered))
                            < first.at + read_by
                            && answered <= again.at
                            && again.at < answered + ttl =>
                    {
                        format!(
                            "{server} asked Places at {location} (radius {radius}) again {} after an answer with place data, within places_cache_ttl {}",
                            fmt(again.at.saturating_sub(answered)),
                            fmt(ttl)
                        )
                    }
                    Some((answered, _)) if again.at < answered && again.at < first.at + wait => {
                        format!(
                            "{server} asked Places at {location} (radius {radius}) twice at once ({} apart): identical calls in flight are not merged",
                            fmt(again.at - first.at)
                        )
                    }
                    _ => continue,
                };
                violations.push(Violation::new(again.at, why));
            }
        }
        times.sort();
        let max = run.limits.places_calls_per_second_max;
        let window = Duration::from_secs(1).saturating_sub(rate_slack(run));
        if let Some(over) = times
            .windows(max + 1)
            .find(|calls| calls[max] - calls[0] < window && !lost_between(calls[0], calls[max]))
        {
            violations.push(Violation::new(
                over[max],
                format!(
                    "{server} made {} Places calls within {}, over places_calls_per_second_max {max}",
                    max + 1,
                    fmt(over[max] - over[0])
                ),
            ));
        }
    }
    violations
}

fn fmt(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;
    use crate::scenario::{Action, Checks, PlacesFault};
    use crate::trace::TraceEvent;

    const PATH: &str = "/maps/api/place/nearbysearch/json";

    fn request(at: u64, location: &str) -> TraceEvent {
        TraceEvent::places_stub_request(
            ms(at),
            PATH,
            location,
            "1000",
            true,
            Some("Bailey".to_string()),
        )
    }

    fn answer(at: u64, request: &TraceEvent, status: &str) -> TraceEvent {
        let body = format!(r#"{{"results":[],"status":"{status}"}}"#);
        TraceEvent::places_stub_answer(ms(at), request, 200, body.as_bytes())
            .expect("a request event")
    }

    fn judged(events: Vec<TraceEvent>) -> Vec<Violation> {
        let trace = trace(events);
        let checks = Checks::default();
        violations(&run_record(&trace, &checks))
    }

    #[test]
    fn a_search_asked_again_within_the_ttl_after_place_data_is_caught() {
        let first = request(0, "1,1");
        let again = request(30_000, "1,1");
        let found = judged(vec![
            first.clone(),
            answer(5, &first, "ZERO_RESULTS"),
            again,
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].text.contains("within places_cache_ttl"));
    }

    #[test]
    fn a_search_asked_again_after_the_ttl_or_after_a_failure_passes() {
        let first = request(0, "1,1");
        let after_ttl = request(60_005, "1,1");
        assert!(judged(vec![first.clone(), answer(5, &first, "OK"), after_ttl]).is_empty());
        let failed = request(0, "1,1");
        let again = request(10, "1,1");
        assert!(
            judged(vec![
                failed.clone(),
                answer(5, &failed, "OVER_QUERY_LIMIT"),
                again
            ])
            .is_empty()
        );
    }

    #[test]
    fn a_crash_or_restart_between_two_calls_empties_the_cache() {
        let first = request(0, "1,1");
        let again = request(5_000, "1,1");
        for lost in [crash(3_000, "Bailey"), restart(4_000, "Bailey")] {
            let found = judged(vec![
                first.clone(),
                answer(5, &first, "OK"),
                lost,
                again.clone(),
            ]);
            assert!(found.is_empty(), "{found:?}");
        }
        let elsewhere = judged(vec![
            first.clone(),
            answer(5, &first, "OK"),
            crash(3_000, "Clark"),
            again,
        ]);
        assert_eq!(elsewhere.len(), 1, "another server's crash: {elsewhere:?}");
    }

    fn delayed_by(at: u64, latency: Option<u64>) -> TraceEvent {
        let fault = PlacesFault {
            latency: latency.map(ms),
            healthy: latency.is_none(),
            ..PlacesFault::default()
        };
        TraceEvent::fault(ms(at), 1, &Action::Places(fault)).expect("a places step")
    }

    #[test]
    fn an_answer_a_latency_fault_held_past_the_timeout_was_never_cached() {
        let first = request(100, "1,1");
        let again = request(9_000, "1,1");
        let judged_after = |fault: Vec<TraceEvent>| {
            let mut events = fault;
            events.extend([first.clone(), answer(100, &first, "OK"), again.clone()]);
            judged(events)
        };
        let late = judged_after(vec![delayed_by(0, Some(8_000))]);
        assert!(late.is_empty(), "read only after places_timeout: {late:?}");
        let in_time = judged_after(vec![delayed_by(0, Some(1_000))]);
        assert_eq!(in_time.len(), 1, "read within places_timeout: {in_time:?}");
        let healed = judged_after(vec![delayed_by(0, Some(8_000)), delayed_by(50, None)]);
        assert_eq!(healed.len(), 1, "the fault was over: {healed:?}");
    }

    #[test]
    fn identical_calls_in_flight_at_once_are_caught() {
        let first = request(0, "1,1");
        let again = request(1, "1,1");
        let found = judged(vec![
            first.clone(),
            again.clone(),
            answer(5, &first, "REQUEST_DENIED"),
            answer(6, &again, "REQUEST_DENIED"),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].text.contains("not merged"));
    }

    #[test]
    fn more_calls_than_the_rate_allows_are_caught_and_as_many_pass() {
        let at_once: Vec<TraceEvent> = (0..10).map(|i| request(i, &format!("{i},1"))).collect();
        assert!(judged(at_once.clone()).is_empty());
        let mut over = at_once;
        over.push(request(800, "11,1"));
        let found = judged(over);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].text.contains("11 Places calls within 0.800s"));
        let mut spread: Vec<TraceEvent> = (0..10).map(|i| request(i, &format!("{i},1"))).collect();
        spread.push(request(1000, "11,1"));
        assert!(judged(spread).is_empty());
    }
}
