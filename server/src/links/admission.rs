//! Admission of incoming links, so that no stranger can fill it: a connection holds a link
//! slot only once its handshake proved who it is. Until then it is a pending handshake, with a
//! deadline (`peer_handshake_timeout`) and a bound of its own (`peer_handshakes_max`); when the
//! bound is full, a new handshake evicts the oldest pending one rather than being refused.
//!
//! Why evicting the oldest keeps real neighbours in: a real neighbour finishes its handshake in
//! one round trip, so stallers evict it only by beginning `peer_handshakes_max` handshakes
//! within that round trip; a staller gains nothing by holding on, because age is what evicts.
//! A refused newcomer instead would let any staller that got in first keep everyone out.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// The link slots and the pending handshakes of one server's accept loop.
pub struct Admission {
    link_slots: Arc<Semaphore>,
    handshakes_max: usize,
    /// Pending handshakes by connection number (numbers only grow: the first is the oldest),
    /// each with the signal that evicts it.
    pending: Mutex<BTreeMap<u64, Arc<Notify>>>,
}

impl Admission {
    pub fn new(links_max: usize, handshakes_max: usize) -> Admission {
        Admission {
            link_slots: Arc::new(Semaphore::new(links_max)),
            handshakes_max,
            pending: Mutex::new(BTreeMap::new()),
        }
    }

    /// Connection `conn` begins a handshake; when `peer_handshakes_max` are pending, the
    /// oldest is told to end. The handshake stays pending until the [`Pending`] is dropped.
    pub fn begin(self: &Arc<Self>, conn: u64) -> Pending {
        let evict = Arc::new(Notify::new());
        if let Ok(mut pending) = self.pending.lock() {
            while pending.len() >= self.handshakes_max.max(1) {
                match pending.pop_first() {
                    // `notify_one` keeps the signal for a waiter that has not started waiting.
                    Some((_, oldest)) => oldest.notify_one(),
                    None => break,
                }
            }
            pending.insert(conn, evict.clone());
            debug_assert!(
                pending.len() <= self.handshakes_max.max(1),
                "pending handshakes past peer_handshakes_max"
            );
        }
        Pending {
            admission: self.clone(),
            conn,
            evict,
        }
    }

    /// A link slot for a connection whose handshake is proven, if one is free.
    pub fn link_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.link_slots.clone().try_acquire_owned().ok()
    }

    /// Handshakes pending now.
    pub fn pending(&self) -> usize {
        self.pending.lock().map_or(0, |p| p.len())
    }
}

/// A pending handshake; dropping it (the handshake ended, either way) frees its place.
pub struct Pending {
    admission: Arc<Admission>,
    conn: u64,
    evict: Arc<Notify>,
}

impl Pending {
    /// Completes when a newer handshake evicted this one.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.admission.pending.lock() {
            pending.remove(&self.conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_bound_evicts_the_oldest_pending_handshake() {
        let admission = Arc::new(Admission::new(4, 2));
        let first = admission.begin(1);
        let second = admission.begin(2);
        assert_eq!(admission.pending(), 2);
        let third = admission.begin(3);
        assert_eq!(admission.pending(), 2);
        // The first was told to end, at once; the second was not.
        tokio::time::timeout(std::time::Duration::from_millis(10), first.evicted())
            .await
            .expect("the oldest is evicted");
        let second_evicted =
            tokio::time::timeout(std::time::Duration::from_millis(10), second.evicted()).await;
        assert!(second_evicted.is_err(), "only the oldest is evicted");
        drop(first);
        assert_eq!(
            admission.pending(),
            2,
            "an evicted one's place is already taken"
        );
        drop((second, third));
        assert_eq!(admission.pending(), 0);
    }

    #[test]
    fn link_slots_are_bounded() {
        let admission = Admission::new(1, 1);
        let slot = admission.link_slot();
        assert!(slot.is_some());
        assert!(admission.link_slot().is_none());
        drop(slot);
        assert!(admission.link_slot().is_some());
    }
}
