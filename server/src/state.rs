//! The state one running server shares between its tasks: the table, the one path by which
//! any record (from a client, a neighbour or a classic peer) enters it, and where each
//! neighbour's link resumes.
//!
//! Flooding is not a push from here: a stored record advances the table's change sequence
//! and wakes the links, and each link streams from its own cursor (see `links`). So a slow
//! neighbour makes only its own link lag, and nothing is ever dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, watch};

use crate::config::{Herd, Limits, Neighbour};
use crate::durable::recover::Recovered;
use crate::durable::{Durable, Room};
use crate::events::{self, Event};
use crate::net::Clock;
use crate::places::PlacesClient;
use crate::protocol::Record;
pub use crate::store::ResumePoint;
use crate::store::{Outcome, Store};

/// Which way a record came in (a client, a neighbour in one of its lives, a classic
/// connection); decides which neighbour the flood skips. The trace tells it as
/// [`events::Source`], without the life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An IAMAT from a client of this server.
    Client,
    /// A neighbour on a persistent link: the flood skips it. `link` names the neighbour in
    /// its current life ([`link_key`]), which is what the table remembers.
    Peer { name: String, link: Arc<str> },
    /// An AT line on a plain connection from a classic neighbour: the sender is unknown.
    Classic,
}

impl Via {
    /// The source as the trace tells it: who sent the record, not which life of it.
    pub fn traced(&self) -> events::Source {
        match self {
            Via::Client => events::Source::Client,
            Via::Peer { name, .. } => events::Source::Peer(name.clone()),
            Via::Classic => events::Source::Classic,
        }
    }
}

/// How the table names a neighbour in one life: records it sent then are skipped by our link
/// to it while it keeps that life, and sent again once it restarts (it lost them).
pub fn link_key(neighbour: &str, epoch: u64) -> Arc<str> {
    Arc::from(format!("{neighbour} {epoch}"))
}

/// A catch-up comparing our whole table, coming in while this lives ([`Shared::fill_started`]).
pub struct FillGuard<'a> {
    fills: &'a watch::Sender<usize>,
}

impl Drop for FillGuard<'_> {
    fn drop(&mut self) {
        self.fills.send_modify(|fills| {
            debug_assert!(*fills > 0, "a fill guard outlived the count of fills");
            *fills = fills.saturating_sub(1);
        });
    }
}

pub struct Shared {
    pub name: String,
    pub limits: Limits,
    pub clock: Arc<dyn Clock>,
    pub places: PlacesClient,
    /// How this server spends its Places calls (cache, merging, rate bound).
    pub places_budget: crate::places::budget::Budget,
    /// What an operator scrapes.
    pub metrics: crate::metrics::Metrics,
    /// TLS for persistent links: certificates and provider; `None` runs them in plain text,
    /// unauthenticated (said at start).
    pub tls: Option<crate::links::tls::LinkTls>,
    /// This server's life: a fresh value every start, so neighbours never resume into an
    /// earlier life's change sequence.
    pub epoch: u64,
    /// Seeds challenges (with the connection count) so each handshake gets a fresh one.
    pub seed: u64,
    /// Every neighbour, in herd order.
    pub neighbours: Vec<Neighbour>,
    /// Names of every server of the herd: the only origins a classic peer's record may have.
    servers: BTreeSet<String>,
    /// The addresses of the classic neighbours' hosts, resolved as the server starts: the
    /// only sources a classic line is taken from.
    pub classic_addresses: BTreeSet<std::net::IpAddr>,
    store: Mutex<Store>,
    /// Woken whenever a record is stored, for WHATSATs waiting on an unknown client.
    stored: Notify,
    /// The table's change sequence head; links wait on it.
    changed: watch::Sender<u64>,
    resume: Mutex<BTreeMap<String, ResumePoint>>,
    /// Catch-ups coming in now that compare our whole table (we knew no resume point for the
    /// dialler): while one runs, a second such link waits for it, so it compares against what
    /// the first brought and sends only what differs.
    fills: watch::Sender<usize>,
    /// Per neighbour, woken when it links in: our dial to it, if it is waiting out a backoff
    /// delay, goes at once (it is reachable, and if it restarted it needs our table).
    linked_in: BTreeMap<String, Notify>,
    /// Whether a record from a neighbour or a classic peer was refused in this life (it broke
    /// our bounds: too far ahead of our clock, too long): what it brought cannot fill us.
    refused_any: watch::Sender<bool>,
    /// Per classic neighbour, the origins it refuses on a classic line: itself and its own
    /// neighbours that authenticate. Its link never sends them (they would only be refused).
    classic_refused_origins: BTreeMap<String, BTreeSet<String>>,
    /// Per classic neighbour, clients whose newer record it should be sent again: a classic
    /// peer sent us a stale one, so it holds an old record, and only we can tell it.
    classic_resend: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// The durable store, when the server has a data directory: every change is queued to it,
    /// and links stream only what it has synced.
    durable: Option<Durable>,
    /// The planted bug this server runs, if the run chose one (`canaries` feature only).
    pub canaries: crate::canary::Canaries,
    /// The fault points the caller handed in ([`crate::net::Env::buggify`]).
    pub buggify: crate::buggify::Buggify,
}

impl Shared {
    pub fn new(
        herd: &Herd,
        name: &str,
        clock: Arc<dyn Clock>,
        places: PlacesClient,
        seed: u64,
    ) -> Self {
        let limits = herd.limits.clone();
        let neighbours = herd.neighbours(name);
        let epoch =
            crate::backoff::stable_hash(&[name, &seed.to_string(), &clock.now_nanos().to_string()]);
        Shared {
            name: name.to_string(),
            store: Mutex::new(Store::with_bounds(
                limits.clients_max,
                limits.table_bytes_max,
            )),
            places_budget: crate::places::budget::Budget::new(&limits),
            metrics: crate::metrics::Metrics::new(
                name,
                neighbours.iter().map(|n| n.name.as_str()),
                !herd.metrics_off,
            ),
            limits,
            clock,
            places,
            tls: None,
            epoch,
            seed,
            servers: herd.servers.iter().map(|s| s.name.clone()).collect(),
            classic_addresses: BTreeSet::new(),
            neighbours,
            stored: Notify::new(),
            changed: watch::channel(0).0,
            resume: Mutex::new(BTreeMap::new()),
            fills: watch::channel(0).0,
            refused_any: watch::channel(false).0,
            linked_in: herd
                .neighbours(name)
                .into_iter()
                .map(|n| (n.name, Notify::new()))
                .collect(),
            classic_refused_origins: herd
                .neighbours(name)
                .into_iter()
                .filter(|n| n.classic)
                .map(|n| {
                    let mut refused: BTreeSet<String> = herd
                        .neighbours(&n.name)
                        .into_iter()
                        .filter(|m| !m.classic)
                        .map(|m| m.name)
                        .collect();
                    refused.insert(n.name.clone());
                    (n.name, refused)
                })
                .collect(),
            classic_resend: Mutex::new(
                herd.neighbours(name)
                    .into_iter()
                    .filter(|n| n.classic)
                    .map(|n| (n.name, BTreeSet::new()))
                    .collect(),
            ),
            durable: None,
            canaries: crate::canary::Canaries::new(None),
            buggify: crate::buggify::Buggify::off(),
        }
    }

    /// This server with the durable store `durable` and what it recovered: the table, its
    /// change sequence and resume points, and the life they belong to if they were whole.
    pub fn with_durable(mut self, durable: Durable, recovered: Recovered) -> Self {
        if let Some(epoch) = recovered.epoch {
            self.epoch = epoch;
        }
        let head = recovered.store.head();
        self.store = Mutex::new(recovered.store);
        self.resume = Mutex::new(recovered.resume);
        self.changed.send_replace(head);
        self.durable = Some(durable);
        self
    }

    /// The durable store, if the server has one.
    pub fn durable(&self) -> Option<&Durable> {
        self.durable.as_ref()
    }

    /// The last change links may send: all of them, or with a durable store the last synced.
    pub fn stream_head(&self, store: &Store) -> u64 {
        match &self.durable {
            Some(durable) => durable.synced().seq.min(store.head()),
            None => store.head(),
        }
    }

    /// Waits until change `seq` is durable: `true` at once without a durable store; `false`
    /// if the disk failed first (nothing may be acknowledged then).
    pub async fn durable_past(&self, seq: u64) -> bool {
        match &self.durable {
            Some(durable) => durable.synced_past(seq).await,
            None => true,
        }
    }

    /// Whether change `seq` is durable now: `Some(true)` when it is (always, without a durable
    /// store), `Some(false)` when the disk failed first, `None` while it may still be synced.
    pub fn durable_status(&self, seq: u64) -> Option<bool> {
        let Some(durable) = &self.durable else {
            return Some(true);
        };
        let synced = durable.synced();
        if synced.seq >= seq {
            Some(true)
        } else if synced.failed {
            Some(false)
        } else {
            None
        }
    }

    /// The table. The lock is never held across an await.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A poisoned lock means a panic elsewhere already; the table itself is still valid.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Is `name` a neighbour on a persistent (non-classic) link?
    pub fn is_persistent_neighbour(&self, name: &str) -> bool {
        self.neighbours.iter().any(|n| n.name == name && !n.classic)
    }

    /// Does any classic neighbour send us plain AT lines?
    pub fn has_classic_neighbour(&self) -> bool {
        self.neighbours.iter().any(|n| n.classic)
    }

    /// Is `name` a server of this herd (a legitimate origin)?
    pub fn is_herd_server(&self, name: &str) -> bool {
        self.servers.contains(name)
    }

    /// Why a classic line from `remote` carrying `record` may not enter the table, if it may
    /// not. A classic neighbour cannot prove who it is, so its trust rests on the network: the
    /// line must come from a classic neighbour's address, and its origin must be a server of
    /// the herd that is neither this server nor a neighbour that authenticates (their records
    /// reach us over their own links). Then the bounds every record is held to.
    pub fn classic_refusal(
        &self,
        remote: &str,
        record: &Record,
    ) -> Option<crate::events::LineRefusal> {
        use crate::events::LineRefusal;
        let from = remote
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().to_canonical());
        if !self.is_herd_server(&record.origin) {
            Some(LineRefusal::UnknownOrigin)
        } else if record.origin == self.name {
            Some(LineRefusal::OwnOrigin(remote.to_string()))
        } else if self.is_persistent_neighbour(&record.origin) {
            Some(LineRefusal::AuthenticatedOrigin(remote.to_string()))
        } else if !from.is_ok_and(|ip| self.classic_addresses.contains(&ip)) {
            Some(LineRefusal::NotClassicAddress(remote.to_string()))
        } else {
            self.refusal(record)
        }
    }

    /// Would classic neighbour `neighbour` refuse a record of `origin` (see
    /// [`Shared::classic_refusal`])?
    pub fn classic_neighbour_refuses(&self, neighbour: &str, origin: &str) -> bool {
        self.classic_refused_origins
            .get(neighbour)
            .is_some_and(|refused| refused.contains(origin))
    }

    /// Is a location or timestamp text longer than its bound (padding, such as leading
    /// zeros, that would grow a record, its floods and its log lines)?
    pub fn text_too_long(
        &self,
        location: &crate::protocol::Location,
        timestamp: &crate::protocol::Timestamp,
    ) -> bool {
        location.as_str().len() > self.limits.location_bytes_max
            || timestamp.as_str().len() > self.limits.timestamp_bytes_max
    }

    /// Is this record's timestamp further ahead of our clock than `timestamp_ahead_max`?
    pub fn too_far_ahead(&self, timestamp_nanos: i128) -> bool {
        let ahead = self.limits.timestamp_ahead_max.as_nanos() as i128;
        timestamp_nanos > self.clock.now_nanos().saturating_add(ahead)
    }

    /// Why a record from a neighbour or a classic peer may not enter the table, if it may not:
    /// the bounds a client's IAMAT is held to hold for every record, wherever it comes from.
    pub fn refusal(&self, record: &Record) -> Option<crate::events::LineRefusal> {
        let refusal = self.bounds_broken(record);
        if refusal.is_some() {
            // Woken once: a neighbour's flood of refused records must not wake the wait each time.
            self.refused_any
                .send_if_modified(|refused| !std::mem::replace(refused, true));
        }
        refusal
    }

    /// The bound of [`Shared::refusal`] that `record` breaks, if any.
    fn bounds_broken(&self, record: &Record) -> Option<crate::events::LineRefusal> {
        use crate::events::LineRefusal;
        if record.client.len() > self.limits.client_id_bytes_max {
            Some(LineRefusal::IdTooLong)
        } else if self.text_too_long(&record.location, &record.timestamp)
            || record.time_diff.as_str().len() > crate::config::TIME_DIFF_BYTES_MAX
        {
            Some(LineRefusal::TextTooLong)
        } else if self.too_far_ahead(record.timestamp.nanos()) {
            self.canaries.refused_ahead();
            Some(LineRefusal::TooFarAhead)
        } else {
            None
        }
    }

    /// Offers a record to the table; if it is new, wakes waiters and the links.
    pub fn ingest(&self, record: Record, source: Via) -> Outcome {
        self.ingest_held(record, source).0
    }

    /// [`Shared::ingest`], and the number in the change sequence of the record the table
    /// holds for that client afterwards (this one, or the newer or same one it already held):
    /// what an acknowledgment of this record must wait to be durable. `None` when the table
    /// holds nothing for the client (it was full).
    pub fn ingest_held(&self, record: Record, source: Via) -> (Outcome, Option<u64>) {
        self.ingest_in(record, source, None)
    }

    /// Waits for room in the durable store's write queue for `record`
    /// (`durable_queue_bytes_max`): `None` at once without a durable store.
    pub async fn room_for(&self, record: &Record) -> Option<Room> {
        match &self.durable {
            Some(durable) => Some(durable.room_for(crate::store::record_bytes(record)).await),
            None => None,
        }
    }

    /// [`Shared::ingest_held`] with the room `room` took in the write queue (given back at
    /// once when the record is not stored).
    pub fn ingest_in(
        &self,
        record: Record,
        source: Via,
        room: Option<Room>,
    ) -> (Outcome, Option<u64>) {
        let from = match &source {
            Via::Peer { link, .. } => Some(link),
            _ => None,
        };
        // The event is emitted while the table is locked, so two tasks storing at once log
        // their decisions in the order the table made them (the trace is judged in log order).
        let (outcome, head, held) = {
            let mut store = self.store();
            let traced = source.traced();
            let planted = (self.canaries)
                .drops(&record, &traced, &store, &self.limits, || {
                    self.clock.now_nanos()
                })
                .then_some(Outcome::Stale);
            let outcome = planted.unwrap_or_else(|| store.insert_from(&record, from));
            let held = match outcome {
                Outcome::New => Some(store.head()),
                Outcome::TableFull => {
                    // A neighbour's record with no room is refused too: an empty table that
                    // has room for none of the herd's records stays empty, and its dials must
                    // not wait out `fill_wait` for a refill that came.
                    if from.is_some() {
                        self.refused_any
                            .send_if_modified(|refused| !std::mem::replace(refused, true));
                    }
                    None
                }
                Outcome::Stale | Outcome::Duplicate => store.seq_of(&record.client),
            };
            if let (Some(durable), Outcome::New) = (&self.durable, outcome) {
                let text = record.fields().join(" ");
                durable.queue_record(store.head(), from.map(|f| &**f), &text, room);
            }
            if let Via::Peer { name, .. } = &source {
                self.metrics.record_received(name);
            }
            Event::RecordStored {
                record,
                outcome,
                source: traced,
            }
            .emit();
            (outcome, store.head(), held)
        };
        if outcome == Outcome::New {
            self.stored.notify_waiters();
            // With a durable store, the writer moves the head links see once this is synced.
            if self.durable.is_none() {
                self.advance_head(head);
            }
        }
        (outcome, held)
    }

    /// The Prometheus text of a scrape of this server now.
    pub fn scrape(&self) -> String {
        let (records, bytes, head) = {
            let store = self.store();
            (store.len(), store.bytes(), store.head())
        };
        let (cached_answers, cached_bytes) = self.places_budget.cached();
        self.metrics.render(crate::metrics::Table {
            records,
            bytes,
            head,
            cached_answers,
            cached_bytes,
        })
    }

    /// A classic peer sent a stale record for `client`: every classic neighbour gets our
    /// newer one again (each set is bounded by `clients_max`, one entry per client).
    pub fn resend_to_classic(&self, client: &str) {
        let mut resend = self
            .classic_resend
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for clients in resend.values_mut() {
            if clients.len() < self.limits.clients_max {
                clients.insert(client.to_string());
            }
        }
        drop(resend);
        let head = self.stream_head(&self.store());
        // Wakes the links even if the head did not move: the resend is the news.
        self.changed
            .send_modify(|watched| *watched = (*watched).max(head));
    }

    /// Moves the head that links watch forward to `seq`, never back. Tasks on other threads
    /// publish heads in whatever order they get here, after the table's lock is released: a
    /// head that moved back would leave a link caught up on paper with a change unsent.
    fn advance_head(&self, seq: u64) {
        self.changed.send_if_modified(|head| {
            let moved = seq > *head;
            *head = (*head).max(seq);
            moved
        });
    }

    /// The next record to send classic neighbour `neighbour` again, if any.
    pub fn take_classic_resend(&self, neighbour: &str) -> Option<Record> {
        let mut resend = self
            .classic_resend
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let clients = resend.get_mut(neighbour)?;
        while let Some(client) = clients.pop_first() {
            if let Some(record) = self.store().get(&client) {
                return Some(record);
            }
        }
        None
    }

    /// A receiver that sees the table's change head move.
    pub fn watch_changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// What we hold of `neighbour`'s life `epoch`: the change it last marked (0: nothing).
    pub fn resume_seq(&self, neighbour: &str, epoch: u64) -> u64 {
        let resume = self.resume.lock().unwrap_or_else(|e| e.into_inner());
        resume
            .get(neighbour)
            .filter(|point| point.epoch == epoch)
            .map_or(0, |point| point.seq)
    }

    /// Remembers that everything of `neighbour`'s up to `point` is in our table.
    pub fn mark_resume(&self, neighbour: &str, point: ResumePoint) {
        let mut resume = self.resume.lock().unwrap_or_else(|e| e.into_inner());
        if resume.get(neighbour) == Some(&point) {
            return;
        }
        if let Some(durable) = &self.durable {
            durable.queue_resume(neighbour, point);
        }
        resume.insert(neighbour.to_string(), point);
    }

    /// Says that a catch-up comparing our whole table is coming in, until the guard is dropped.
    pub fn fill_started(&self) -> FillGuard<'_> {
        self.fills.send_modify(|fills| *fills += 1);
        FillGuard { fills: &self.fills }
    }

    /// Waits until a refill of our (empty) table is in: until something is stored, or a
    /// record it brought was refused (our table may stay empty: every record the neighbours
    /// hold is too far ahead of our clock, or too big for the room the table has), then until no catch-up comparing our whole table is
    /// coming in. Without the second, a server whose clock runs behind its neighbours' would
    /// wait out `fill_wait` on every dial.
    pub async fn refill_settled(&self) {
        let mut changes = self.changed.subscribe();
        let mut refused = self.refused_any.subscribe();
        // Both senders live as long as `self`: this ends when something is stored or refused.
        tokio::select! {
            _ = changes.wait_for(|head| *head > 0) => {}
            _ = refused.wait_for(|refused| *refused) => {}
        }
        self.fills_done().await;
    }

    /// Waits until no catch-up comparing our whole table is coming in.
    pub async fn fills_done(&self) {
        let mut fills = self.fills.subscribe();
        // The sender lives as long as `self`, so this only ends when the count is 0.
        let _ = fills.wait_for(|fills| *fills == 0).await;
    }

    /// `neighbour`'s link to us came up: our dial to it, if waiting out a delay, goes now.
    pub fn linked_in(&self, neighbour: &str) {
        if let Some(linked_in) = self.linked_in.get(neighbour) {
            linked_in.notify_waiters();
        }
    }

    /// Waits until `neighbour` links in (see [`Shared::linked_in`]); never, for a name that
    /// is not a neighbour. A link-in counts from this call on, before the wait is first polled.
    pub fn until_linked_in(&self, neighbour: &str) -> impl Future<Output = ()> + use<'_> {
        let linked_in = self.linked_in.get(neighbour).map(Notify::notified);
        // Every caller waits on a neighbour; a wait on any other name would never end.
        debug_assert!(linked_in.is_some(), "{neighbour} is not a neighbour");
        async move {
            match linked_in {
                Some(linked_in) => linked_in.await,
                None => std::future::pending().await,
            }
        }
    }

    /// The record for `client`, waiting up to `whatsat_wait` for one to arrive by flooding.
    pub async fn record_for(&self, client: &str) -> Option<Record> {
        if let Some(record) = self.store().get(client) {
            return Some(record);
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
                return Some(record);
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

impl crate::durable::Source for Shared {
    fn with_state(&self, f: &mut dyn FnMut(&Store, &BTreeMap<String, ResumePoint>)) {
        let store = self.store();
        let resume = self.resume.lock().unwrap_or_else(|e| e.into_inner());
        f(&store, &resume);
    }

    fn epoch(&self) -> u64 {
        self.epoch
    }

    fn synced_to(&self, seq: u64) {
        self.advance_head(seq);
    }

    fn durable(&self) -> &Durable {
        self.durable
            .as_ref()
            .expect("the writer runs only with a durable store")
    }

    fn log_bytes_min(&self) -> usize {
        self.limits.durable_log_bytes_min
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::Herd;
    use crate::net::FixedClock;
    use crate::places::PlacesClient;
    use crate::protocol::Command;

    /// An empty table with no room for a neighbour's record settles its refill: the record
    /// came and was refused, so a dial must not wait out `fill_wait` for it.
    #[tokio::test(start_paused = true)]
    async fn a_refill_refused_for_room_settles_the_wait() {
        let mut herd = Herd::default_herd();
        herd.limits.table_bytes_max = 150;
        herd.validate().expect("valid limits");
        let shared = Shared::new(
            &herd,
            "Bailey",
            Arc::new(FixedClock),
            PlacesClient::offline(),
            1,
        );
        let line = "AT Bona +0.5 kiwi +34.068930-118.445127 1700000000.25";
        let Ok(Command::At(record)) = Command::parse_line(line.as_bytes()) else {
            panic!("an AT line parses");
        };
        let source = Via::Peer {
            name: "Bona".into(),
            link: link_key("Bona", 7),
        };
        assert_eq!(shared.ingest(record, source), Outcome::TableFull);
        let settled = tokio::time::timeout(Duration::from_secs(1), shared.refill_settled());
        assert!(
            settled.await.is_ok(),
            "the refill wait outlived a refused refill"
        );
    }
}
