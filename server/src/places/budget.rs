//! How one server spends its Places calls: a cache of answers, identical calls in flight
//! merged into one, and a bound on upstream calls per second (docs/protocol.md §11).
//!
//! The cache is keyed by what Places is asked ([`Search`]): the location text and the radius
//! in metres, and for Places API (New) the bound too, since `maxResultCount` is part of that
//! request. Only answers with place data (`OK`, `ZERO_RESULTS`) are kept, for
//! `places_cache_ttl`, within `places_cache_bytes_max` bytes of JSON text, the oldest evicted
//! first. Time comes from tokio's clock only, so the simulation runs it deterministically.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::error::UpstreamError;
use crate::config::Limits;

/// The window the call rate is counted over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// What Places is asked, less the key: two WHATSATs with the same search share one call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Search {
    pub(crate) location: String,
    pub(crate) radius_m: String,
    /// `Some` only for Places API (New), where the bound is part of the request.
    pub(crate) bound: Option<usize>,
}

/// The answer to one search as the upstream gave it (uncut), shared by merged calls.
pub(crate) type Fetched = Result<Value, Arc<UpstreamError>>;

/// How a WHATSAT got its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// This WHATSAT's own upstream call.
    Called,
    /// From the cache: no call.
    Cached,
    /// Another WHATSAT's identical call, in flight when this one came: no call of its own.
    Merged,
    /// The call rate bound was spent: no call, `OVER_QUERY_LIMIT`.
    OverRate,
}

impl Spent {
    /// The `how` of the `places_spared` event; `None` for a call of its own.
    pub fn spared(self) -> Option<&'static str> {
        match self {
            Spent::Called => None,
            Spent::Cached => Some("cached"),
            Spent::Merged => Some("merged"),
            Spent::OverRate => Some("over_rate"),
        }
    }
}

struct Entry {
    value: Value,
    bytes: usize,
    expires: Instant,
    /// Its place in `State::order`.
    seq: u64,
}

#[derive(Default)]
struct State {
    cache: BTreeMap<Search, Entry>,
    /// Insertion order (every entry has the same TTL, so also expiry order): seq -> search.
    order: BTreeMap<u64, Search>,
    next_seq: u64,
    bytes: usize,
    /// Calls under way, one per search; bounded by the WHATSATs in flight.
    in_flight: BTreeMap<Search, Arc<OnceCell<Fetched>>>,
    /// When each upstream call of the last second was made, oldest first.
    calls: VecDeque<Instant>,
}

/// One server's Places budget.
pub struct Budget {
    ttl: Duration,
    bytes_max: usize,
    calls_per_second_max: usize,
    state: Mutex<State>,
}

/// What a finished or abandoned call leaves behind: removes its in-flight entry on drop, so a
/// cancelled WHATSAT never leaves one for ever.
struct InFlight<'a> {
    budget: &'a Budget,
    search: &'a Search,
    cell: Arc<OnceCell<Fetched>>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.budget.state();
        if state
            .in_flight
            .get(self.search)
            .is_some_and(|cell| Arc::ptr_eq(cell, &self.cell))
        {
            state.in_flight.remove(self.search);
        }
    }
}

impl Budget {
    pub fn new(limits: &Limits) -> Budget {
        Budget {
            ttl: limits.places_cache_ttl,
            bytes_max: limits.places_cache_bytes_max,
            calls_per_second_max: limits.places_calls_per_second_max,
            state: Mutex::new(State::default()),
        }
    }

    pub fn calls_per_second_max(&self) -> usize {
        self.calls_per_second_max
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer to `search`: cached, merged with an identical call in flight, or asked of
    /// `call` if the rate bound allows (else `None`, with [`Spent::OverRate`]).
    pub(crate) async fn fetch<F, Fut>(&self, search: Search, call: F) -> (Option<Fetched>, Spent)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Fetched>,
    {
        let (cell, created) = {
            let mut state = self.state();
            let now = Instant::now();
            state.expire(now);
            if let Some(entry) = state.cache.get(&search) {
                return (Some(Ok(entry.value.clone())), Spent::Cached);
            }
            match state.in_flight.get(&search) {
                Some(cell) => (cell.clone(), false),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    state.in_flight.insert(search.clone(), cell.clone());
                    (cell, true)
                }
            }
        };
        let _guard = created.then(|| InFlight {
            budget: self,
            search: &search,
            cell: cell.clone(),
        });
        let mut ran = None;
        let fetched = cell
            .get_or_init(|| async {
                if !self.take_call() {
                    ran = Some(Spent::OverRate);
                    return Err(Arc::new(UpstreamError::OverRate));
                }
                ran = Some(Spent::Called);
                call().await
            })
            .await
            .clone();
        match ran {
            Some(Spent::OverRate) => (None, Spent::OverRate),
            Some(spent) => {
                if let Ok(value) = &fetched {
                    self.keep(&search, value);
                }
                (Some(fetched), spent)
            }
            // Another WHATSAT's call (or its refusal by the rate bound) answered this one.
            None => match fetched {
                Err(e) if matches!(*e, UpstreamError::OverRate) => (None, Spent::Merged),
                fetched => (Some(fetched), Spent::Merged),
            },
        }
    }

    /// Takes one call from the rate bound, if any is left in the last second.
    fn take_call(&self) -> bool {
        let mut state = self.state();
        let now = Instant::now();
        while state
            .calls
            .front()
            .is_some_and(|at| now.duration_since(*at) >= RATE_WINDOW)
        {
            state.calls.pop_front();
        }
        if state.calls.len() >= self.calls_per_second_max {
            return false;
        }
        state.calls.push_back(now);
        true
    }

    /// Caches an answer with place data, evicting the oldest beyond the byte bound.
    fn keep(&self, search: &Search, value: &Value) {
        let status = value.get("status").and_then(Value::as_str);
        if self.ttl.is_zero() || !matches!(status, Some("OK" | "ZERO_RESULTS")) {
            return;
        }
        let bytes = value.to_string().len() + search.location.len() + search.radius_m.len();
        if bytes > self.bytes_max {
            return;
        }
        let mut state = self.state();
        let now = Instant::now();
        state.expire(now);
        state.remove(search);
        while state.bytes + bytes > self.bytes_max {
            let Some((_, oldest)) = state.order.pop_first() else {
                break;
            };
            if let Some(entry) = state.cache.remove(&oldest) {
                state.bytes -= entry.bytes;
            }
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.order.insert(seq, search.clone());
        state.bytes += bytes;
        state.cache.insert(
            search.clone(),
            Entry {
                value: value.clone(),
                bytes,
                expires: now + self.ttl,
                seq,
            },
        );
    }

    /// Answers cached and their bytes, for metrics.
    pub fn cached(&self) -> (usize, usize) {
        let state = self.state();
        (state.cache.len(), state.bytes)
    }
}

impl State {
    /// Drops every entry whose TTL has run out (they expire in insertion order).
    fn expire(&mut self, now: Instant) {
        while let Some((&seq, search)) = self.order.first_key_value() {
            match self.cache.get(search) {
                Some(entry) if entry.expires > now => break,
                Some(_) => {
                    let search = search.clone();
                    self.remove(&search);
                }
                None => {
                    self.order.remove(&seq);
                }
            }
        }
    }

    fn remove(&mut self, search: &Search) {
        if let Some(entry) = self.cache.remove(search) {
            self.bytes -= entry.bytes;
            self.order.remove(&entry.seq);
        }
    }
}
