//! The stub's Places API (New) `searchNearby`: reading the request body as Google does (a body
//! it cannot read is a 400 with an `error` object, never places near 0,0) and answering the
//! same offline place data as the legacy path, in the New API's `places[]` shape.

use serde_json::{Value, json};

/// Where Places API (New) answers a nearby search (SPEC section 6).
pub use crate::oracle::PLACES_NEW_API_PATH as PATH;

/// Google refuses a `maxResultCount` outside this range.
const MAX_RESULT_COUNT_MAX: u64 = 20;

/// Google refuses a circle radius above this many metres (and one of 0 or less).
const RADIUS_M_MAX: f64 = 50_000.0;

/// What the request asked, each number also as the body wrote it (for the trace).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchNearby {
    pub latitude: f64,
    pub longitude: f64,
    pub radius_m: f64,
    pub max_result_count: u64,
}

/// One `searchNearby` as the stub (or real mode's mock) received it.
pub struct Received<'a> {
    pub method_is_post: bool,
    pub field_mask_present: bool,
    pub body: &'a [u8],
}

/// What was read of a [`Received`]: the trace's fields, and the request or Google's refusal.
pub struct Read {
    /// `LAT,LNG` as the body's JSON numbers, empty without both.
    pub location: String,
    /// The body's radius as a JSON number, empty without one.
    pub radius: String,
    pub max_result_count: Option<u64>,
    pub request: Result<SearchNearby, String>,
}

/// Reads a request as Google does: POST, a field mask, then a readable body.
pub fn read(received: &Received<'_>) -> Read {
    let body: Value = serde_json::from_slice(received.body).unwrap_or_default();
    let (location, radius, max_result_count) = trace_fields(&body);
    let request = if !received.method_is_post {
        Err(format!("{PATH} takes POST."))
    } else if !received.field_mask_present {
        Err("FieldMask is a required parameter.".to_string())
    } else {
        read_body(&body)
    };
    Read {
        location,
        radius,
        max_result_count,
        request,
    }
}

/// The HTTP code and JSON body answering `request`: Google's refusal first (it reads the
/// request before anything else), then a fault's legacy `places_status` as the New API's
/// error, else the places.
pub fn answer(
    request: &Result<SearchNearby, String>,
    places_status: Option<&str>,
) -> (u16, String) {
    const REFUSED: &str = "the simulated Places host refuses this request";
    match (request, places_status.map(fault_error)) {
        (Err(message), _) => (
            400,
            error_json(400, "INVALID_ARGUMENT", message).to_string(),
        ),
        (Ok(_), Some(Some((code, status)))) => {
            (code, error_json(code, status, REFUSED).to_string())
        }
        (Ok(_), Some(None)) => (200, "{}".to_string()),
        (Ok(request), None) => (200, answer_json(request).to_string()),
    }
}

/// The parts of a body the trace records, read as far as they go: `LAT,LNG` and the radius
/// as JSON number text (empty when absent or not numbers), and `maxResultCount` if it is one.
fn trace_fields(body: &Value) -> (String, String, Option<u64>) {
    let circle = &body["locationRestriction"]["circle"];
    let number = |v: &Value| v.as_number().map(ToString::to_string);
    let location = match (
        number(&circle["center"]["latitude"]),
        number(&circle["center"]["longitude"]),
    ) {
        (Some(lat), Some(lng)) => format!("{lat},{lng}"),
        _ => String::new(),
    };
    let radius = number(&circle["radius"]).unwrap_or_default();
    (location, radius, body["maxResultCount"].as_u64())
}

/// The request `body` asks for, or why Google would refuse it (its `INVALID_ARGUMENT` text).
fn read_body(body: &Value) -> Result<SearchNearby, String> {
    let circle = &body["locationRestriction"]["circle"];
    let center = &circle["center"];
    let latitude = center["latitude"]
        .as_f64()
        .ok_or("locationRestriction.circle.center.latitude is missing or not a number")?;
    let longitude = center["longitude"]
        .as_f64()
        .ok_or("locationRestriction.circle.center.longitude is missing or not a number")?;
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(format!(
            "Invalid location: latitude {latitude}, longitude {longitude} is out of range."
        ));
    }
    let radius_m = circle["radius"]
        .as_f64()
        .ok_or("locationRestriction.circle.radius is missing or not a number")?;
    if !(radius_m > 0.0 && radius_m <= RADIUS_M_MAX) {
        return Err(format!(
            "locationRestriction.circle.radius must be in (0.0, 50000.0], got {radius_m}."
        ));
    }
    // Google defaults an absent count to 20; the server always sends its bound, so an absent
    // one is a mistake worth seeing.
    let max_result_count = body["maxResultCount"]
        .as_u64()
        .filter(|n| (1..=MAX_RESULT_COUNT_MAX).contains(n))
        .ok_or("maxResultCount must be an integer in 1..=20.")?;
    Ok(SearchNearby {
        latitude,
        longitude,
        radius_m,
        max_result_count,
    })
}

/// The New API's answer for `request`: the offline place set's results around its center,
/// at most `maxResultCount` of them, as `places[]`; `{}` when none (Google omits the key).
fn answer_json(request: &SearchNearby) -> Value {
    let legacy =
        server::places::offline::nearby_json(request.latitude, request.longitude, request.radius_m);
    let places: Vec<Value> = legacy["results"]
        .as_array()
        .into_iter()
        .flatten()
        .take(request.max_result_count as usize)
        .map(place_json)
        .collect();
    if places.is_empty() {
        json!({})
    } else {
        json!({ "places": places })
    }
}

/// One legacy result in the New API's shape, with the fields the server's field mask asks.
fn place_json(result: &Value) -> Value {
    json!({
        "id": result["place_id"],
        "types": result["types"],
        "formattedAddress": result["vicinity"],
        "location": {
            "latitude": result["geometry"]["location"]["lat"],
            "longitude": result["geometry"]["location"]["lng"],
        },
        "rating": result["rating"],
        "displayName": { "text": result["name"], "languageCode": "en" },
    })
}

/// Google's error answer: HTTP `code` with `{"error": {code, message, status}}`.
fn error_json(code: u16, status: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message, "status": status } })
}

/// The HTTP code and error status the New API uses where legacy answers `places_status`
/// with 200 (the New API has no status field): `None` for `ZERO_RESULTS`, an empty answer.
fn fault_error(places_status: &str) -> Option<(u16, &'static str)> {
    match places_status {
        "ZERO_RESULTS" => None,
        "OVER_QUERY_LIMIT" => Some((429, "RESOURCE_EXHAUSTED")),
        "REQUEST_DENIED" => Some((403, "PERMISSION_DENIED")),
        "INVALID_REQUEST" => Some((400, "INVALID_ARGUMENT")),
        _ => Some((500, "INTERNAL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(latitude: Value, longitude: Value, radius: Value, count: Value) -> Value {
        json!({
            "maxResultCount": count,
            "locationRestriction": { "circle": {
                "center": { "latitude": latitude, "longitude": longitude },
                "radius": radius,
            }}
        })
    }

    #[test]
    fn a_right_body_is_read_and_traced_as_written() {
        let b = body(json!(-33.5), json!(-70.25), json!(500.0), json!(5));
        assert_eq!(
            read_body(&b),
            Ok(SearchNearby {
                latitude: -33.5,
                longitude: -70.25,
                radius_m: 500.0,
                max_result_count: 5
            })
        );
        assert_eq!(
            trace_fields(&b),
            ("-33.5,-70.25".to_string(), "500.0".to_string(), Some(5))
        );
    }

    #[test]
    fn a_body_google_cannot_read_is_refused() {
        for b in [
            json!({}),
            body(json!(91.0), json!(0.0), json!(10.0), json!(5)),
            body(json!(0.0), json!(-180.5), json!(10.0), json!(5)),
            body(json!("1"), json!(0.0), json!(10.0), json!(5)),
            body(json!(0.0), json!(0.0), json!(0.0), json!(5)),
            body(json!(0.0), json!(0.0), json!(-1.0), json!(5)),
            body(json!(0.0), json!(0.0), json!(50_000.5), json!(5)),
            body(json!(0.0), json!(0.0), json!(10.0), json!(0)),
            body(json!(0.0), json!(0.0), json!(10.0), json!(21)),
            body(json!(0.0), json!(0.0), json!(10.0), Value::Null),
        ] {
            assert!(read_body(&b).is_err(), "{b}");
        }
    }

    #[test]
    fn the_answer_is_the_legacy_place_data_in_the_new_shape_cut_to_the_count() {
        let request = SearchNearby {
            latitude: 10.0,
            longitude: 20.0,
            radius_m: 10_000.0,
            max_result_count: 3,
        };
        let answer = answer_json(&request);
        let places = answer["places"].as_array().expect("places");
        assert_eq!(places.len(), 3);
        assert_eq!(places[0]["id"], "offline-01");
        assert_eq!(places[0]["displayName"]["text"], "Nimbus Coffee House");
        assert!(places[0]["location"]["latitude"].as_f64().is_some());
        let nothing = SearchNearby {
            radius_m: 1.0,
            ..request
        };
        assert_eq!(answer_json(&nothing), json!({}));
    }
}
