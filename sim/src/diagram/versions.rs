//! Short names for client locations: `kiwi v2` is kiwi's second record in docs/protocol.md §5's
//! order. A diagram cannot print AT lines on its arrows; a version number is enough to see
//! which server answers with what, and when an answer is older than what the herd knows.

use std::collections::BTreeMap;
use std::time::Duration;

use server::events::Event;
use server::protocol::Record;

use crate::trace::replay;
use crate::trace::{Trace, TraceEvent};

/// Every record of the run, numbered per client, and when each first reached any server.
#[derive(Debug, Default)]
pub struct Versions {
    /// Per client: its distinct records in order (version `n` is at index `n - 1`).
    records: BTreeMap<String, Vec<Record>>,
    /// Per client: (when first stored as new anywhere, by whom, version), in time order.
    first_stored: BTreeMap<String, Vec<(Duration, String, usize)>>,
}

impl Versions {
    pub fn from_trace(trace: &Trace) -> Versions {
        let mut records: BTreeMap<String, Vec<Record>> = BTreeMap::new();
        for record in trace.events.iter().filter_map(stored_record).cloned() {
            records
                .entry(record.client.clone())
                .or_default()
                .push(record);
        }
        for list in records.values_mut() {
            list.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
            list.dedup();
        }
        let mut versions = Versions {
            records,
            first_stored: BTreeMap::new(),
        };
        for event in &trace.events {
            let Some(record) = replay::stored_new(event) else {
                continue;
            };
            let Some(version) = versions.version(record) else {
                continue;
            };
            let firsts = versions
                .first_stored
                .entry(record.client.clone())
                .or_default();
            if !firsts.iter().any(|(_, _, v)| *v == version) {
                firsts.push((event.at, event.host.clone(), version));
            }
        }
        versions
    }

    /// The version number of `record` (1-based), if the run stored it anywhere.
    pub fn version(&self, record: &Record) -> Option<usize> {
        let list = self.records.get(&record.client)?;
        list.iter().position(|r| r == record).map(|i| i + 1)
    }

    /// The version of the record with these wire fields (what an IAMAT creates at `origin`).
    pub fn version_of_fields(
        &self,
        client: &str,
        origin: &str,
        location: &str,
        timestamp: &str,
    ) -> Option<usize> {
        let list = self.records.get(client)?;
        list.iter()
            .position(|r| {
                r.origin == origin
                    && r.location.as_str() == location
                    && r.timestamp.as_str() == timestamp
            })
            .map(|i| i + 1)
    }

    /// The version of the record a `flood_sent` names (it logs no location).
    pub fn version_by_stamp(&self, client: &str, origin: &str, timestamp: &str) -> Option<usize> {
        let list = self.records.get(client)?;
        list.iter()
            .position(|r| r.origin == origin && r.timestamp.as_str() == timestamp)
            .map(|i| i + 1)
    }

    /// `kiwi v2` for a record the run stored; `kiwi` alone for one it did not.
    pub fn name(&self, record: &Record) -> String {
        match self.version(record) {
            Some(v) => format!("{} v{v}", record.client),
            None => record.client.clone(),
        }
    }

    /// The newest version of `client` any server had stored by `at`, with where it first was,
    /// when that is newer than `version`: an answer of `version` at `at` was stale.
    pub fn newer_than(
        &self,
        client: &str,
        version: usize,
        at: Duration,
    ) -> Option<(usize, Duration, &str)> {
        self.first_stored
            .get(client)?
            .iter()
            .filter(|(stored, _, v)| *stored <= at && *v > version)
            .max_by_key(|(_, _, v)| *v)
            .map(|(stored, host, v)| (*v, *stored, host.as_str()))
    }
}

/// The record a server-side `record_stored` describes.
pub fn stored_record(event: &TraceEvent) -> Option<&Record> {
    match event.server_event()? {
        Event::RecordStored { record, .. } => Some(record),
        _ => None,
    }
}
