//! The simulated hosts that are not herd servers, named once: scenarios refuse them as server
//! names, the harness creates them, and the trace tells its sources apart by them.

/// The host of the harness's own events (faults, client commands).
pub const HARNESS_HOST: &str = "harness";
/// The Places stub's host; a scenario's `places` step names it as a link end.
pub const PLACES_HOST: &str = "places";
/// The one host every client command is sent from.
pub const CLIENTS_HOST: &str = "clients";

/// Every name a herd server may not take.
pub const RESERVED: [&str; 3] = [PLACES_HOST, HARNESS_HOST, CLIENTS_HOST];
