//! `places_calls` (safety): every request the Places stub got is explained by one WHATSAT in
//! flight at the server that asked, with the same radius in metres (so an IAMAT never calls
//! Places, a WHATSAT calls it at most once, and km are converted to metres exactly), at the
//! location of the client asked about, and every request carried the key.
//!
//! The expected `location=LAT,LNG` comes from the scenario's own numbers: the location text of
//! the record the WHATSAT's reply shows (else of any IAMAT sent for that client), read by the
//! reference grammar ([`crate::oracle::spec`]) and compared with the request's value as exact
//! decimals (docs/protocol.md §11: latitude first, `-` for south and west), never through the
//! server's own query formatting. A swapped pair or a lost sign is caught.
//!
//! A Places API (New) request carries f64 JSON numbers instead of text, so its center and
//! radius are compared with the client's digits read as numbers within a relative error of
//! [`RELATIVE_ERROR_MAX`], and its `maxResultCount` must be the WHATSAT's bound.
//!
//! Each server also spends its calls wisely ([`budget`]): no search asked again within
//! `places_cache_ttl` of an answer with place data, no two identical searches in flight at
//! once, and never more calls than `places_calls_per_second_max` allows.

mod budget;

use std::time::Duration;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::oracle::PLACES_NEW_API_PATH as NEW_API_PATH;
use crate::oracle::spec::{ClientLine, Decimal, Location};
use crate::trace::SimEvent;

pub struct PlacesCalls;

pub use budget::rate_slack;

/// How far a Places (New) number may be from the client's decimal, relative to it (or to 1
/// near zero): far below any real mistake, far above f64 rounding of a 6-decimal coordinate.
pub const RELATIVE_ERROR_MAX: f64 = 1e-9;

/// A WHATSAT a client sent: when, the radius it asked, and where its client was.
struct Whatsat {
    id: u64,
    server: String,
    sent: Duration,
    /// When the reply came; `None` if none did.
    replied: Option<Duration>,
    radius_metres: Decimal,
    bound: u32,
    client: String,
    /// The location of the reply's AT line; `None` if the reply had no readable AT line.
    location: Option<Location>,
    places_calls: usize,
}

/// The location of a reply's AT line (its fifth field), by the reference grammar.
fn reply_location(text: &str) -> Option<Location> {
    let first = text.lines().next()?;
    let fields: Vec<&str> = first.split(' ').collect();
    match fields.as_slice() {
        ["AT", _, _, _, location, _] => Location::parse(location),
        _ => None,
    }
}

fn whatsats(run: &RunRecord) -> Vec<Whatsat> {
    let mut all: Vec<Whatsat> = Vec::new();
    for (event, sim) in run.trace.sim_events() {
        if let SimEvent::ClientSend {
            id, server, line, ..
        } = sim
        {
            if let ClientLine::WhatsAt {
                client,
                radius_km,
                bound,
            } = ClientLine::parse(line)
            {
                all.push(Whatsat {
                    id: *id,
                    server: server.clone(),
                    sent: event.at,
                    replied: None,
                    radius_metres: radius_km.times_thousand(),
                    bound,
                    client,
                    location: None,
                    places_calls: 0,
                });
            }
        } else if let SimEvent::ClientReply { id, text, .. } = sim
            && let Some(w) = all.iter_mut().find(|w| w.id == *id)
        {
            w.replied = Some(event.at);
            w.location = reply_location(text);
        }
    }
    all
}

/// Client -> every location an IAMAT of a client step sent for it.
fn iamat_locations(run: &RunRecord) -> std::collections::BTreeMap<String, Vec<Location>> {
    let mut locations: std::collections::BTreeMap<String, Vec<Location>> = Default::default();
    for (_, sim) in run.trace.sim_events() {
        if let SimEvent::ClientSend { line, .. } = sim
            && let ClientLine::IamAt {
                client, location, ..
            } = ClientLine::parse(line)
        {
            locations.entry(client).or_default().push(location);
        }
    }
    locations
}

impl Whatsat {
    /// Whether a request at `location` is at this WHATSAT's client: where its reply says it
    /// is, else where some IAMAT put it (any location when no IAMAT for it was seen).
    fn located_at(
        &self,
        location: Option<&Location>,
        sent: &std::collections::BTreeMap<String, Vec<Location>>,
    ) -> bool {
        self.located_where(sent, |expected| location == Some(expected))
    }

    /// Whether a location for which `is_at` holds is at this WHATSAT's client, as
    /// [`Self::located_at`] decides it.
    fn located_where(
        &self,
        sent: &std::collections::BTreeMap<String, Vec<Location>>,
        is_at: impl Fn(&Location) -> bool,
    ) -> bool {
        match (&self.location, sent.get(&self.client)) {
            (Some(expected), _) => is_at(expected),
            (None, Some(candidates)) => candidates.iter().any(is_at),
            (None, None) => true,
        }
    }

    /// Whether `request` asks for this WHATSAT, by the request's own API's rules.
    fn asks_for(
        &self,
        request: &Request,
        sent: &std::collections::BTreeMap<String, Vec<Location>>,
    ) -> bool {
        match request {
            Request::Legacy { location, radius } => {
                radius.as_ref() == Some(&self.radius_metres)
                    && self.located_at(location.as_ref(), sent)
            }
            Request::New {
                center,
                radius_m,
                max_result_count,
            } => {
                *max_result_count == Some(u64::from(self.bound))
                    && radius_m.is_some_and(|r| close_to(r, &self.radius_metres))
                    && center.is_some_and(|(lat, lng)| {
                        self.located_where(sent, |expected| {
                            close_to(lat, &expected.latitude) && close_to(lng, &expected.longitude)
                        })
                    })
            }
        }
    }
}

/// What one stub request asked, read by its API's rules.
enum Request {
    /// Legacy query text, as exact decimals.
    Legacy {
        location: Option<Location>,
        radius: Option<Decimal>,
    },
    /// Places (New) JSON numbers, as f64 (what the server sends).
    New {
        center: Option<(f64, f64)>,
        radius_m: Option<f64>,
        max_result_count: Option<u64>,
    },
}

impl Request {
    /// A stub request by its path: the New API's numbers as f64, legacy text as decimals;
    /// anything unreadable is `None` and so explains no WHATSAT.
    fn read(path: &str, location: &str, radius: &str, max_result_count: Option<u64>) -> Self {
        if path == NEW_API_PATH {
            let number = |text: &str| text.parse::<f64>().ok().filter(|n| n.is_finite());
            let center = location
                .split_once(',')
                .and_then(|(lat, lng)| Some((number(lat)?, number(lng)?)));
            Request::New {
                center,
                radius_m: number(radius),
                max_result_count,
            }
        } else {
            Request::Legacy {
                location: Location::from_places_query(location),
                radius: Decimal::parse_unsigned(radius),
            }
        }
    }
}

/// Whether `value` is the decimal `expected` within [`RELATIVE_ERROR_MAX`].
pub(crate) fn close_to(value: f64, expected: &Decimal) -> bool {
    let Ok(expected) = expected.to_string().parse::<f64>() else {
        return false;
    };
    (value - expected).abs() <= RELATIVE_ERROR_MAX * expected.abs().max(1.0)
}

impl Checker for PlacesCalls {
    fn name(&self) -> CheckerName {
        CheckerName::PlacesCalls
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut whatsats = whatsats(run);
        let sent_locations = iamat_locations(run);
        let mut violations = Vec::new();
        let mut requests = 0usize;
        for (event, sim) in run.trace.sim_events() {
            let SimEvent::PlacesStubRequest {
                path,
                location,
                radius,
                key_present,
                from,
                max_result_count,
            } = sim
            else {
                continue;
            };
            requests += 1;
            let request = Request::read(path, location, radius, *max_result_count);
            if !key_present {
                violations.push(Violation::new(event.at, "a Places request without the key"));
            }
            // Of the WHATSATs this request could serve, take the one whose reply comes first
            // (earliest deadline): matching in that order never strands a later request that
            // another choice could have explained.
            let explained = whatsats
                .iter_mut()
                .filter(|w| {
                    w.places_calls == 0
                        && w.sent <= event.at
                        && w.replied.is_none_or(|r| event.at <= r)
                        && from.as_ref().is_none_or(|f| *f == w.server)
                        && w.asks_for(&request, &sent_locations)
                })
                .min_by_key(|w| (w.replied.is_none(), w.replied));
            match explained {
                Some(w) => w.places_calls += 1,
                None => violations.push(Violation::new(
                    event.at,
                    match request {
                        Request::Legacy { .. } => format!(
                            "a Places request at {location} (radius {radius} m) that no WHATSAT in flight explains{}",
                            expected_locations(&whatsats, event.at)
                        ),
                        Request::New { .. } => format!(
                            "a Places (New) request at {location} (radius {radius} m, maxResultCount {}) that no WHATSAT in flight explains{}",
                            max_result_count.map_or("absent".to_string(), |n| n.to_string()),
                            expected_searches(&whatsats, event.at)
                        ),
                    },
                )),
            }
        }
        violations.extend(budget::violations(run));
        Verdict::judge(
            CheckerName::PlacesCalls,
            violations,
            Some(format!("{requests} Places requests judged")),
        )
    }
}

/// `; WHATSATs in flight ask at LAT,LNG ...`: what a request at `at` could have been.
fn expected_locations(whatsats: &[Whatsat], at: Duration) -> String {
    let wanted: Vec<String> = whatsats
        .iter()
        .filter(|w| w.sent <= at && w.replied.is_none_or(|r| at <= r))
        .filter_map(|w| w.location.as_ref().map(Location::places_query))
        .collect();
    if wanted.is_empty() {
        String::new()
    } else {
        format!("; WHATSATs in flight ask at {}", wanted.join(" "))
    }
}

/// `; WHATSATs in flight ask at LAT,LNG within R m for N`: what a Places (New) request at
/// `at` could have been.
fn expected_searches(whatsats: &[Whatsat], at: Duration) -> String {
    let wanted: Vec<String> = whatsats
        .iter()
        .filter(|w| w.sent <= at && w.replied.is_none_or(|r| at <= r))
        .filter_map(|w| {
            let location = w.location.as_ref()?.places_query();
            Some(format!(
                "{location} within {} m for {}",
                w.radius_metres, w.bound
            ))
        })
        .collect();
    if wanted.is_empty() {
        String::new()
    } else {
        format!("; WHATSATs in flight ask at {}", wanted.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;
    use crate::scenario::Checks;
    use crate::trace::TraceEvent;

    fn send(at: u64, id: u64, line: &str) -> TraceEvent {
        TraceEvent::client_send(ms(at), id, "kiwi", "Bailey", format!("{line}\n").as_bytes())
    }

    fn request(at: u64, radius: &str) -> TraceEvent {
        TraceEvent::places_stub_request(
            ms(at),
            "/maps/api/place/nearbysearch/json",
            "1,1",
            radius,
            true,
            None,
        )
    }

    fn request_from(at: u64, radius: &str, from: &str) -> TraceEvent {
        TraceEvent::places_stub_request(
            ms(at),
            "/maps/api/place/nearbysearch/json",
            "1,1",
            radius,
            true,
            Some(from.to_string()),
        )
    }

    fn reply(at: u64, id: u64) -> TraceEvent {
        TraceEvent::client_reply(
            ms(at),
            id,
            "kiwi",
            "Bailey",
            "AT Bailey +0.1 kiwi +1+1 1700000000\n{}\n\n",
        )
    }

    #[test]
    fn a_whatsat_explains_one_request_with_its_radius_in_metres() {
        let trace = trace(vec![
            send(0, 1, "WHATSAT kiwi 2.5 3"),
            request(5, "2500"),
            reply(9, 1),
        ]);
        let checks = Checks::default();
        let verdict = PlacesCalls.check(&run_record(&trace, &checks));
        assert!(verdict.ok, "{verdict}");
    }

    #[test]
    fn concurrent_whatsats_are_told_apart_by_location() {
        let other = TraceEvent::client_reply(
            ms(7),
            2,
            "lime",
            "Clark",
            "AT Clark +0.1 lime +6+6 1700000000\n{}\n\n",
        );
        let trace = trace(vec![
            send(0, 1, "WHATSAT kiwi 10 1"),
            send(0, 2, "WHATSAT lime 10 1"),
            TraceEvent::places_stub_request(ms(5), "/p", "6,6", "10000", true, None),
            other,
            TraceEvent::places_stub_request(ms(8), "/p", "1,1", "10000", true, None),
            reply(9, 1),
        ]);
        let checks = Checks::default();
        let verdict = PlacesCalls.check(&run_record(&trace, &checks));
        assert!(verdict.ok, "{verdict}");
    }

    #[test]
    fn a_places_request_during_an_iamat_is_caught() {
        let trace = trace(vec![
            send(0, 1, "IAMAT kiwi +1+1 1700000000"),
            request(5, "10000"),
            reply(9, 1),
        ]);
        let checks = Checks::default();
        assert!(!PlacesCalls.check(&run_record(&trace, &checks)).ok);
    }

    #[test]
    fn a_radius_not_converted_to_metres_is_caught() {
        let trace = trace(vec![
            send(0, 1, "WHATSAT kiwi 10 3"),
            request(5, "10"),
            reply(9, 1),
        ]);
        let checks = Checks::default();
        assert!(!PlacesCalls.check(&run_record(&trace, &checks)).ok);
    }

    #[test]
    fn two_requests_for_one_whatsat_are_caught() {
        let trace = trace(vec![
            send(0, 1, "WHATSAT kiwi 1 3"),
            request(5, "1000"),
            request(6, "1000"),
            reply(9, 1),
        ]);
        let checks = Checks::default();
        assert!(!PlacesCalls.check(&run_record(&trace, &checks)).ok);
    }

    #[test]
    fn two_identical_whatsats_are_matched_in_the_order_their_replies_came() {
        let trace = trace(vec![
            send(0, 1, "WHATSAT kiwi 45 2"),
            send(0, 2, "WHATSAT kiwi 45 2"),
            request(5, "45000"),
            reply(7, 2),
            request(8, "45000"),
            reply(9, 1),
        ]);
        let checks = Checks::default();
        let verdict = PlacesCalls.check(&run_record(&trace, &checks));
        assert!(verdict.ok, "{verdict}");
    }

    #[test]
    fn a_request_from_a_server_with_no_whatsat_in_flight_is_caught() {
        let trace = trace(vec![
            send(0, 1, "WHATSAT kiwi 10 3"),
            request_from(5, "10000", "Clark"),
            reply(9, 1),
        ]);
        let checks = Checks::default();
        assert!(
            !PlacesCalls.check(&run_record(&trace, &checks)).ok,
            "the WHATSAT went to Bailey"
        );
    }

    fn located(location: &str) -> Verdict {
        let trace = trace(vec![
            send(0, 1, "WHATSAT kiwi 10 1"),
            TraceEvent::places_stub_request(ms(5), "/p", location, "10000", true, None),
            TraceEvent::client_reply(
                ms(9),
                1,
                "kiwi",
                "Bailey",
                "AT Clark +0.1 kiwi +34.068930-118.445127 1700000000\n{}\n\n",
            ),
        ]);
        let checks = Checks::default();
        PlacesCalls.check(&run_record(&trace, &checks))
    }

    #[test]
    fn the_request_is_at_the_replys_location_in_exact_decimal_degrees() {
        let v = located("34.068930,-118.445127");
        assert!(v.ok, "{v}");
        let v = located("34.06893,-118.445127");
        assert!(v.ok, "trailing zeros are the same number: {v}");
    }

    #[test]
    fn a_swapped_or_unsigned_or_unreadable_location_is_caught() {
        for location in [
            "-118.445127,34.068930",
            "34.068930,118.445127",
            "+34.068930,-118.445127",
            "34.068930-118.445127",
        ] {
            let v = located(location);
            assert!(!v.ok, "{location}");
            assert!(
                v.details[0].contains("ask at 34.06893,-118.445127"),
                "{location}: {v}"
            );
        }
    }

    #[test]
    fn without_a_reply_the_location_is_one_an_iamat_sent() {
        let trace = trace(vec![
            send(0, 0, "IAMAT kiwi +1.5-2 1700000000"),
            send(1, 1, "WHATSAT kiwi 10 1"),
            TraceEvent::places_stub_request(ms(5), "/p", "1.5,2", "10000", true, None),
        ]);
        let checks = Checks::default();
        assert!(!PlacesCalls.check(&run_record(&trace, &checks)).ok);
        let trace = trace_of_right_request();
        assert!(PlacesCalls.check(&run_record(&trace, &checks)).ok);
    }

    fn trace_of_right_request() -> crate::trace::Trace {
        trace(vec![
            send(0, 0, "IAMAT kiwi +1.5-2 1700000000"),
            send(1, 1, "WHATSAT kiwi 10 1"),
            TraceEvent::places_stub_request(ms(5), "/p", "1.5,-2", "10000", true, None),
        ])
    }

    /// A WHATSAT for kiwi at -33.5-70.25 (0.5 km, bound 5) and one Places (New) request.
    fn searched(location: &str, radius: &str, count: Option<u64>) -> Verdict {
        let trace = trace(vec![
            send(0, 1, "WHATSAT kiwi 0.5 5"),
            TraceEvent::places_stub_search_nearby(
                ms(5),
                NEW_API_PATH,
                location,
                radius,
                count,
                true,
                Some("Bailey".to_string()),
            ),
            TraceEvent::client_reply(
                ms(9),
                1,
                "kiwi",
                "Bailey",
                "AT Clark +0.1 kiwi -33.500000-70.250000 1700000000\n{}\n\n",
            ),
        ]);
        let checks = Checks::default();
        PlacesCalls.check(&run_record(&trace, &checks))
    }

    #[test]
    fn a_places_new_request_with_the_clients_numbers_and_bound_passes() {
        for (location, radius) in [
            ("-33.5,-70.25", "500.0"),
            ("-33.5,-70.25", "500"),
            ("-33.50000000000001,-70.25000000000001", "500.0000000000001"),
        ] {
            let v = searched(location, radius, Some(5));
            assert!(v.ok, "{location} {radius}: {v}");
        }
    }

    #[test]
    fn a_places_new_request_with_a_wrong_center_radius_or_count_is_caught() {
        for (location, radius, count) in [
            ("1.0,-70.25", "500.0", Some(5)),
            ("-33.5,-1.0", "500.0", Some(5)),
            ("-70.25,-33.5", "500.0", Some(5)),
            ("33.5,-70.25", "500.0", Some(5)),
            ("-33.5001,-70.25", "500.0", Some(5)),
            ("-33.5,-70.25", "1.0", Some(5)),
            ("-33.5,-70.25", "0.5", Some(5)),
            ("-33.5,-70.25", "500.0", Some(20)),
            ("-33.5,-70.25", "500.0", None),
            ("", "", None),
        ] {
            let v = searched(location, radius, count);
            assert!(!v.ok, "{location} {radius} {count:?}");
            assert!(
                v.details[0].contains("ask at -33.5,-70.25 within 500 m for 5"),
                "{location}: {v}"
            );
        }
    }

    #[test]
    fn a_places_new_request_near_zero_is_judged_absolutely() {
        let trace = trace(vec![
            send(0, 0, "IAMAT kiwi +0-0.000001 1700000000"),
            send(1, 1, "WHATSAT kiwi 10 1"),
            TraceEvent::places_stub_search_nearby(
                ms(5),
                NEW_API_PATH,
                "0.0,-1e-6",
                "10000.0",
                Some(1),
                true,
                None,
            ),
        ]);
        let checks = Checks::default();
        assert!(PlacesCalls.check(&run_record(&trace, &checks)).ok);
    }
}
