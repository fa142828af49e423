//! The state one running server shares between its tasks: the table, and the one path by
//! which any record (from a client, a neighbour or a classic peer) enters it.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::config::Limits;
use crate::events::Event;
use crate::net::Clock;
use crate::peers::Peers;
use crate::places::PlacesClient;
use crate::protocol::Record;
use crate::store::{Outcome, Store};

pub use crate::events::Source;

pub struct Shared {
    pub name: String,
    pub limits: Limits,
    pub clock: Arc<dyn Clock>,
    pub places: PlacesClient,
    pub peers: Peers,
    store: Mutex<Store>,
    /// Woken whenever a record is stored, for WHATSATs waiting on an unknown client.
    stored: Notify,
}

impl Shared {
    pub fn new(
        name: String,
        limits: Limits,
        clock: Arc<dyn Clock>,
        places: PlacesClient,
        peers: Peers,
    ) -> Self {
        let store = Mutex::new(Store::new(limits.clients_max));
        Shared {
            name,
            limits,
            clock,
            places,
            peers,
            store,
            stored: Notify::new(),
        }
    }

    /// The table. The lock is never held across an await.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A poisoned lock means a panic elsewhere already; the table itself is still valid.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Offers a record to the table; if it is new, wakes waiters and floods it.
    pub fn ingest(&self, record: Record, source: Source) -> Outcome {
        let outcome = self.store().insert(record.clone());
        Event::RecordStored {
            record: record.clone(),
            outcome,
            source: source.clone(),
        }
        .emit();
        if outcome == Outcome::New {
            self.stored.notify_waiters();
            let except = match &source {
                Source::Peer(name) => Some(name.as_str()),
                _ => None,
            };
            self.peers.flood(&record, except);
        }
        outcome
    }

    /// The record for `client`, waiting up to `whatsat_wait` for one to arrive by flooding.
    pub async fn record_for(&self, client: &str) -> Option<Record> {
        if let Some(record) = self.store().get(client) {
            return Some(record.clone());
        }
        if self.limits.whatsat_wait.is_zero() {
            return None;
        }
        let deadline = tokio::time::Instant::now() + self.limits.whatsat_wait;
        loop {
            let notified = self.stored.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(record) = self.store().get(client) {
                Event::WhatsatWait {
                    client: client.to_string(),
                    found: true,
                }
                .emit();
                return Some(record.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                Event::WhatsatWait {
                    client: client.to_string(),
                    found: false,
                }
                .emit();
                return None;
            }
        }
    }
}
