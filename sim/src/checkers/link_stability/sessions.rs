//! Each end's link sessions as `link_stability` replays them from its own events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Each end's sessions, as its own events tell them.
#[derive(Default)]
pub(super) struct Sessions {
    /// `(host, peer)`: the host's dialled session to the peer is up.
    pub(super) outbound_up: BTreeSet<(String, String)>,
    /// `(host, peer)`: how many accepted sessions from the peer are up (a new one may come up
    /// before a half-dead old one times out).
    pub(super) inbound_up: BTreeMap<(String, String), usize>,
    /// `(host, peer)`: the host's link to the peer came up in the current lives of both.
    pub(super) linked_in_life: BTreeSet<(String, String)>,
    /// `(dialler, accepter)`: when a cut or hold came while the dialler had not taken its
    /// link up (a dial may be in its handshake), or the accepter took it up in a cut or hold
    /// (its `LINKED` may be lost). Kept until the dialler loses its memory: it excuses only
    /// for a bounded time after.
    pub(super) linked_maybe_lost: BTreeMap<(String, String), Duration>,
}

impl Sessions {
    /// `server` lost its memory: its own sessions are gone, and no link of its new life has
    /// come up yet (its neighbours' sessions to it end by their own events).
    pub(super) fn forget(&mut self, server: &str) {
        self.outbound_up.retain(|(host, _)| host != server);
        self.inbound_up.retain(|(host, _), _| host != server);
        self.linked_maybe_lost
            .retain(|(dialler, _), _| dialler != server);
        self.linked_in_life
            .retain(|(host, peer)| host != server && peer != server);
    }

    /// A cut or hold touched the link `a`-`b` at `at` (or a `LINKED` went into one): a dial
    /// whose dialler has not taken the link up may be in its handshake, and lose a line of it
    /// while its connection stays open.
    pub(super) fn cut_during_handshake(&mut self, a: &str, b: &str, at: Duration) {
        for (dialler, accepter) in [(a, b), (b, a)] {
            let dialled = (dialler.to_string(), accepter.to_string());
            if !self.outbound_up.contains(&dialled) {
                self.linked_maybe_lost.insert(dialled, at);
            }
        }
    }

    /// The links of `a`-`b` not up both ways, leaving out a direction `excused` lets off.
    pub(super) fn up_both_ways(
        &self,
        a: &str,
        b: &str,
        excused: impl Fn(&str, &str) -> bool,
    ) -> Vec<String> {
        let mut missing = Vec::new();
        for (dialler, accepter) in [(a, b), (b, a)] {
            if excused(dialler, accepter) {
                continue;
            }
            let key = (dialler.to_string(), accepter.to_string());
            if !self.outbound_up.contains(&key) {
                missing.push(format!("{dialler}'s link to {accepter} is not up"));
            }
            let key = (accepter.to_string(), dialler.to_string());
            if self.inbound_up.get(&key).copied().unwrap_or(0) == 0 {
                missing.push(format!("{accepter} holds no link from {dialler}"));
            }
        }
        missing
    }
}
