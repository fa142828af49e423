//! Deep canaries: bugs planted on purpose, each behind two rare events in one run (one behind
//! three), to measure how well the simulation's search (the swarm, the explorer) reaches deep corners.
//!
//! They exist only with the `canaries` cargo feature, which the simulation enables and
//! production builds never do; even then a canary is off unless a run chooses it by name
//! (`Env::canary`, which the binary leaves `None`: the simulation's scenarios set it). Without the
//! feature, [`Canary::parse`] refuses every name and [`Canaries::on`] is always false, so the
//! checks below compile to nothing. Each bug makes a server drop a record it must keep (it is
//! logged as `stale`) or store one it must refuse, which `monotonic`, `convergence` or
//! `integrity` catch.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Limits;
use crate::events::Source;
use crate::protocol::Record;
use crate::store::Store;

/// How close to the `timestamp_ahead_max` bound a record is "at the edge": 100 ms.
pub const AHEAD_EDGE_NANOS: i128 = 100_000_000;

/// One planted bug, chosen by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Canary {
    /// A client's IAMAT with a time difference of exactly zero that ties (same timestamp) a
    /// held record of another origin is dropped, even where it wins the tie.
    ZeroDiffTie,
    /// A neighbour's record for a client id of exactly `client_id_bytes_max` bytes is dropped
    /// while the table holds more than `table_bytes_max` bytes (grown by updates).
    EdgeIdOverfull,
    /// Once this server refused a record as too far ahead (a skewed neighbour), a neighbour's
    /// record within [`AHEAD_EDGE_NANOS`] of the `timestamp_ahead_max` bound is dropped while
    /// the table holds more than three quarters of `table_bytes_max` (under pressure, records
    /// that look skewed are shed first, and the test of "looks skewed" is off by its margin).
    EdgeAheadAfterSkew,
    /// Once a client connection sent a link's `AUTH` line (a handshake line where no link
    /// runs: links speak it only inside TLS, after `HELLO`), an `AT` line on a plain
    /// connection whose origin is a server of the herd but not a neighbour, for a client this
    /// server already holds, is taken as a classic peer's record: a hijack of a real client's
    /// location, not a new client.
    ReplayOpensNonNeighbour,
    /// A neighbour's record with a time difference of exactly zero and a location on a pole
    /// or the antimeridian (latitude ±90 or longitude ±180) is dropped.
    ZeroDiffPole,
}

impl Canary {
    pub const ALL: [Canary; 5] = [
        Canary::ZeroDiffTie,
        Canary::EdgeIdOverfull,
        Canary::EdgeAheadAfterSkew,
        Canary::ReplayOpensNonNeighbour,
        Canary::ZeroDiffPole,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Canary::ZeroDiffTie => "zero_diff_tie",
            Canary::EdgeIdOverfull => "edge_id_overfull",
            Canary::EdgeAheadAfterSkew => "edge_ahead_after_skew",
            Canary::ReplayOpensNonNeighbour => "replay_opens_non_neighbour",
            Canary::ZeroDiffPole => "zero_diff_pole",
        }
    }

    /// The canary called `name`; an error naming them all if there is none, or saying why
    /// none can run if this build has no canaries.
    pub fn parse(name: &str) -> Result<Canary, String> {
        if !cfg!(feature = "canaries") {
            return Err(format!(
                "canary `{name}`: this build has no canaries (the server's `canaries` feature is off)"
            ));
        }
        Canary::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Canary::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "unknown canary `{name}`, expected one of {}",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Canary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The canary a server runs, if any, and the rare events it has seen so far.
#[derive(Debug, Default)]
pub struct Canaries {
    chosen: Option<Canary>,
    refused_ahead: AtomicBool,
    replayed_auth: AtomicBool,
}

impl Canaries {
    pub fn new(chosen: Option<Canary>) -> Canaries {
        Canaries {
            chosen,
            ..Canaries::default()
        }
    }

    /// Whether `canary` is the one running (never, without the feature).
    pub fn on(&self, canary: Canary) -> bool {
        cfg!(feature = "canaries") && self.chosen == Some(canary)
    }

    /// This server refused a record as too far ahead of its clock.
    pub fn refused_ahead(&self) {
        if self.on(Canary::EdgeAheadAfterSkew) {
            self.refused_ahead.store(true, Ordering::Relaxed);
        }
    }

    /// A client connection sent an `AUTH` line, which only a link's handshake sends (inside
    /// TLS).
    pub fn replayed_auth(&self) {
        if self.on(Canary::ReplayOpensNonNeighbour) {
            self.replayed_auth.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the running canary takes a record sent in an `AT` line on a plain connection:
    /// `herd_server` if its origin is a server of the herd, `neighbour` if that server is a
    /// neighbour, and `held()` whether this server already holds a record of its client (asked
    /// last, and only by this canary, as it locks the table).
    pub fn takes_forged_at(
        &self,
        herd_server: bool,
        neighbour: bool,
        held: impl FnOnce() -> bool,
    ) -> bool {
        self.on(Canary::ReplayOpensNonNeighbour)
            && self.replayed_auth.load(Ordering::Relaxed)
            && herd_server
            && !neighbour
            && held()
    }

    /// Whether the running canary drops `record`, offered from `source` to `store` when the
    /// server's clock reads `now_nanos()` (read only by the canary that needs it).
    pub fn drops(
        &self,
        record: &Record,
        source: &Source,
        store: &Store,
        limits: &Limits,
        now_nanos: impl FnOnce() -> i128,
    ) -> bool {
        let Some(canary) = self.chosen.filter(|c| self.on(*c)) else {
            return false;
        };
        let from_peer = matches!(source, Source::Peer(_));
        let zero_diff = record.time_diff.to_string() == "+0.000000000";
        match canary {
            Canary::ZeroDiffTie => {
                *source == Source::Client
                    && zero_diff
                    && store.get(&record.client).is_some_and(|held| {
                        held.timestamp.nanos() == record.timestamp.nanos()
                            && held.origin != record.origin
                    })
            }
            Canary::EdgeIdOverfull => {
                from_peer
                    && record.client.len() == limits.client_id_bytes_max
                    && store.bytes() > limits.table_bytes_max
            }
            Canary::EdgeAheadAfterSkew => {
                let bound = now_nanos() + limits.timestamp_ahead_max.as_nanos() as i128;
                from_peer
                    && self.refused_ahead.load(Ordering::Relaxed)
                    && store.bytes() * 4 > limits.table_bytes_max * 3
                    && record.timestamp.nanos() > bound - AHEAD_EDGE_NANOS
            }
            Canary::ReplayOpensNonNeighbour => false,
            Canary::ZeroDiffPole => from_peer && zero_diff && on_a_pole(record),
        }
    }
}

/// Latitude exactly ±90 or longitude exactly ±180.
fn on_a_pole(record: &Record) -> bool {
    record.location.latitude().abs() == 90.0 || record.location.longitude().abs() == 180.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_or_say_why_not() {
        for canary in Canary::ALL {
            let parsed = Canary::parse(canary.name());
            if cfg!(feature = "canaries") {
                assert_eq!(parsed, Ok(canary));
            } else {
                let error = parsed.expect_err("no canary runs without the feature");
                assert!(error.contains("`canaries` feature is off"), "{error}");
            }
        }
        if cfg!(feature = "canaries") {
            let error = Canary::parse("lost_update").expect_err("no such canary");
            assert!(error.contains("expected one of zero_diff_tie"), "{error}");
        }
    }

    #[test]
    fn a_chosen_canary_is_on_only_with_the_feature() {
        let canaries = Canaries::new(Some(Canary::ZeroDiffPole));
        assert_eq!(
            canaries.on(Canary::ZeroDiffPole),
            cfg!(feature = "canaries")
        );
        assert!(!canaries.on(Canary::ZeroDiffTie));
        assert!(!Canaries::new(None).on(Canary::ZeroDiffPole));
    }

    #[test]
    fn a_forged_record_is_taken_only_after_a_replay_and_only_for_a_held_client() {
        let canaries = Canaries::new(Some(Canary::ReplayOpensNonNeighbour));
        assert!(
            !canaries.takes_forged_at(true, false, || true),
            "no replay yet"
        );
        canaries.replayed_auth();
        let on = cfg!(feature = "canaries");
        assert_eq!(canaries.takes_forged_at(true, false, || true), on);
        assert!(
            !canaries.takes_forged_at(true, false, || false),
            "a new client"
        );
        assert!(
            !canaries.takes_forged_at(true, true, || true),
            "a neighbour"
        );
        assert!(
            !canaries.takes_forged_at(false, false, || true),
            "no server of the herd"
        );
        let other = Canaries::new(Some(Canary::ZeroDiffPole));
        other.replayed_auth();
        assert!(
            !other.takes_forged_at(true, false, || true),
            "another canary"
        );
    }
}
