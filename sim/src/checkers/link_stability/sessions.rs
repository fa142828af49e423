//! Each end's link sessions as `link_stability` replays them from its own events.

use std::collections::{BTreeMap, BTreeSet};

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
}

impl Sessions {
    /// `server` lost its memory: its own sessions are gone, and no link of its new life has
    /// come up yet (its neighbours' sessions to it end by their own events).
    pub(super) fn forget(&mut self, server: &str) {
        self.outbound_up.retain(|(host, _)| host != server);
        self.inbound_up.retain(|(host, _), _| host != server);
        self.linked_in_life
            .retain(|(host, peer)| host != server && peer != server);
    }

    pub(super) fn up_both_ways(&self, a: &str, b: &str) -> Vec<String> {
        let mut missing = Vec::new();
        for (dialler, accepter) in [(a, b), (b, a)] {
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
