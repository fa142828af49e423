//! `places_calls` (safety): every request the Places stub got is explained by one WHATSAT in
//! flight at the server that asked, with the same radius in metres (so an IAMAT never calls Places, a WHATSAT calls it at
//! most once, and km are converted to metres exactly), and every request carried the key.

use std::str::FromStr;

use server::protocol::Command;

use std::time::Duration;

use super::{Checker, RunRecord, Verdict, Violation};
use crate::checker_name::CheckerName;
use crate::trace::{SimEvent, replay};

pub struct PlacesCalls;

/// A WHATSAT a client sent: when, the radius it asked, and what its reply showed.
struct Whatsat {
    id: u64,
    server: String,
    sent: Duration,
    /// When the reply came; `None` if none did.
    replied: Option<Duration>,
    radius_metres: String,
    /// The Places query value of the reply's location; `None` if the reply had no AT line.
    location: Option<String>,
    places_calls: usize,
}

fn whatsat_radius(line: &str) -> Option<String> {
    match Command::from_str(line) {
        Ok(Command::WhatsAt { radius, .. }) => Some(radius.metres_text()),
        _ => None,
    }
}

/// The location of a reply's AT line as Places is asked for it (`LAT,LNG`).
fn reply_location(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    replay::at_line(first).map(|record| record.location.query_value())
}

fn whatsats(run: &RunRecord) -> Vec<Whatsat> {
    let mut all: Vec<Whatsat> = Vec::new();
    for (event, sim) in run.trace.sim_events() {
        if let SimEvent::ClientSend {
            id, server, line, ..
        } = sim
        {
            if let Some(radius_metres) = whatsat_radius(line) {
                all.push(Whatsat {
                    id: *id,
                    server: server.clone(),
                    sent: event.at,
                    replied: None,
                    radius_metres,
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

impl Checker for PlacesCalls {
    fn name(&self) -> CheckerName {
        CheckerName::PlacesCalls
    }

    fn check(&self, run: &RunRecord) -> Verdict {
        let mut whatsats = whatsats(run);
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
                        && w.radius_metres == *radius
                        && from.as_ref().is_none_or(|f| *f == w.server)
                        && w.location.as_ref().is_none_or(|l| l == location)
                })
                .min_by_key(|w| (w.replied.is_none(), w.replied));
            match explained {
                Some(w) => w.places_calls += 1,
                None => violations.push(Violation::new(
                    event.at,
                    format!("a Places request at {location} (radius {radius} m) that no WHATSAT in flight explains"),
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
}
