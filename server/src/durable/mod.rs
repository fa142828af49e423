//! The durable store: an append-only, checksummed log of the table's changes with group
//! commit, compacted into snapshots, and recovered on start.
//!
//! Every change the table makes (a record stored, a neighbour's resume point) is queued here
//! while the table is locked, so the queue is in change order. One writer task appends the
//! queue to the log and syncs it; everything queued meanwhile goes in the next append, so many
//! records share one sync (group commit). A client's `AT` reply waits until its record is
//! synced ([`Durable::synced_past`]), and links stream only synced changes, so a neighbour
//! never holds a change this server could lose: after power loss the server comes back in the
//! same life (epoch) with its change sequence, and links resume by cursor.
//!
//! Files, in the server's own directory (the [`crate::net::Disk`] seam):
//! `snapshot-<gen>` (the epoch, every held record and every resume point when it was taken)
//! and `log-<gen>` (the changes since). When the log outgrows the table (and
//! `durable_log_bytes_min`), the writer takes a new snapshot and starts a new log, so the
//! disk stays bounded by the table's size, not by its history.
//!
//! - [`entry`]: frames, checksums and where a file stops being trustworthy.
//! - [`recover`]: reading the files back into a table on start.

pub mod entry;
pub mod recover;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};

use crate::events::Event;
use crate::net::Disk;
use crate::store::ResumePoint;
use crate::store::Store;

/// The snapshot file of generation `gen`.
pub fn snapshot_name(generation: u64) -> String {
    format!("snapshot-{generation}")
}

/// The log file of generation `gen`.
pub fn log_name(generation: u64) -> String {
    format!("log-{generation}")
}

/// How far the disk is: the last change synced, or that the disk failed (nothing more is
/// acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synced {
    pub seq: u64,
    pub failed: bool,
}

/// What is queued for the next append.
#[derive(Default)]
struct Queue {
    bytes: Vec<u8>,
    /// The last change queued.
    head: u64,
    /// Room taken by the records queued ([`Durable::room_for`]), given back once they are
    /// synced.
    taken: usize,
}

/// Room in the write queue for one record, taken before it is stored.
pub enum Room {
    /// Taken: given back once the record is synced (or at once if it is not stored).
    Taken(OwnedSemaphorePermit),
    /// The disk failed: nothing more is queued or acknowledged.
    Failed,
}

/// One server's durable store, shared by its tasks.
pub struct Durable {
    disk: Arc<dyn Disk>,
    queue: Mutex<Queue>,
    queued: Notify,
    synced: watch::Sender<Synced>,
    /// The generation the writer writes: its snapshot is on disk, its log is being appended.
    generation: Mutex<u64>,
    /// Bytes of room in the queue (`durable_queue_bytes_max`): a record takes its size before
    /// it is stored and gives it back once synced, so when the writer falls behind, writers
    /// wait instead of the queue growing.
    room: Arc<Semaphore>,
    queue_bytes_max: usize,
}

impl Durable {
    /// A store over `disk` whose files are at generation `generation`, synced up to `head`,
    /// queueing at most `queue_bytes_max` bytes of records for the writer.
    pub fn new(disk: Arc<dyn Disk>, generation: u64, head: u64, queue_bytes_max: usize) -> Durable {
        let queue_bytes_max = queue_bytes_max.clamp(1, u32::MAX as usize);
        Durable {
            disk,
            queue: Mutex::new(Queue {
                bytes: Vec::new(),
                head,
                taken: 0,
            }),
            queued: Notify::new(),
            synced: watch::channel(Synced {
                seq: head,
                failed: false,
            })
            .0,
            generation: Mutex::new(generation),
            room: Arc::new(Semaphore::new(queue_bytes_max)),
            queue_bytes_max,
        }
    }

    /// Waits for room in the queue for a record of `bytes` (as the table counts it, which
    /// errs high of its frame); a record larger than the whole queue waits for all of it.
    pub async fn room_for(&self, bytes: usize) -> Room {
        let wanted = bytes.clamp(1, self.queue_bytes_max) as u32;
        match self.room.clone().acquire_many_owned(wanted).await {
            Ok(permit) => Room::Taken(permit),
            Err(_) => Room::Failed,
        }
    }

    /// The room in the queue now, in bytes.
    pub fn room_now(&self) -> usize {
        self.room.available_permits()
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a stored record (called with the table locked, so in change order), with the
    /// room it took, if it took any.
    pub fn queue_record(&self, seq: u64, from: Option<&str>, text: &str, room: Option<Room>) {
        let mut queue = self.queue();
        entry::write_record(&mut queue.bytes, seq, from, text);
        queue.head = queue.head.max(seq);
        if let Some(Room::Taken(permit)) = room {
            queue.taken += permit.num_permits();
            permit.forget();
        }
        drop(queue);
        self.queued.notify_one();
    }

    /// Queues a neighbour's resume point (after the records it covers, which came first).
    pub fn queue_resume(&self, peer: &str, point: ResumePoint) {
        entry::write_resume(&mut self.queue().bytes, peer, point);
        self.queued.notify_one();
    }

    /// The last change synced.
    pub fn synced(&self) -> Synced {
        *self.synced.borrow()
    }

    /// Waits until change `seq` is synced: `true`, or `false` if the disk failed first.
    pub async fn synced_past(&self, seq: u64) -> bool {
        let mut synced = self.synced.subscribe();
        match synced.wait_for(|s| s.seq >= seq || s.failed).await {
            Ok(s) => s.seq >= seq,
            Err(_) => false,
        }
    }

    /// Appends and syncs what is queued; `Ok(None)` when nothing was. The room the records
    /// took is given back once they are synced.
    async fn commit(&self) -> std::io::Result<Option<(u64, usize)>> {
        let (bytes, head, taken) = {
            let mut queue = self.queue();
            if queue.bytes.is_empty() {
                return Ok(None);
            }
            let taken = std::mem::take(&mut queue.taken);
            (std::mem::take(&mut queue.bytes), queue.head, taken)
        };
        let log = log_name(*self.generation.lock().unwrap_or_else(|e| e.into_inner()));
        let len = bytes.len();
        self.disk.append(&log, bytes).await?;
        self.disk.sync(&log).await?;
        self.room.add_permits(taken);
        Ok(Some((head, len)))
    }

    async fn write_generation(&self, bytes: Vec<u8>, head: u64) -> std::io::Result<(u64, usize)> {
        let old = *self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let next = old + 1;
        let len = bytes.len();
        // The new log exists before the snapshot that names it, so a crash between the two
        // leaves the old generation whole.
        self.disk.replace(&log_name(next), Vec::new()).await?;
        self.disk.replace(&snapshot_name(next), bytes).await?;
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) = next;
        self.disk.remove(&snapshot_name(old)).await?;
        self.disk.remove(&log_name(old)).await?;
        self.mark_synced(head);
        Ok((next, len))
    }

    fn mark_synced(&self, seq: u64) {
        self.synced.send_modify(|s| s.seq = s.seq.max(seq));
    }

    /// The disk failed: nothing waiting is acknowledged, and nothing more will be.
    fn fail(&self, error: &std::io::Error) {
        Event::StoreFailed {
            error: error.to_string(),
        }
        .emit();
        self.synced.send_modify(|s| s.failed = true);
        // Whoever waits for room gets `Room::Failed`: nothing more is queued.
        self.room.close();
    }

    /// Resolves once the disk has failed.
    pub async fn until_failed(&self) {
        let mut synced = self.synced.subscribe();
        if synced.wait_for(|s| s.failed).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What the writer needs from the server it writes for, so that this module stays below
/// `state`: the table, the resume points and the epoch, read together for a snapshot, and a
/// way to tell links that more is synced.
pub trait Source: Send + Sync {
    /// Runs `f` with the table and the resume points locked together.
    fn with_state(&self, f: &mut dyn FnMut(&Store, &BTreeMap<String, ResumePoint>));
    fn epoch(&self) -> u64;
    /// Changes up to `seq` are synced: links may send them.
    fn synced_to(&self, seq: u64);
    fn durable(&self) -> &Durable;
    fn log_bytes_min(&self) -> usize;
}

/// The writer task: commits what is queued, compacts when the log outgrows the table, until
/// `stop` resolves and the queue is empty; stops for good when the disk fails.
pub async fn run_writer(source: Arc<dyn Source>, mut stop: crate::shutdown::Shutdown) {
    let durable = source.durable();
    let mut log_bytes = 0usize;
    loop {
        let stopping = stop.is_triggered();
        if !stopping {
            let notified = durable.queued.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if durable.queue().bytes.is_empty() {
                tokio::select! {
                    _ = notified => {}
                    _ = stop.wait() => {}
                }
            }
            // Let the tasks that are ready store what they have: one sync for all of them.
            tokio::task::yield_now().await;
        }
        match durable.commit().await {
            Ok(Some((head, len))) => {
                durable.mark_synced(head);
                source.synced_to(head);
                log_bytes += len;
            }
            Ok(None) if stopping => return,
            Ok(None) => {}
            Err(error) => return durable.fail(&error),
        }
        let mut table_bytes = 0;
        source.with_state(&mut |store, _| table_bytes = store.bytes());
        if log_bytes > table_bytes.max(source.log_bytes_min()) {
            match compact(&*source).await {
                Ok(()) => log_bytes = 0,
                Err(error) => return durable.fail(&error),
            }
        }
    }
}

/// Takes a snapshot of the table now and starts a new log.
pub async fn compact(source: &dyn Source) -> std::io::Result<()> {
    let mut taken = None;
    source.with_state(&mut |store, resume| {
        let mut bytes = Vec::with_capacity(store.bytes());
        entry::write_epoch(&mut bytes, source.epoch());
        for held in store.held_all() {
            entry::write_record(&mut bytes, held.seq, held.from, held.text);
        }
        for (peer, point) in resume {
            entry::write_resume(&mut bytes, peer, *point);
        }
        // Everything queued is in the snapshot.
        let mut queue = source.durable().queue();
        queue.bytes.clear();
        let room = std::mem::take(&mut queue.taken);
        drop(queue);
        taken = Some((bytes, store.head(), store.len(), room));
    });
    let Some((bytes, head, records, room)) = taken else {
        return Ok(());
    };
    let (generation, len) = source.durable().write_generation(bytes, head).await?;
    source.durable().room.add_permits(room);
    source.synced_to(head);
    Event::StoreSnapshot {
        generation,
        records: records as u64,
        bytes: len as u64,
    }
    .emit();
    Ok(())
}
