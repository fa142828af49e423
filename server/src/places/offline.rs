//! The built-in offline place set: THE place data of the project when there is no Places key.
//!
//! A fresh machine with no network (and the simulation, and the wiremock tests) still gets a
//! working WHATSAT: a legacy-shape Nearby Search response, clearly marked as not real, and the
//! same bytes for the same query on every run (fixed ids, fixed offsets, no map iteration, no
//! randomness).

use serde_json::{Value, json};

/// Legacy Nearby Search never returns more than this many results per page.
pub const RESULTS_MAX: usize = 20;

/// What `html_attributions` says, so nobody mistakes the data for real places.
pub const ATTRIBUTION: &str = "Offline place set: no PLACES_API_KEY; not real places";

/// Mean Earth radius (IUGG), the sphere both placement and distance use.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Coordinates are rounded to Google's 7 decimals; distances are measured from the rounded
/// position, so what the filter judged is exactly what the client sees.
const COORDINATE_SCALE: f64 = 1e7;

/// Below this |cos(latitude)| an east offset would span absurd longitudes; clamp it.
const COS_LATITUDE_MIN: f64 = 1e-6;

/// One fictional place, positioned relative to the query point.
struct OfflinePlace {
    id: &'static str,
    name: &'static str,
    vicinity: &'static str,
    types: &'static [&'static str],
    rating: f64,
    user_ratings_total: u32,
    north_m: f64,
    east_m: f64,
}

/// Offsets span 40 m to 48 km so every WHATSAT radius (0 < r <= 50 km) sees a different cut,
/// and more than 20 places fit in the largest radius so the 20-result cap is exercised too.
#[rustfmt::skip]
const PLACES: &[OfflinePlace] = &[
    place("offline-01", "Nimbus Coffee House", "1 Placeholder Way", &["cafe", "food"], 4.6, 212, 30.0, 25.0),
    place("offline-02", "Quillfeather Books", "14 Imaginary Lane", &["book_store", "store"], 4.8, 96, -80.0, 90.0),
    place("offline-03", "Café Sans Réalité", "3 Rue Fictive", &["cafe", "bakery", "food"], 4.3, 51, 150.0, -200.0),
    place("offline-04", "Lantern Row Noodles", "220 Nowhere Street", &["restaurant", "food"], 4.1, 388, -300.0, -260.0),
    place("offline-05", "Pebble Park", "Pebble Park", &["park"], 4.7, 1045, 420.0, 380.0),
    place("offline-06", "Marigold Pharmacy", "9 Sample Avenue", &["pharmacy", "health", "store"], 3.9, 77, -610.0, 520.0),
    place("offline-07", "Copperleaf Library", "100 Example Boulevard", &["library"], 4.5, 143, 900.0, -700.0),
    place("offline-08", "Driftwood Laundromat", "57 Mock Road", &["laundry"], 3.6, 29, -1_100.0, -900.0),
    place("offline-09", "Harbor of Nowhere Fish Market", "2 Pier Zero", &["supermarket", "food", "store"], 4.2, 610, 1_500.0, 1_200.0),
    place("offline-10", "Glasswing Gallery", "88 Untrue Terrace", &["art_gallery", "tourist_attraction"], 4.4, 188, -2_000.0, 1_400.0),
    place("offline-11", "Thistledown Bakery", "41 Pretend Place", &["bakery", "food"], 4.9, 402, 2_600.0, -1_800.0),
    place("offline-12", "Ironbark Gym", "7 Stand-in Street", &["gym", "health"], 4.0, 233, -3_100.0, -2_500.0),
    place("offline-13", "Saffron Terrace Restaurant", "16 Ficus Drive", &["restaurant", "food"], 4.5, 719, 4_000.0, 3_000.0),
    place("offline-14", "Wren Valley Veterinary", "300 Notreal Road", &["veterinary_care"], 4.7, 84, -5_200.0, 3_600.0),
    place("offline-15", "Moonlit Cinema", "12 Dreamer Court", &["movie_theater"], 4.2, 1290, 6_500.0, -4_900.0),
    place("offline-16", "Juniper Hostel", "5 Phantom Parade", &["lodging"], 3.8, 156, -8_300.0, -6_100.0),
    place("offline-17", "Old Mill Museum", "Mill Road", &["museum", "tourist_attraction"], 4.6, 932, 10_000.0, 8_000.0),
    place("offline-18", "Silverbirch Garden Centre", "60 Hypothetical Highway", &["store", "florist"], 4.3, 341, -12_500.0, 9_700.0),
    place("offline-19", "Kestrel Ridge Trailhead", "Kestrel Ridge", &["park", "tourist_attraction"], 4.8, 560, 16_000.0, -11_000.0),
    place("offline-20", "Tidewater Aquarium", "1 Ocean-ish Drive", &["aquarium", "tourist_attraction"], 4.4, 2087, -20_000.0, -14_500.0),
    place("offline-21", "Foxglove Farm Shop", "Foxglove Lane", &["grocery_or_supermarket", "food", "store"], 4.6, 118, 25_000.0, 18_000.0),
    place("offline-22", "Cinderpeak Observatory", "Summit Road", &["tourist_attraction"], 4.9, 301, -31_000.0, 22_000.0),
    place("offline-23", "Bramblewood Campground", "Bramblewood Forest", &["campground", "lodging"], 4.1, 207, 36_000.0, -27_000.0),
    place("offline-24", "Lighthouse at World's End", "End of the Road", &["tourist_attraction"], 4.7, 845, -5_000.0, -49_000.0),
    place("offline-25", "Far Meadow Airfield", "Far Meadow", &["airport"], 3.7, 63, 48_000.0, 30_000.0),
];

#[allow(clippy::too_many_arguments)]
const fn place(
    id: &'static str,
    name: &'static str,
    vicinity: &'static str,
    types: &'static [&'static str],
    rating: f64,
    user_ratings_total: u32,
    north_m: f64,
    east_m: f64,
) -> OfflinePlace {
    OfflinePlace {
        id,
        name,
        vicinity,
        types,
        rating,
        user_ratings_total,
        north_m,
        east_m,
    }
}

/// Deterministic legacy-shape Nearby Search response around (`latitude`, `longitude`):
/// places within `radius_m` (great-circle distance), nearest first (ties by id), at most
/// [`RESULTS_MAX`]; `"ZERO_RESULTS"` with `[]` when none. Marked offline in
/// `html_attributions` and in each result's `"offline": true`.
pub fn nearby_json(latitude: f64, longitude: f64, radius_m: f64) -> Value {
    let mut found: Vec<(f64, &OfflinePlace, f64, f64)> = PLACES
        .iter()
        .filter_map(|p| {
            let (lat, lng) = position(latitude, longitude, p.north_m, p.east_m);
            let distance = distance_m(latitude, longitude, lat, lng);
            (distance <= radius_m).then_some((distance, p, lat, lng))
        })
        .collect();
    found.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.id.cmp(b.1.id)));
    found.truncate(RESULTS_MAX);
    let status = if found.is_empty() {
        "ZERO_RESULTS"
    } else {
        "OK"
    };
    let results: Vec<Value> = found
        .iter()
        .map(|(_, p, lat, lng)| result_json(p, *lat, *lng))
        .collect();
    json!({
        "html_attributions": [ATTRIBUTION],
        "results": results,
        "status": status,
    })
}

/// One result in the legacy shape (the subset of Google's fields a client is likely to read).
fn result_json(p: &OfflinePlace, lat: f64, lng: f64) -> Value {
    json!({
        "business_status": "OPERATIONAL",
        "geometry": { "location": { "lat": lat, "lng": lng } },
        "name": p.name,
        "place_id": p.id,
        "rating": p.rating,
        "types": p.types.iter().copied().chain(["point_of_interest", "establishment"]).collect::<Vec<_>>(),
        "user_ratings_total": p.user_ratings_total,
        "vicinity": p.vicinity,
        "offline": true,
    })
}

/// The point `north_m`/`east_m` metres from the origin on the sphere, rounded to 7 decimals,
/// latitude clamped to the poles and longitude wrapped into [-180, 180].
fn position(latitude: f64, longitude: f64, north_m: f64, east_m: f64) -> (f64, f64) {
    let metres_per_degree = EARTH_RADIUS_M.to_radians();
    let lat = (latitude + north_m / metres_per_degree).clamp(-90.0, 90.0);
    let cos_lat = latitude.to_radians().cos().abs().max(COS_LATITUDE_MIN);
    let mut lng = longitude + east_m / (metres_per_degree * cos_lat);
    lng = (lng + 180.0).rem_euclid(360.0) - 180.0;
    (round(lat), round(lng))
}

fn round(degrees: f64) -> f64 {
    let rounded = (degrees * COORDINATE_SCALE).round() / COORDINATE_SCALE;
    // Avoid "-0.0" in the output.
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// Haversine great-circle distance in metres.
fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = phi2 - phi1;
    let d_lambda = (lng2 - lng1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().clamp(0.0, 1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(value: &Value) -> &[Value] {
        value["results"].as_array().map_or(&[], Vec::as_slice)
    }

    #[test]
    fn the_same_query_gives_the_same_bytes() {
        let a = nearby_json(34.06893, -118.445127, 10_000.0).to_string();
        let b = nearby_json(34.06893, -118.445127, 10_000.0).to_string();
        assert_eq!(a, b);
    }

    #[test]
    fn only_places_within_the_radius_are_returned_nearest_first() {
        for radius_m in [50.0, 500.0, 2_000.0, 10_000.0, 50_000.0] {
            let value = nearby_json(34.06893, -118.445127, radius_m);
            let mut last = 0.0;
            for r in results(&value) {
                let lat = r["geometry"]["location"]["lat"]
                    .as_f64()
                    .unwrap_or(f64::NAN);
                let lng = r["geometry"]["location"]["lng"]
                    .as_f64()
                    .unwrap_or(f64::NAN);
                let d = distance_m(34.06893, -118.445127, lat, lng);
                assert!(d <= radius_m, "{d} > {radius_m}");
                assert!(d >= last);
                last = d;
            }
        }
        assert_eq!(results(&nearby_json(34.06893, -118.445127, 500.0)).len(), 4);
        assert_eq!(
            results(&nearby_json(34.06893, -118.445127, 10_000.0)).len(),
            15
        );
    }

    #[test]
    fn the_largest_radius_is_capped_at_twenty_results() {
        let value = nearby_json(34.06893, -118.445127, 50_000.0);
        assert_eq!(results(&value).len(), RESULTS_MAX);
        assert_eq!(value["status"], "OK");
    }

    #[test]
    fn nothing_within_the_radius_is_zero_results() {
        let value = nearby_json(0.0, 0.0, 10.0);
        assert_eq!(value["status"], "ZERO_RESULTS");
        assert!(results(&value).is_empty());
        assert_eq!(value["html_attributions"][0], ATTRIBUTION);
    }

    #[test]
    fn every_result_is_marked_offline() {
        let value = nearby_json(-33.8688, 151.2093, 50_000.0);
        assert!(results(&value).iter().all(|r| r["offline"] == true));
    }

    #[test]
    fn poles_and_the_antimeridian_stay_in_range() {
        for (lat, lng) in [
            (90.0, 0.0),
            (-90.0, 180.0),
            (0.0, 180.0),
            (0.0, -180.0),
            (89.9999, 179.9999),
        ] {
            let value = nearby_json(lat, lng, 50_000.0);
            for r in results(&value) {
                let rlat = r["geometry"]["location"]["lat"]
                    .as_f64()
                    .unwrap_or(f64::NAN);
                let rlng = r["geometry"]["location"]["lng"]
                    .as_f64()
                    .unwrap_or(f64::NAN);
                assert!((-90.0..=90.0).contains(&rlat), "{rlat}");
                assert!((-180.0..=180.0).contains(&rlng), "{rlng}");
            }
        }
    }

    #[test]
    fn a_nan_radius_finds_nothing() {
        assert_eq!(nearby_json(0.0, 0.0, f64::NAN)["status"], "ZERO_RESULTS");
    }
}
