//! The floods rule: each update crosses each undirected link at most twice (one per
//! direction), counted from `flood_sent` per update (origin, client, timestamp, location,
//! time difference); a classic delivery that failed (`peer_connect_failed` naming the client)
//! never crossed. A restart resets the counts of the links touching that server. A flood never
//! goes back to the neighbour the record came from.

use std::collections::BTreeMap;

use server::events::Event;

use super::classic::ClassicResends;
use super::{Seen, Tables};
use crate::checkers::Violation;
use crate::trace::replay::{UpdateKey, update_key};

/// SPEC section 5: each update crosses each link at most twice.
pub const CROSSINGS_PER_LINK_MAX: usize = 2;

/// An undirected link, its two ends in name order.
type Link = (String, String);

/// What the floods rule counts.
#[derive(Default)]
pub(super) struct Floods {
    crossings: BTreeMap<(Link, UpdateKey), usize>,
    /// A classic link's last flood per (sender, peer, client): a failed delivery of it
    /// (`peer_connect_failed` naming the client) never crossed the link.
    last_classic_flood: BTreeMap<(String, String, String), (Link, UpdateKey)>,
    /// Flood messages seen, for the metric.
    pub(super) sent: usize,
}

impl Floods {
    pub(super) fn lose_memory(&mut self, server: &str) {
        self.crossings
            .retain(|((a, b), _), _| a != server && b != server);
    }

    pub(super) fn observe(
        &mut self,
        seen: &Seen,
        tables: &Tables,
        classic: &mut ClassicResends,
        violations: &mut Vec<Violation>,
    ) {
        let host = seen.host;
        match seen.event {
            Event::PeerConnectFailed {
                peer,
                client: Some(client),
                ..
            } => {
                let attempt = (host.to_string(), peer.clone(), client.clone());
                if let Some(crossing) = self.last_classic_flood.remove(&attempt)
                    && let Some(count) = self.crossings.get_mut(&crossing)
                {
                    *count = count.saturating_sub(1);
                }
            }
            Event::FloodSent { peer, record } => {
                self.sent += 1;
                let key = update_key(record);
                let came_from = tables
                    .held
                    .get(host)
                    .and_then(|h| h.records.get(&key.1))
                    .filter(|(held_key, _, _)| *held_key == key)
                    .and_then(|(_, source, _)| source.clone());
                if came_from.as_deref() == Some(peer.as_str()) {
                    violations.push(Violation::new(
                        seen.at,
                        format!(
                            "{host} flooded {} {} {} back to {peer}, the neighbour it came from",
                            key.0, key.1, key.2
                        ),
                    ));
                }
                self.cross(seen, peer, key, classic, violations);
            }
            _ => {}
        }
    }

    /// Counts `host`'s flood of `key` to `peer` as a crossing of their link, unless it is a
    /// classic resend that was owed.
    fn cross(
        &mut self,
        seen: &Seen,
        peer: &str,
        key: UpdateKey,
        classic: &mut ClassicResends,
        violations: &mut Vec<Violation>,
    ) {
        let host = seen.host;
        let link = if host <= peer {
            (host.to_string(), peer.to_string())
        } else {
            (peer.to_string(), host.to_string())
        };
        let attempt = (host.to_string(), peer.to_string(), key.1.clone());
        if classic.take(&attempt) {
            // The resend: not a crossing, so a failed delivery of it takes none back.
            self.last_classic_flood.remove(&attempt);
            return;
        }
        self.last_classic_flood
            .insert(attempt, (link.clone(), key.clone()));
        let count = self
            .crossings
            .entry((link.clone(), key.clone()))
            .or_default();
        *count += 1;
        if *count == CROSSINGS_PER_LINK_MAX + 1 {
            violations.push(Violation::new(
                seen.at,
                format!(
                    "update {} {} {} crossed link {}-{} {} times (bound {CROSSINGS_PER_LINK_MAX}), last {} -> {}",
                    key.0, key.1, key.2, link.0, link.1, *count, host, peer
                ),
            ));
        }
    }
}
