//! The offline place set's promises, judged on the places a WHATSAT reply shows with the
//! harness's own geometry and fixture ([`crate::oracle::offline_places`]): every place within
//! the radius of the client, nearest first, where the fixture puts it, none left out that the
//! radius and the bound let in; `status` `ZERO_RESULTS` exactly when there are none; and, in
//! the legacy shape the set itself answers, marked as offline data.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::owed::Api;
use crate::oracle::offline_places::{
    DISTANCE_TOLERANCE_M, OFFSETS, Offset, Point, great_circle_m, north_east_m,
};

/// What a WHATSAT asked, and which API answered it.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    /// The client's location, from the reply's AT line.
    pub origin: Point,
    /// The WHATSAT's radius in metres.
    pub radius_m: f64,
    pub bound: usize,
    pub api: Api,
}

/// Every broken promise of the places in `reply` (a WHATSAT reply's JSON with place data).
pub fn problems(reply: &Map<String, Value>, asked: &Asked) -> Vec<String> {
    let Some(results) = reply.get("results").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let status = reply.get("status").and_then(Value::as_str).unwrap_or("");
    let owed_status = if results.is_empty() {
        "ZERO_RESULTS"
    } else {
        "OK"
    };
    if status != owed_status {
        problems.push(format!(
            "`status` is {status:?} with {} results, not {owed_status:?}",
            results.len()
        ));
    }
    if asked.api == Api::Legacy && !names_the_offline_set(reply) {
        problems.push("`html_attributions` does not name the offline place set".to_string());
    }
    let mut shown: BTreeSet<&str> = BTreeSet::new();
    let mut farthest_m: f64 = 0.0;
    for (i, result) in results.iter().enumerate() {
        let id = place_id(result, asked.api);
        let label = format!("result {i} ({})", id.unwrap_or("no id"));
        let Some(position) = position(result, asked.api) else {
            problems.push(format!("{label} has no readable position"));
            continue;
        };
        // Places writes every coordinate in range; the same point as longitude 300 is not.
        if !(-90.0..=90.0).contains(&position.latitude)
            || !(-180.0..=180.0).contains(&position.longitude)
        {
            problems.push(format!(
                "{label} is at latitude {} longitude {}, outside [-90, 90] x [-180, 180]",
                position.latitude, position.longitude
            ));
        }
        let distance_m = great_circle_m(asked.origin, position);
        if distance_m > asked.radius_m + DISTANCE_TOLERANCE_M {
            problems.push(format!(
                "{label} is {distance_m:.3} m from the client, beyond the radius {} m",
                asked.radius_m
            ));
        }
        if distance_m + DISTANCE_TOLERANCE_M < farthest_m {
            problems.push(format!(
                "{label} is {distance_m:.3} m from the client, nearer than one before it \
                 ({farthest_m:.3} m): not nearest first"
            ));
        }
        farthest_m = farthest_m.max(distance_m);
        if asked.api == Api::Legacy && result.get("offline") != Some(&Value::Bool(true)) {
            problems.push(format!("{label} is not marked `\"offline\" : true`"));
        }
        let Some(id) = id else {
            continue;
        };
        if !shown.insert(id) {
            problems.push(format!("{label} is shown twice"));
        }
        match Offset::of(id) {
            None => problems.push(format!("{label} is no place of the offline set")),
            Some(offset) if asked.origin.fixture_applies() => {
                if let Some(problem) = misplaced(&label, offset, asked.origin, position) {
                    problems.push(problem);
                }
            }
            Some(_) => {}
        }
    }
    if asked.origin.fixture_applies() {
        problems.extend(missing(&shown, results.len(), farthest_m, asked));
    }
    problems
}

/// `label`'s place, found at `position`, is not where the fixture's offset puts it.
fn misplaced(label: &str, offset: &Offset, origin: Point, position: Point) -> Option<String> {
    let (north, east) = north_east_m(origin, position);
    let error = (north - offset.north_m).hypot(east - offset.east_m);
    (error > offset.tolerance_m()).then(|| {
        format!(
            "{label} lies {north:.1} m north and {east:.1} m east of the client; the offline \
             set puts it {} m north and {} m east",
            offset.north_m, offset.east_m
        )
    })
}

/// Places surely within the radius that the reply leaves out, though the bound did not cut
/// them off (it may cut only places at least as far as the farthest shown).
fn missing(shown: &BTreeSet<&str>, count: usize, farthest_m: f64, asked: &Asked) -> Vec<String> {
    OFFSETS
        .iter()
        .filter(|o| !shown.contains(o.id))
        .filter(|o| o.length_m() + o.tolerance_m() < asked.radius_m)
        .filter(|o| count < asked.bound || o.length_m() + o.tolerance_m() < farthest_m)
        .map(|o| {
            format!(
                "{} ({:.0} m away) is within the radius {} m but not shown ({count} results, \
                 bound {})",
                o.id,
                o.length_m(),
                asked.radius_m,
                asked.bound
            )
        })
        .collect()
}

/// Whether some `html_attributions` entry says the data is the offline set's (docs/protocol.md §11:
/// "marked as not real in `html_attributions`").
fn names_the_offline_set(reply: &Map<String, Value>) -> bool {
    reply
        .get("html_attributions")
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .any(|text| text.to_lowercase().contains("offline"))
        })
}

/// A result's place id: legacy `place_id`, Places (New) `id`.
fn place_id(result: &Value, api: Api) -> Option<&str> {
    let key = match api {
        Api::Legacy => "place_id",
        Api::New => "id",
    };
    result.get(key).and_then(Value::as_str)
}

/// A result's position: legacy `geometry.location.{lat,lng}`, Places (New)
/// `location.{latitude,longitude}`.
fn position(result: &Value, api: Api) -> Option<Point> {
    let (location, lat, lng) = match api {
        Api::Legacy => (result.get("geometry")?.get("location")?, "lat", "lng"),
        Api::New => (result.get("location")?, "latitude", "longitude"),
    };
    Some(Point {
        latitude: location.get(lat)?.as_f64()?,
        longitude: location.get(lng)?.as_f64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::offline_places::EARTH_RADIUS_M;
    use serde_json::json;

    const ORIGIN: Point = Point {
        latitude: 34.06893,
        longitude: -118.445127,
    };

    /// Where the fixture puts `id` around `origin`, on the set's own projection.
    fn placed(origin: Point, id: &str) -> Point {
        let offset = Offset::of(id).unwrap_or_else(|| panic!("{id}"));
        let metres_per_degree = EARTH_RADIUS_M.to_radians();
        Point {
            latitude: origin.latitude + offset.north_m / metres_per_degree,
            longitude: origin.longitude
                + offset.east_m / (metres_per_degree * origin.latitude.to_radians().cos()),
        }
    }

    fn legacy_result(id: &str, at: Point) -> Value {
        json!({
            "geometry": { "location": { "lat": at.latitude, "lng": at.longitude } },
            "name": "Somewhere",
            "place_id": id,
            "offline": true,
        })
    }

    /// A legacy reply with the set's first `n` places around `ORIGIN`.
    fn legacy_reply(n: usize) -> Map<String, Value> {
        let results: Vec<Value> = OFFSETS[..n]
            .iter()
            .map(|o| legacy_result(o.id, placed(ORIGIN, o.id)))
            .collect();
        let status = if n == 0 { "ZERO_RESULTS" } else { "OK" };
        match json!({
            "html_attributions": ["Offline place set: not real places"],
            "results": results,
            "status": status,
        }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn asked(radius_m: f64, bound: usize) -> Asked {
        Asked {
            origin: ORIGIN,
            radius_m,
            bound,
            api: Api::Legacy,
        }
    }

    #[test]
    fn the_sets_own_answers_keep_every_promise() {
        // offline-05 is 566 m away, offline-06 801 m; offline-20 24.7 km, offline-21 30.8 km.
        for (n, radius_m, bound) in [
            (5, 600.0, 10),
            (3, 600.0, 3),
            (0, 30.0, 5),
            (20, 50_000.0, 20),
            (20, 25_000.0, 20),
        ] {
            let problems = problems(&legacy_reply(n), &asked(radius_m, bound));
            assert!(problems.is_empty(), "{n} {radius_m} {bound}: {problems:?}");
        }
    }

    #[test]
    fn a_place_beyond_the_radius_is_caught() {
        let problems = problems(&legacy_reply(6), &asked(600.0, 10));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("beyond the radius 600 m")),
            "{problems:?}"
        );
    }

    #[test]
    fn places_out_of_order_are_caught() {
        let mut reply = legacy_reply(4);
        if let Some(Value::Array(results)) = reply.get_mut("results") {
            results.swap(1, 2);
        }
        let problems = problems(&reply, &asked(600.0, 4));
        assert!(
            problems.iter().any(|p| p.contains("not nearest first")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_place_with_a_lost_sign_is_caught_though_its_distance_is_right() {
        let mut reply = legacy_reply(3);
        let origin = ORIGIN;
        let mirrored = Point {
            latitude: origin.latitude - (placed(origin, "offline-02").latitude - origin.latitude),
            longitude: placed(origin, "offline-02").longitude,
        };
        if let Some(Value::Array(results)) = reply.get_mut("results") {
            results[1] = legacy_result("offline-02", mirrored);
        }
        let problems = problems(&reply, &asked(600.0, 3));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("the offline set puts it -80 m north and 90 m east"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_place_left_out_is_caught_unless_the_bound_cut_it() {
        let mut reply = legacy_reply(5);
        if let Some(Value::Array(results)) = reply.get_mut("results") {
            results.remove(2);
        }
        let problems = problems(&reply, &asked(600.0, 10));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("offline-03 (250 m away) is within the radius")),
            "{problems:?}"
        );
        let cut = problems_of(legacy_reply(4), 600.0, 4);
        assert!(cut.is_empty(), "the bound cut offline-05: {cut:?}");
    }

    fn problems_of(reply: Map<String, Value>, radius_m: f64, bound: usize) -> Vec<String> {
        problems(&reply, &asked(radius_m, bound))
    }

    #[test]
    fn the_status_follows_the_results() {
        let mut empty_ok = legacy_reply(0);
        empty_ok.insert("status".into(), json!("OK"));
        assert!(!problems_of(empty_ok, 30.0, 5).is_empty());
        let mut full_zero = legacy_reply(2);
        full_zero.insert("status".into(), json!("ZERO_RESULTS"));
        assert!(!problems_of(full_zero, 200.0, 5).is_empty());
    }

    #[test]
    fn legacy_data_is_marked_offline_in_attributions_and_every_result() {
        let mut unattributed = legacy_reply(1);
        unattributed.insert("html_attributions".into(), json!([]));
        assert_eq!(
            problems_of(unattributed, 100.0, 5),
            ["`html_attributions` does not name the offline place set"]
        );
        let mut unmarked = legacy_reply(1);
        if let Some(Value::Array(results)) = unmarked.get_mut("results")
            && let Some(Value::Object(result)) = results.get_mut(0)
        {
            result.remove("offline");
        }
        assert_eq!(
            problems_of(unmarked, 100.0, 5),
            ["result 0 (offline-01) is not marked `\"offline\" : true`"]
        );
    }

    #[test]
    fn a_longitude_out_of_range_is_caught_though_it_names_the_same_point() {
        let mut reply = legacy_reply(1);
        if let Some(Value::Array(results)) = reply.get_mut("results")
            && let Some(location) = results[0].pointer_mut("/geometry/location")
            && let Some(lng) = location.get("lng").and_then(Value::as_f64)
        {
            location["lng"] = json!(lng + 360.0);
        }
        let problems = problems_of(reply, 100.0, 5);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("outside [-90, 90] x [-180, 180]")),
            "{problems:?}"
        );
    }

    #[test]
    fn null_results_are_caught() {
        let mut reply = legacy_reply(2);
        reply.insert("results".into(), json!([null, null]));
        let problems = problems_of(reply, 200.0, 5);
        assert!(
            problems
                .iter()
                .any(|p| p == "result 0 (no id) has no readable position"),
            "{problems:?}"
        );
    }

    #[test]
    fn places_new_results_are_read_by_its_own_keys_and_carry_no_offline_mark() {
        let results: Vec<Value> = OFFSETS[..2]
            .iter()
            .map(|o| {
                let at = placed(ORIGIN, o.id);
                json!({ "id": o.id, "location": { "latitude": at.latitude, "longitude": at.longitude } })
            })
            .collect();
        let reply = match json!({ "html_attributions": [], "results": results, "status": "OK" }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let new = Asked {
            api: Api::New,
            ..asked(200.0, 5)
        };
        assert_eq!(problems(&reply, &new), Vec::<String>::new());
    }

    #[test]
    fn near_a_pole_positions_and_completeness_are_not_judged() {
        let origin = Point {
            latitude: 89.9,
            longitude: 10.0,
        };
        let reply = match json!({ "html_attributions": ["offline"], "results": [], "status": "ZERO_RESULTS" })
        {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let near_pole = Asked {
            origin,
            ..asked(50_000.0, 20)
        };
        assert_eq!(problems(&reply, &near_pole), Vec::<String>::new());
    }
}
