//! The offline place set's promises as the harness's own fixture: where each place lies
//! relative to the point asked about (its north and east offsets in metres, copied from the
//! set's table as the set's contract) and great-circle distance on the set's sphere, written
//! here rather than taken from `server::places::offline`, so a mistake there is not judged by
//! itself.
//!
//! The copy is deliberate: a change to the set's table that is meant must be made here too,
//! and one that is not meant (a lost sign, two offsets swapped) shows as a place that is not
//! where the fixture says. The fixture fixes *where* a place is, not *how* the set projects
//! an offset onto the sphere: positions are compared within [`Offset::tolerance_m`], which
//! covers any reasonable projection of a 50 km offset (the set's own, a geodesic one) up to
//! [`FIXTURE_LATITUDE_MAX`], yet is far below twice the smallest component of any offset,
//! which is what a lost sign moves a place by.

/// The sphere the offline set measures on: the mean Earth radius (IUGG), in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// How far a computed distance may stray from the set's own computation: two formulas on one
/// sphere agree to nanometres; coordinates printed with 7 decimals are exact for both.
pub const DISTANCE_TOLERANCE_M: f64 = 0.001;

/// Legacy Nearby Search answers at most this many results (docs/protocol.md §11).
pub const RESULTS_MAX: usize = 20;

/// Beyond this |latitude| of the point asked about, an offset of tens of kilometres east
/// spans many degrees of longitude and the set clamps at the poles, so the fixture's
/// positions are not judged there (distances still are).
pub const FIXTURE_LATITUDE_MAX: f64 = 80.0;

/// A position's allowed error relative to its offset's length: a projection's error grows
/// with the offset and with latitude, and stays near 2% at 80 degrees for the set's longest
/// offsets; the smallest component of every offset is at least a tenth of its length.
const OFFSET_TOLERANCE_RELATIVE: f64 = 0.05;
/// A position's allowed error whatever the offset (rounding to 7 decimals is ~1 cm).
const OFFSET_TOLERANCE_M: f64 = 1.0;

/// One place of the set: its id and where it lies from the point asked about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offset {
    pub id: &'static str,
    pub north_m: f64,
    pub east_m: f64,
}

/// The set's places, as its table documents them (`server/src/places/offline.rs`, `PLACES`).
pub const OFFSETS: [Offset; 25] = [
    offset("offline-01", 30.0, 25.0),
    offset("offline-02", -80.0, 90.0),
    offset("offline-03", 150.0, -200.0),
    offset("offline-04", -300.0, -260.0),
    offset("offline-05", 420.0, 380.0),
    offset("offline-06", -610.0, 520.0),
    offset("offline-07", 900.0, -700.0),
    offset("offline-08", -1_100.0, -900.0),
    offset("offline-09", 1_500.0, 1_200.0),
    offset("offline-10", -2_000.0, 1_400.0),
    offset("offline-11", 2_600.0, -1_800.0),
    offset("offline-12", -3_100.0, -2_500.0),
    offset("offline-13", 4_000.0, 3_000.0),
    offset("offline-14", -5_200.0, 3_600.0),
    offset("offline-15", 6_500.0, -4_900.0),
    offset("offline-16", -8_300.0, -6_100.0),
    offset("offline-17", 10_000.0, 8_000.0),
    offset("offline-18", -12_500.0, 9_700.0),
    offset("offline-19", 16_000.0, -11_000.0),
    offset("offline-20", -20_000.0, -14_500.0),
    offset("offline-21", 25_000.0, 18_000.0),
    offset("offline-22", -31_000.0, 22_000.0),
    offset("offline-23", 36_000.0, -27_000.0),
    offset("offline-24", -5_000.0, -49_000.0),
    offset("offline-25", 48_000.0, 30_000.0),
];

const fn offset(id: &'static str, north_m: f64, east_m: f64) -> Offset {
    Offset {
        id,
        north_m,
        east_m,
    }
}

impl Offset {
    /// The place with `id`, if the set has one.
    pub fn of(id: &str) -> Option<&'static Offset> {
        OFFSETS.iter().find(|o| o.id == id)
    }

    /// How far the place is from the point asked about, by its offset's length.
    pub fn length_m(&self) -> f64 {
        self.north_m.hypot(self.east_m)
    }

    /// How far a position (or a distance) may be from what the offset says.
    pub fn tolerance_m(&self) -> f64 {
        OFFSET_TOLERANCE_M + OFFSET_TOLERANCE_RELATIVE * self.length_m()
    }
}

/// A point on the sphere in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

impl Point {
    /// Whether the fixture's positions are judged around this point.
    pub fn fixture_applies(&self) -> bool {
        self.latitude.abs() <= FIXTURE_LATITUDE_MAX
    }
}

/// Great-circle distance in metres on [`EARTH_RADIUS_M`]'s sphere, by the atan2 form of the
/// central angle (Vincenty's formula on a sphere): well-conditioned at every distance, and
/// not the haversine form the set uses.
pub fn great_circle_m(a: Point, b: Point) -> f64 {
    let (phi1, phi2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let d_lambda = (b.longitude - a.longitude).to_radians();
    let y = (phi2.cos() * d_lambda.sin())
        .hypot(phi1.cos() * phi2.sin() - phi1.sin() * phi2.cos() * d_lambda.cos());
    let x = phi1.sin() * phi2.sin() + phi1.cos() * phi2.cos() * d_lambda.cos();
    EARTH_RADIUS_M * y.atan2(x)
}

/// How far north and east of `origin` `point` lies, in metres: the latitude difference along
/// a meridian, the longitude difference (the short way round) along `origin`'s parallel.
pub fn north_east_m(origin: Point, point: Point) -> (f64, f64) {
    let metres_per_degree = EARTH_RADIUS_M.to_radians();
    let north = (point.latitude - origin.latitude) * metres_per_degree;
    let d_longitude = (point.longitude - origin.longitude + 180.0).rem_euclid(360.0) - 180.0;
    let east = d_longitude * metres_per_degree * origin.latitude.to_radians().cos();
    (north, east)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64) -> Point {
        Point {
            latitude,
            longitude,
        }
    }

    #[test]
    fn a_degree_of_a_meridian_and_a_quarter_of_the_equator() {
        let degree = great_circle_m(at(0.0, 0.0), at(1.0, 0.0));
        assert!(
            (degree - EARTH_RADIUS_M.to_radians()).abs() < 1e-6,
            "{degree}"
        );
        let quarter = great_circle_m(at(0.0, 0.0), at(0.0, 90.0));
        assert!((quarter - EARTH_RADIUS_M * std::f64::consts::FRAC_PI_2).abs() < 1e-6);
        assert_eq!(great_circle_m(at(12.5, -70.0), at(12.5, -70.0)), 0.0);
        let across = great_circle_m(at(0.0, 179.9999), at(0.0, -179.9999));
        assert!(
            (across - 2e-4 * EARTH_RADIUS_M.to_radians()).abs() < 1e-6,
            "{across}"
        );
    }

    #[test]
    fn small_distances_are_exact_to_well_below_a_millimetre() {
        // 1e-7 degrees of latitude (the set's rounding step) is about 1.1 cm.
        let d = great_circle_m(at(34.0689300, -118.4451270), at(34.0689301, -118.4451270));
        assert!((d - 1e-7 * EARTH_RADIUS_M.to_radians()).abs() < 1e-6, "{d}");
    }

    #[test]
    fn north_and_east_are_read_back_the_short_way_round() {
        let metres_per_degree = EARTH_RADIUS_M.to_radians();
        let (n, e) = north_east_m(at(60.0, 179.99), at(60.01, -179.99));
        assert!((n - 0.01 * metres_per_degree).abs() < 1e-6, "{n}");
        assert!((e - 0.02 * metres_per_degree * 0.5).abs() < 1e-6, "{e}");
    }

    #[test]
    fn a_lost_sign_moves_every_place_beyond_its_tolerance() {
        for o in OFFSETS {
            let moved = 2.0 * o.north_m.abs().min(o.east_m.abs());
            assert!(moved > 2.0 * o.tolerance_m(), "{}: {moved}", o.id);
        }
    }

    #[test]
    fn ids_are_unique_and_found() {
        for o in OFFSETS {
            assert_eq!(Offset::of(o.id), Some(&o));
        }
        assert_eq!(Offset::of("offline-26"), None);
    }
}
