//! Reading a server's files back on start: the newest whole snapshot, then its log, into a
//! table, its change sequence, the neighbours' resume points and the epoch they belong to.
//!
//! A torn tail (the last frame cut short: power failed during a write that was never
//! acknowledged) is cut with a warning. A frame whose checksum fails is corruption: it is
//! named (file and offset) in an error, and neither it nor anything after it in that file is
//! used. The server keeps the good prefix rather than refusing to start, because its
//! neighbours hold every record it ever acknowledged and synced (links stream only synced
//! changes): it takes a new epoch, so every neighbour compares whole tables with it and
//! refills what the cut lost, as after any restart without a disk.

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

/// Reads the newest generation's snapshot and log from `disk` into a table bounded as
/// `store` is.
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
            // A cut snapshot means its log cannot follow on from it.
            if name.starts_with("snapshot-") {
                break;
            }
        }
    }
    recovered.epoch = epoch.filter(|_| whole);
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
