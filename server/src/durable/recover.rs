//! Reading a server's files back on start: the newest whole snapshot, then its log, into a
//! table, its change sequence, the neighbours' resume points and the epoch they belong to.
//!
//! A torn tail (the last frame cut short: power failed during a write that was never
//! acknowledged) is cut with a warning. A frame whose checksum fails is corruption: it is
//! named (file and offset) in an error, and neither it nor anything after it in that file is
//! used. The other file is read all the same: a bit flipped in the snapshot (even in its epoch
//! frame) leaves the log whole, and the log holds every change acknowledged since the
//! snapshot, each newer than what the snapshot held for its client. The server keeps what it
//! could read rather than refusing to start, because its neighbours hold every record it ever
//! acknowledged and synced (links stream only synced changes): it takes a new epoch, so every
//! neighbour compares whole tables with it and refills what the cut lost, as after any restart
//! without a disk. After any cut no resume point is used at all: a resume point says the server
//! holds everything of a neighbour's up to a change, and past a cut it may not. A snapshot cut
//! may have taken records the point covers; and a record the server refused for room (a full
//! table) is covered too, though never stored, so when a cut leaves the table with room again
//! only a whole-table comparison offers it again. Without resume points every neighbour sends
//! what the server lacks, as to a server that restarted without a disk.

use std::collections::BTreeMap;

use crate::events::{Event, StoreCutKind};
use crate::net::Disk;
use crate::store::{ResumePoint, Store};

use super::entry::{self, Cut, Entry};
use super::{log_name, snapshot_name};

/// What a server's files held.
pub struct Recovered {
    pub store: Store,
    pub resume: BTreeMap<String, ResumePoint>,
    /// The life the files belong to, when they can be trusted whole (no cut): the server goes
    /// on in it.
    pub epoch: Option<u64>,
    /// The generation found (0: none).
    pub generation: u64,
}

/// Reads the newest generation's snapshot and log from `disk` into `store`, every record the
/// files hold (its bounds refuse only new clients after that: [`Store::restore`]).
pub async fn recover(disk: &dyn Disk, mut store: Store) -> std::io::Result<Recovered> {
    let names = disk.list().await?;
    let generation = names
        .iter()
        .filter_map(|name| name.strip_prefix("snapshot-")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let mut recovered = Recovered {
        store: Store::new(0),
        resume: BTreeMap::new(),
        epoch: None,
        generation,
    };
    if generation == 0 {
        recovered.store = store;
        return Ok(recovered);
    }
    let mut epoch = None;
    let mut whole = true;
    for name in [snapshot_name(generation), log_name(generation)] {
        let bytes = if names.contains(&name) {
            disk.read(&name).await?
        } else {
            Vec::new()
        };
        let (entries, cut) = entry::read_all(&bytes);
        for entry in entries {
            match entry {
                Entry::Epoch(e) => epoch = Some(e),
                Entry::Record { seq, from, record } => {
                    store.restore(&record, from.as_ref(), seq);
                }
                Entry::Resume { peer, point } => {
                    recovered.resume.insert(peer, point);
                }
            }
        }
        if let Some(cut) = cut {
            whole = false;
            let kind = match cut {
                Cut::Torn { .. } => StoreCutKind::Torn,
                Cut::Corrupt { .. } => StoreCutKind::Corrupt,
            };
            Event::StoreCut {
                file: name.clone(),
                offset: cut.offset(),
                kind,
            }
            .emit();
        }
        // A cut snapshot still leaves its log to read: the cut is in the snapshot's bytes.
    }
    recovered.epoch = epoch.filter(|_| whole);
    // Past a cut a resume point may cover records the server does not hold (module doc).
    if !whole {
        recovered.resume.clear();
    }
    // Each record as if stored anew, so the trace holds the table the server starts with.
    for record in store.records() {
        Event::RecordStored {
            record,
            outcome: crate::store::Outcome::New,
            source: crate::events::Source::Disk,
        }
        .emit();
    }
    Event::StoreRecovered {
        generation,
        records: store.len() as u64,
        head: store.head(),
        resume_points: recovered.resume.len() as u64,
        same_life: recovered.epoch.is_some(),
    }
    .emit();
    recovered.store = store;
    Ok(recovered)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io;
    use std::sync::Mutex;

    use super::*;
    use crate::net::BoxFuture;
    use crate::protocol::{Command, Record};

    /// Files in memory, for reading back what a test wrote.
    #[derive(Default)]
    struct MemDisk(Mutex<BTreeMap<String, Vec<u8>>>);

    impl MemDisk {
        fn put(&self, name: &str, bytes: Vec<u8>) {
            self.0.lock().expect("lock").insert(name.to_string(), bytes);
        }
    }

    impl Disk for MemDisk {
        fn list(&self) -> BoxFuture<'static, io::Result<Vec<String>>> {
            let names = self.0.lock().expect("lock").keys().cloned().collect();
            Box::pin(async move { Ok(names) })
        }
        fn read(&self, name: &str) -> BoxFuture<'static, io::Result<Vec<u8>>> {
            let bytes = self.0.lock().expect("lock").get(name).cloned();
            Box::pin(async move { bytes.ok_or_else(|| io::ErrorKind::NotFound.into()) })
        }
        fn append(&self, _: &str, _: Vec<u8>) -> BoxFuture<'static, io::Result<()>> {
            Box::pin(async { Ok(()) })
        }
        fn sync(&self, _: &str) -> BoxFuture<'static, io::Result<()>> {
            Box::pin(async { Ok(()) })
        }
        fn replace(&self, _: &str, _: Vec<u8>) -> BoxFuture<'static, io::Result<()>> {
            Box::pin(async { Ok(()) })
        }
        fn remove(&self, _: &str) -> BoxFuture<'static, io::Result<()>> {
            Box::pin(async { Ok(()) })
        }
    }

    fn record(client: &str, second: u32) -> Record {
        let line = format!("AT Bona +0.5 {client} +1-2 1700000000.{second}");
        match Command::parse_line(line.as_bytes()) {
            Ok(Command::At(record)) => record,
            other => panic!("{other:?}"),
        }
    }

    fn text(record: &Record) -> String {
        record.fields().join(" ")
    }

    /// A snapshot (epoch 7, kiwi as change 1, lime as 2 from Clark, Clark's resume point) and
    /// a log (kiwi again as change 3, a later resume point).
    fn files() -> (Vec<u8>, Vec<u8>) {
        let mut snapshot = Vec::new();
        entry::write_epoch(&mut snapshot, 7);
        entry::write_record(&mut snapshot, 1, None, &text(&record("kiwi", 1)));
        entry::write_record(&mut snapshot, 2, Some("Clark 9"), &text(&record("lime", 1)));
        entry::write_resume(&mut snapshot, "Clark", ResumePoint { epoch: 9, seq: 4 });
        let mut log = Vec::new();
        entry::write_record(&mut log, 3, None, &text(&record("kiwi", 2)));
        entry::write_resume(&mut log, "Clark", ResumePoint { epoch: 9, seq: 6 });
        (snapshot, log)
    }

    fn recovered(disk: &MemDisk) -> Recovered {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime
            .block_on(recover(disk, Store::new(100)))
            .expect("recovered")
    }

    #[test]
    fn whole_files_give_back_the_table_its_change_sequence_and_its_life() {
        let disk = MemDisk::default();
        let (snapshot, log) = files();
        disk.put("snapshot-3", snapshot);
        disk.put("log-3", log);
        disk.put(
            "snapshot-2.tmp",
            b"a snapshot never renamed into place".to_vec(),
        );
        let recovered = recovered(&disk);
        assert_eq!(recovered.generation, 3);
        assert_eq!(recovered.epoch, Some(7));
        assert_eq!(recovered.store.head(), 3);
        assert_eq!(recovered.store.get("kiwi"), Some(record("kiwi", 2)));
        assert_eq!(recovered.store.get("lime"), Some(record("lime", 1)));
        let held: Vec<(u64, Option<&str>)> = recovered
            .store
            .held_all()
            .map(|held| (held.seq, held.from))
            .collect();
        assert_eq!(held, [(2, Some("Clark 9")), (3, None)]);
        assert_eq!(
            recovered.resume.get("Clark"),
            Some(&ResumePoint { epoch: 9, seq: 6 })
        );
    }

    #[test]
    fn a_torn_log_keeps_what_came_before_in_a_new_life() {
        let disk = MemDisk::default();
        let (snapshot, log) = files();
        disk.put("snapshot-1", snapshot);
        disk.put("log-1", log[..log.len() - 3].to_vec());
        let recovered = recovered(&disk);
        assert_eq!(recovered.epoch, None, "a cut means a new life");
        assert_eq!(recovered.store.get("kiwi"), Some(record("kiwi", 2)));
        assert!(
            recovered.resume.is_empty(),
            "after a cut, no resume point (a record refused for room is covered, never stored): \
             {:?}",
            recovered.resume
        );
    }

    /// `snapshot` with one bit flipped: the lowest of the byte `offset` bytes into `needle`.
    fn flipped(mut snapshot: Vec<u8>, needle: &[u8], offset: usize) -> Vec<u8> {
        let at = snapshot
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("the needle is in the snapshot")
            + offset;
        snapshot[at] ^= 0x01;
        snapshot
    }

    #[test]
    fn a_corrupt_snapshot_is_used_up_to_the_bad_frame_and_its_log_without_its_resume_points() {
        let disk = MemDisk::default();
        let (snapshot, log) = files();
        // The last byte of lime's client id, inside the third frame.
        disk.put("snapshot-1", flipped(snapshot, b"lime", 3));
        disk.put("log-1", log);
        let recovered = recovered(&disk);
        assert_eq!(recovered.epoch, None);
        assert_eq!(
            recovered.store.get("kiwi"),
            Some(record("kiwi", 2)),
            "the log's newer kiwi replaces the snapshot's"
        );
        assert_eq!(recovered.store.get("lime"), None);
        assert_eq!(
            recovered.store.get("limd"),
            None,
            "the flipped text is never read"
        );
        assert_eq!(recovered.store.head(), 3);
        assert!(
            recovered.resume.is_empty(),
            "the log's resume point may cover lime, which the cut lost: {:?}",
            recovered.resume
        );
    }

    #[test]
    fn a_flip_in_the_snapshots_epoch_frame_keeps_its_log_in_a_new_life() {
        let disk = MemDisk::default();
        let (snapshot, log) = files();
        // The epoch's digit, inside the first frame: nothing of the snapshot is read.
        disk.put("snapshot-1", flipped(snapshot, b"E 7", 2));
        disk.put("log-1", log);
        let recovered = recovered(&disk);
        assert_eq!(recovered.epoch, None, "a cut means a new life");
        assert_eq!(recovered.store.get("kiwi"), Some(record("kiwi", 2)));
        assert_eq!(
            recovered.store.get("lime"),
            None,
            "lime was in the snapshot"
        );
        assert_eq!(recovered.store.head(), 3);
        let held: Vec<(u64, Option<&str>)> = recovered
            .store
            .held_all()
            .map(|held| (held.seq, held.from))
            .collect();
        assert_eq!(held, [(3, None)]);
        assert!(recovered.resume.is_empty(), "{:?}", recovered.resume);
    }

    #[test]
    fn a_snapshot_cut_in_its_resume_points_keeps_every_record_and_no_point() {
        let disk = MemDisk::default();
        let (mut snapshot, log) = files();
        entry::write_resume(&mut snapshot, "Jaquez", ResumePoint { epoch: 3, seq: 8 });
        // Jaquez's resume point, the last frame: every record and Clark's point come before.
        disk.put("snapshot-1", flipped(snapshot, b"M Jaquez", 2));
        disk.put("log-1", log);
        let recovered = recovered(&disk);
        assert_eq!(recovered.epoch, None);
        assert_eq!(recovered.store.get("kiwi"), Some(record("kiwi", 2)));
        assert_eq!(recovered.store.get("lime"), Some(record("lime", 1)));
        assert_eq!(recovered.store.head(), 3);
        assert!(recovered.resume.is_empty(), "{:?}", recovered.resume);
    }

    #[test]
    fn no_files_is_an_empty_table_and_a_fresh_life() {
        let recovered = recovered(&MemDisk::default());
        assert_eq!(recovered.generation, 0);
        assert_eq!(recovered.epoch, None);
        assert!(recovered.store.is_empty());
    }
}
