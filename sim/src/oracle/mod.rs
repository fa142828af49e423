//! Oracles: what the herd should do, written from SPEC alone, so that a judge never decides a
//! question with the code it judges. Nothing here imports `server::protocol`.
//!
//! - [`spec`]: the reference grammar of a client line (SPEC sections 1-4): a valid IAMAT, a
//!   valid WHATSAT, a line of the link protocol, or an invalid line; exact decimal values of
//!   coordinates and timestamps; the `LAT,LNG` of a Places query (SPEC section 6).
//! - [`digest_buckets`]: which digest bucket a record falls in (README's rule), so a whole-table
//!   catch-up can be held to the buckets where two tables differ.
//! - [`offline_places`]: where the offline place set puts each place (the harness's own copy
//!   of its offsets) and great-circle distance on its sphere.

pub mod digest_buckets;
pub mod offline_places;
pub mod spec;

/// Where Places API (New) answers a nearby search (SPEC section 6): the path the stub and the
/// mock serve, and the judges tell the New API's requests by.
pub const PLACES_NEW_API_PATH: &str = "/v1/places:searchNearby";
