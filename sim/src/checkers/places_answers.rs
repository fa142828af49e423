//! `places_answers` (safety): every WHATSAT reply's JSON is what the Places answer behind it
//! owes (docs/protocol.md §3), and the places it shows keep the offline place set's promises.
//!
//! **The answer behind a reply.** The Places stub (and real mode's mock) records every answer
//! it decides (`places_stub_answer`: HTTP status and body, with the request's fields). A
//! WHATSAT's answers are those given to the server it asked, between the command and its
//! reply, for its search: a legacy request at the reply's location and the radius times 1000
//! in exact decimal (as `places_calls` reads them), a Places (New) request within
//! `places_calls`' relative error and with the bound as `maxResultCount`. The reply's JSON
//! must be what one of them owes ([`owed`]): legacy place data exactly, keys in the order
//! received, `results` cut to the bound; Places (New) places verbatim as `results`; a refusal
//! or failure as `"results" : []`, the upstream status (else `UNKNOWN_ERROR`) and an
//! `error_message` that names Google's message or the HTTP code when the answer gives them.
//! The stub's answers are the only Places the herd reaches here, so every place-data reply
//! has one; where several fit (identical WHATSATs in flight), any one is accepted.
//!
//! **Giving up.** A server may instead answer `UNKNOWN_ERROR` with a message only where it
//! may have had no answer in time: none to its search was recorded in the window (the stub
//! never answered, or no request reached it), the stub's `places` fault delayed answers by at
//! least the server's `places_timeout` less [`late_margin`], or a link step named the Places
//! host before the reply. When the stub surely held a request past the timeout (it got it and
//! never answered, or was delayed by more than the timeout plus the margin) and no link step
//! muddles it, the message must say it was a timeout ([`owed::TIMEOUT_WORDS`]). So the fault
//! decides the status exactly where it determines it: an HTTP error's code, a non-OK status,
//! a body that is not the API's JSON, a timeout.
//!
//! **The offline set's promises** ([`promises`]), on every reply with place data (`OK` or
//! `ZERO_RESULTS`), around the client's location read from the reply's AT line by the
//! reference grammar, with the harness's own geometry (great-circle distance on the set's
//! sphere, 1 mm tolerance): within `r * 1000` m, nearest first, `ZERO_RESULTS` exactly when
//! empty, legacy results marked `"offline" : true` and `html_attributions` naming the offline
//! set; and the uncut legacy answer holds at most 20 results (a reply is cut to its bound, so
//! only the answer shows that cap).
//!
//! **A misplaced place.** Distance and order cannot see a lost sign in the set's table (a
//! mirrored place is as far away), so the harness carries its own copy of the set's offsets
//! ([`crate::oracle::offline_places`]): each result must lie where its id's offset puts it,
//! and no place the fixture puts surely within the radius may be left out unless the bound
//! cut it. This is sound because the copy is the set's documented contract, compared within
//! a tolerance (5% of the offset plus 1 m) that any sensible projection of the offsets meets,
//! and worthwhile because nothing else in the harness knows where a place should be: the
//! stub answers with the server's own set, so without a fixture the set would judge itself.
//! Near the poles (|latitude| > 80) the set clamps and wraps, and only distances are judged.
//!
//! **Left alone.** The top-level keys of a Places (New) reply besides `results` and `status` (the
//! server's conversion, which docs/protocol.md does not spell out); error texts beyond Google's
//! message, the HTTP code and a timeout's wording (a connect failure's text is not fixed by
//! anything the harness controls); replies that are `?`, that `well_formed` finds malformed, and
//! WHATSATs of load and hostile clients.

mod ordered;
mod owed;
mod promises;

use std::time::Duration;

use serde_json::{Map, Value};

use super::places_calls::close_to;
use super::stub_faults::StubFaults;
use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::oracle::PLACES_NEW_API_PATH as NEW_API_PATH;
use crate::oracle::offline_places::{Point, RESULTS_MAX};
use crate::oracle::spec::{ClientLine, Decimal, Location};
use crate::trace::SimEvent;
use crate::trace::replay::{self, Expected};
use owed::{Answer, Api, Owed};

pub struct PlacesAnswers;

/// A violation lists at most this many problems of one reply.
const PROBLEMS_SHOWN_MAX: usize = 3;

/// How much sooner than the server's Places timeout a delayed answer may still come too
/// late: the request's and the answer's transit (the network's latency at most, each way),
/// and a margin for real mode's scheduling.
fn late_margin(run: &RunRecord) -> Duration {
    2 * run.network_latency_max + Duration::from_millis(100)
}

/// A request the stub got, or an answer it gave, with what it searched.
struct Stub<'a> {
    at: Duration,
    from: Option<&'a str>,
    api: Api,
    location: &'a str,
    radius: &'a str,
    max_result_count: Option<u64>,
    /// The HTTP status and body; `None` for a request.
    answer: Option<(u16, &'a str)>,
}

fn stub_events<'a>(run: &RunRecord<'a>) -> Vec<Stub<'a>> {
    let api = |path: &str| {
        if path == NEW_API_PATH {
            Api::New
        } else {
            Api::Legacy
        }
    };
    run.trace
        .sim_events()
        .filter_map(|(event, sim)| match sim {
            SimEvent::PlacesStubRequest {
                path,
                location,
                radius,
                from,
                max_result_count,
                ..
            } => Some(Stub {
                at: event.at,
                from: from.as_deref(),
                api: api(path),
                location,
                radius,
                max_result_count: *max_result_count,
                answer: None,
            }),
            SimEvent::PlacesStubAnswer {
                path,
                location,
                radius,
                from,
                max_result_count,
                http_status,
                body,
            } => Some(Stub {
                at: event.at,
                from: from.as_deref(),
                api: api(path),
                location,
                radius,
                max_result_count: *max_result_count,
                answer: Some((*http_status, body)),
            }),
            _ => None,
        })
        .collect()
}

/// A WHATSAT with a reply carrying an AT line and a JSON object.
struct Whatsat<'a> {
    label: String,
    server: &'a str,
    sent: Duration,
    replied: Duration,
    radius_metres: Decimal,
    bound: usize,
    location: Location,
    json: Map<String, Value>,
}

impl Whatsat<'_> {
    /// Whether the stub event is for this WHATSAT: its server, in its window (or an answer
    /// with place data the server's cache may still hold, `places_cache_ttl` before it), its
    /// search.
    fn served_by(&self, stub: &Stub, ttl: Duration) -> bool {
        let cached = stub.at < self.sent
            && stub.at.saturating_add(ttl) >= self.sent
            && stub
                .answer
                .is_some_and(|(status, body)| status == 200 && has_place_data(stub.api, body));
        stub.from.is_none_or(|f| f == self.server)
            && ((self.sent..=self.replied).contains(&stub.at) || cached)
            && match stub.api {
                Api::Legacy => {
                    Location::from_places_query(stub.location).as_ref() == Some(&self.location)
                        && Decimal::parse_unsigned(stub.radius).as_ref()
                            == Some(&self.radius_metres)
                }
                Api::New => {
                    let number = |t: &str| t.parse::<f64>().ok();
                    stub.max_result_count == Some(self.bound as u64)
                        && number(stub.radius).is_some_and(|r| close_to(r, &self.radius_metres))
                        && stub.location.split_once(',').is_some_and(|(lat, lng)| {
                            number(lat).is_some_and(|v| close_to(v, &self.location.latitude))
                                && number(lng)
                                    .is_some_and(|v| close_to(v, &self.location.longitude))
                        })
                }
            }
    }

    /// Where the client is, and how far the WHATSAT reaches, as numbers.
    fn asked(&self, api: Api) -> Option<promises::Asked> {
        let number = |d: &Decimal| d.to_string().parse::<f64>().ok();
        Some(promises::Asked {
            origin: Point {
                latitude: number(&self.location.latitude)?,
                longitude: number(&self.location.longitude)?,
            },
            radius_m: number(&self.radius_metres)?,
            bound: self.bound,
            api,
        })
    }
}

/// Every WHATSAT by a client step whose reply has a readable AT line and JSON object (what
/// `well_formed` finds malformed is its business, not this checker's).
fn whatsats<'a>(run: &RunRecord<'a>) -> Vec<Whatsat<'a>> {
    let mut all = Vec::new();
    for exchange in replay::exchanges(run.trace) {
        let (Some((_, reply)), Some(text)) = (exchange.reply, exchange.reply_text()) else {
            continue;
        };
        let Expected::WhatsAt { bound, .. } = replay::expected(exchange.send, run.line_bounds())
        else {
            continue;
        };
        let ClientLine::WhatsAt { radius_km, .. } = ClientLine::parse(exchange.line()) else {
            continue;
        };
        let (first, rest) = replay::split_reply(text);
        let location = match first.split(' ').collect::<Vec<_>>().as_slice() {
            ["AT", _, _, _, location, _] => Location::parse(location),
            _ => None,
        };
        let json = rest
            .strip_suffix("\n\n")
            .and_then(|body| serde_json::from_str::<Value>(body).ok());
        let (Some(location), Some(Value::Object(json))) = (location, json) else {
            continue;
        };
        all.push(Whatsat {
            label: exchange.label(),
            server: exchange.server(),
            sent: exchange.send.at,
            replied: reply.at,
            radius_metres: radius_km.times_thousand(),
            bound,
            location,
            json,
        });
    }
    all
}

impl Checker for PlacesAnswers {
    fn name(&self) -> CheckerName {
        CheckerName::PlacesAnswers
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let stubs = stub_events(run);
        let faults = StubFaults::from_run(run);
        let mut violations = Vec::new();
        let mut tally = Tally::default();
        for whatsat in whatsats(run) {
            violations.extend(judge(run, &whatsat, &stubs, &faults, &mut tally));
        }
        Verdict::judge(
            CheckerName::PlacesAnswers,
            violations,
            Some(tally.to_string()),
        )
    }
}

/// What the checker judged, for its metric.
#[derive(Debug, Default)]
struct Tally {
    replies: usize,
    /// Replies showing the offline set's data, and the places they showed.
    offline_set_replies: usize,
    places: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} WHATSAT replies judged, {} showing the offline set ({} places)",
            self.replies, self.offline_set_replies, self.places
        )
    }
}

/// One WHATSAT reply against the stub's answers for it.
fn judge(
    run: &RunRecord,
    whatsat: &Whatsat,
    stubs: &[Stub],
    faults: &StubFaults,
    tally: &mut Tally,
) -> Vec<Violation> {
    tally.replies += 1;
    let mut violations = Vec::new();
    let (answers, owed) = candidates(run, whatsat, stubs, faults);
    let checks: Vec<Result<(), String>> = owed.iter().map(|o| o.check(&whatsat.json)).collect();
    let Some(fits) = checks.iter().position(Result::is_ok) else {
        violations.push(Violation::new(
            whatsat.replied,
            format!("{}: {}", whatsat.label, mismatch(&owed, &checks)),
        ));
        return violations;
    };
    // The offline set's promises, where the reply is the set's own data.
    let Some(answer) = answers
        .get(fits)
        .filter(|a| a.offline_set && a.owed.is_place_data())
    else {
        return violations;
    };
    tally.offline_set_replies += 1;
    tally.places += whatsat
        .json
        .get("results")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if let Some((_, body)) = answer.stub.answer
        && let Some(count) = legacy_results(answer.stub.api, body)
        && count > RESULTS_MAX
    {
        violations.push(Violation::new(
            answer.stub.at,
            format!(
                "the Places stub answered {count} results at {}, above the offline set's {RESULTS_MAX}",
                answer.stub.location
            ),
        ));
    }
    let problems = whatsat
        .asked(answer.stub.api)
        .map(|asked| promises::problems(&whatsat.json, &asked))
        .unwrap_or_default();
    if !problems.is_empty() {
        violations.push(Violation::new(
            whatsat.replied,
            format!("{}: {}", whatsat.label, summary(&problems)),
        ));
    }
    violations
}

/// The stub's answers for `whatsat`, and everything its reply may owe: what each answer
/// owes, in their order, then giving up where the server may have had no answer in time.
fn candidates<'a>(
    run: &RunRecord,
    whatsat: &Whatsat,
    stubs: &'a [Stub<'a>],
    faults: &StubFaults,
) -> (Vec<ServedAnswer<'a>>, Vec<Owed>) {
    let ttl = run.limits.places_cache_ttl;
    let served: Vec<&Stub> = stubs.iter().filter(|s| whatsat.served_by(s, ttl)).collect();
    let answers: Vec<ServedAnswer> = served
        .iter()
        .filter_map(|stub| {
            let (http_status, body) = stub.answer?;
            let answer = Answer {
                api: stub.api,
                http_status,
                body,
            };
            Some(ServedAnswer {
                stub,
                owed: Owed::from_answer(
                    &answer,
                    whatsat.bound,
                    run.limits.places_response_bytes_max,
                ),
                offline_set: faults.offline_set_at(stub.at),
            })
        })
        .collect();
    let mut owed: Vec<Owed> = answers.iter().map(|a| a.owed.clone()).collect();
    let timeout = run.limits.places_timeout;
    let margin = late_margin(run);
    let link_step = faults.link_step_by(whatsat.replied);
    let delays: Vec<Duration> = answers.iter().map(|a| faults.delay_at(a.stub.at)).collect();
    let maybe_late = delays.iter().any(|d| d.saturating_add(margin) >= timeout);
    if answers.is_empty() || link_step || maybe_late {
        let surely_late = delays.iter().any(|d| *d >= timeout.saturating_add(margin));
        let surely_timed_out =
            !link_step && !served.is_empty() && (answers.is_empty() || surely_late);
        owed.push(Owed::gave_up(surely_timed_out));
    }
    if rate_spent(run, whatsat, stubs) {
        owed.push(Owed::over_rate());
    }
    (answers, owed)
}

/// A stub answer that served a WHATSAT: what it owes, and whether it was the offline set's.
struct ServedAnswer<'a> {
    stub: &'a Stub<'a>,
    owed: Owed,
    offline_set: bool,
}

/// How a reply fits none of what it may owe: each candidate and why not.
fn mismatch(owed: &[Owed], checks: &[Result<(), String>]) -> String {
    let reasons: Vec<String> = owed
        .iter()
        .zip(checks)
        .filter_map(|(o, c)| {
            c.as_ref()
                .err()
                .map(|why| format!("{}: {why}", o.describe()))
        })
        .collect();
    match reasons.as_slice() {
        [only] => format!("owed {only}"),
        _ => format!("owed one of {}; {}", reasons.len(), reasons.join("; or ")),
    }
}

/// The first few problems, and how many more.
fn summary(problems: &[String]) -> String {
    let mut text = problems
        .iter()
        .take(PROBLEMS_SHOWN_MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > PROBLEMS_SHOWN_MAX {
        text.push_str(&format!(
            "; and {} more",
            problems.len() - PROBLEMS_SHOWN_MAX
        ));
    }
    text
}

/// Whether the WHATSAT's server may have spent its call rate bound while it was in flight:
/// the stub got at least `places_calls_per_second_max` requests from it between a second
/// before the command and the reply (plus the latency the last of them may have taken).
fn rate_spent(run: &RunRecord, whatsat: &Whatsat, stubs: &[Stub]) -> bool {
    let from = whatsat.sent.saturating_sub(Duration::from_secs(1));
    let to = whatsat.replied + super::places_calls::rate_slack(run);
    let calls = stubs
        .iter()
        .filter(|s| s.answer.is_none() && s.from.is_none_or(|f| f == whatsat.server))
        .filter(|s| (from..=to).contains(&s.at))
        .count();
    calls >= run.limits.places_calls_per_second_max
}

/// Whether an answer's body is place data (`OK` or `ZERO_RESULTS`; Places (New): `places`
/// or an empty object), which a server may cache.
fn has_place_data(api: Api, body: &str) -> bool {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(json)) => match api {
            Api::Legacy => matches!(
                json.get("status").and_then(Value::as_str),
                Some("OK" | "ZERO_RESULTS")
            ),
            Api::New => json.get("error").is_none(),
        },
        _ => false,
    }
}

/// How many results a legacy answer with place data holds (status `OK` or `ZERO_RESULTS`);
/// `None` for anything else.
fn legacy_results(api: Api, body: &str) -> Option<usize> {
    if api != Api::Legacy {
        return None;
    }
    let json: Value = serde_json::from_str(body).ok()?;
    if !matches!(json["status"].as_str(), Some("OK" | "ZERO_RESULTS")) {
        return None;
    }
    json["results"].as_array().map(Vec::len)
}

#[cfg(test)]
mod tests;
