//! `places_calls` (safety): every request the Places stub got is explained by one WHATSAT in
//! flight at the server that asked, with the same radius in metres (so an IAMAT never calls
//! Places, a WHATSAT calls it at most once, and km are converted to metres exactly), at the
//! location of the client asked about, and every request carried the key.
//!
//! The expected `location=LAT,LNG` comes from the scenario's own numbers: the location text of
//! the record the WHATSAT's reply shows (else of any IAMAT sent for that client), read by the
//! reference grammar ([`crate::oracle::spec`]) and compared with the request's value as exact
//! decimals (SPEC section 6: latitude first, `-` for south and west), never through the
//! server's own query formatting. A swapped pair or a lost sign is caught.

use std::time::Duration;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::oracle::spec::{ClientLine, Decimal, Location};
use crate::trace::SimEvent;

pub struct PlacesCalls;

/// A WHATSAT a client sent: when, the radius it asked, and where its client was.
struct Whatsat {
    id: u64,
    server: String,
    sent: Duration,
    /// When the reply came; `None` if none did.
    replied: Option<Duration>,
    radius_metres: Decimal,
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
                client, radius_km, ..
            } = ClientLine::parse(line)
            {
                all.push(Whatsat {
                    id: *id,
                    server: server.clone(),
                    sent: event.at,
                    replied: None,
                    radius_metres: radius_km.times_thousand(),
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
        match (&self.location, sent.get(&self.client)) {
            (Some(expected), _) => location == Some(expected),
            (None, Some(candidates)) => location.is_some_and(|l| candidates.contains(l)),
            (None, None) => true,
        }
    }
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
                location,
                radius,
                key_present,
                from,
                ..
            } = sim
            else {
                continue;
            };
            requests += 1;
            let asked_location = Location::from_places_query(location);
            let asked_radius = Decimal::parse_unsigned(radius);
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
                        && asked_radius.as_ref() == Some(&w.radius_metres)
                        && from.as_ref().is_none_or(|f| *f == w.server)
                        && w.located_at(asked_location.as_ref(), &sent_locations)
                })
                .min_by_key(|w| (w.replied.is_none(), w.replied));
            match explained {
                Some(w) => w.places_calls += 1,
                None => violations.push(Violation::new(
                    event.at,
                    format!(
                        "a Places request at {location} (radius {radius} m) that no WHATSAT in flight explains{}",
                        expected_locations(&whatsats, event.at)
                    ),
                )),
            }
        }
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
}
