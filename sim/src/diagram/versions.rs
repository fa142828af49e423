//! Short names for client locations: `kiwi v2` is kiwi's second record in SPEC section 5's
//! order. A diagram cannot print AT lines on its arrows; a version number is enough to see
//! which server answers with what, and when an answer is older than what the herd still holds
//! (a record whose every holder crashed is gone: answering an older one then is correct).

use std::collections::BTreeMap;
use std::time::Duration;

use server::events::Event;
use server::protocol::Record;

use crate::trace::replay::{self, Downtime};
use crate::trace::{Trace, TraceEvent};

/// Every record of the run, numbered per client, and where and when each was stored.
#[derive(Debug, Default)]
pub struct Versions {
    /// Per client: its distinct records in order (version `n` is at index `n - 1`).
    records: BTreeMap<String, Vec<Record>>,
    /// Per client: (when stored as new, by which server, version), in time order, once per
    /// server and version.
    stored: BTreeMap<String, Vec<(Duration, String, usize)>>,
    /// When each server was down: a crash loses what it held.
    downtime: Downtime,
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
            stored: BTreeMap::new(),
            downtime: Downtime::from_trace(trace),
        };
        for event in &trace.events {
            let Some(record) = replay::stored_new(event) else {
                continue;
            };
            let Some(version) = versions.version(record) else {
                continue;
            };
            let stores = versions.stored.entry(record.client.clone()).or_default();
            stores.push((event.at, event.host.clone(), version));
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

    /// The newest version of `client` newer than `version` that some server stored by `at`
    /// and still held then (it has not crashed since), with the first such server and when it
    /// stored it: an answer of `version` at `at` was stale. A newer record held only by
    /// servers that crashed is gone from the herd and makes nothing stale.
    pub fn newer_than(
        &self,
        client: &str,
        version: usize,
        at: Duration,
    ) -> Option<(usize, Duration, &str)> {
        let held = |(stored, host, v): &&(Duration, String, usize)| {
            *stored <= at && *v > version && !self.downtime.down_during(host, *stored, at)
        };
        let newest = self
            .stored
            .get(client)?
            .iter()
            .filter(held)
            .map(|e| e.2)
            .max()?;
        self.stored
            .get(client)?
            .iter()
            .filter(held)
            .find(|(_, _, v)| *v == newest)
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
