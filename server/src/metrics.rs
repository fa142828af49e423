//! What an operator scrapes: one server's counters and gauges, in the Prometheus text format.
//!
//! Counting is plain integers under one lock, updated where the matching trace event is
//! emitted, so a counter and the trace tell the same story (the simulation's `metrics`
//! checker holds them to it). A scrape builds a fresh `prometheus_client` registry with the
//! `server` label, reads the table's gauges from the store at that moment, and encodes. Every
//! labelled family is kept in a `BTreeMap`, so a scrape's text is the same for the same state
//! (the crate's own `Family` keeps a `HashMap`, whose order would differ run to run).
//!
//! Names follow Prometheus conventions: a `herd_` prefix, `_total` on counters (the encoder
//! adds it), base units (`_bytes`, `_seconds`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::events::{Direction, LineRefusal};

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What a client line asked for, by its first word: `iamat`, `whatsat` or `other`.
pub fn command_kind(line: &[u8]) -> &'static str {
    let word = line
        .split(|b| crate::protocol::is_spec_whitespace(*b))
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    match word {
        b"IAMAT" => "iamat",
        b"WHATSAT" => "whatsat",
        _ => "other",
    }
}

/// The `reason` label of a refused link line: a fixed word for each kind of refusal.
pub fn line_refusal_reason(refusal: &LineRefusal) -> &'static str {
    match refusal {
        LineRefusal::TooLong => "line_too_long",
        LineRefusal::TooFarAhead => "too_far_ahead",
        LineRefusal::IdTooLong => "id_too_long",
        LineRefusal::TextTooLong => "text_too_long",
        LineRefusal::NotALinkLine => "not_a_link_line",
        LineRefusal::UnknownOrigin => "unknown_origin",
        LineRefusal::OwnOrigin(_) => "own_origin",
        LineRefusal::AuthenticatedOrigin(_) => "authenticated_origin",
        LineRefusal::NotClassicAddress(_) => "not_classic_address",
        LineRefusal::Invalid(_) => "invalid_line",
    }
}

/// One neighbour's link, both directions.
#[derive(Debug, Clone, Default)]
struct Link {
    up_outbound: bool,
    up_inbound: bool,
    /// The last change our outbound link sent it.
    cursor: u64,
    sent: u64,
    received: u64,
    reconciles: u64,
}

#[derive(Debug, Clone, Default)]
struct Counts {
    /// (kind, outcome) -> replies.
    commands: BTreeMap<(&'static str, &'static str), u64>,
    /// reason -> refusals.
    refusals: BTreeMap<&'static str, u64>,
    links: BTreeMap<String, Link>,
    /// outcome -> Places answers (`called`, `cached`, `merged`, `over_rate`, `offline`).
    places: BTreeMap<&'static str, u64>,
    /// status -> upstream calls.
    places_status: BTreeMap<String, u64>,
    connections_open: i64,
    /// Since when no link with any neighbour has been up (`None`: one is, or there are no
    /// neighbours), for `/readyz`.
    alone_since: Option<tokio::time::Instant>,
}

/// One server's metrics.
#[derive(Debug)]
pub struct Metrics {
    server: String,
    /// `false`: every update returns at once (the binary's `--no-metrics`).
    enabled: bool,
    counts: Mutex<Counts>,
    places_latency: Histogram,
}

/// The table's gauges at a scrape, read by the caller from the store.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub records: usize,
    pub bytes: usize,
    pub head: u64,
    pub cached_answers: usize,
    pub cached_bytes: usize,
}

impl Metrics {
    /// Metrics for `server` and its neighbours (listed so that a link never up shows 0).
    pub fn new<'a>(
        server: &str,
        neighbours: impl IntoIterator<Item = &'a str>,
        enabled: bool,
    ) -> Metrics {
        let links: BTreeMap<String, Link> = neighbours
            .into_iter()
            .map(|n| (n.to_string(), Link::default()))
            .collect();
        let alone_since = (!links.is_empty()).then(tokio::time::Instant::now);
        Metrics {
            server: server.to_string(),
            enabled,
            counts: Mutex::new(Counts {
                links,
                alone_since,
                ..Counts::default()
            }),
            // 5 ms to about 10 s.
            places_latency: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A client line was answered: `invalid` when the reply is `? ...`.
    pub fn command(&self, kind: &'static str, invalid: bool) {
        if !self.enabled {
            return;
        }
        let outcome = if invalid { "invalid" } else { "answered" };
        *self.counts().commands.entry((kind, outcome)).or_default() += 1;
    }

    /// A connection, line or link was refused, for `reason` (a fixed word, never free text).
    pub fn refused(&self, reason: &'static str) {
        if !self.enabled {
            return;
        }
        *self.counts().refusals.entry(reason).or_default() += 1;
    }

    pub fn connection_opened(&self) {
        if !self.enabled {
            return;
        }
        self.counts().connections_open += 1;
    }

    pub fn connection_closed(&self) {
        if !self.enabled {
            return;
        }
        self.counts().connections_open -= 1;
    }

    fn link(&self, peer: &str, update: impl FnOnce(&mut Link)) {
        if !self.enabled {
            return;
        }
        let mut counts = self.counts();
        if let Some(link) = counts.links.get_mut(peer) {
            update(link);
        }
    }

    pub fn link_up(&self, peer: &str, direction: Direction, up: bool) {
        if !self.enabled {
            return;
        }
        let mut counts = self.counts();
        if let Some(link) = counts.links.get_mut(peer) {
            match direction {
                Direction::Outbound => link.up_outbound = up,
                Direction::Inbound => link.up_inbound = up,
            }
        }
        let linked = counts.links.values().any(|l| l.up_outbound || l.up_inbound);
        if linked {
            counts.alone_since = None;
        } else if counts.alone_since.is_none() {
            counts.alone_since = Some(tokio::time::Instant::now());
        }
    }

    /// How long no link with any neighbour has been up; `None` when one is, or when the
    /// server has no neighbours.
    pub fn alone_for(&self) -> Option<Duration> {
        self.counts().alone_since.map(|since| since.elapsed())
    }

    /// Our outbound link to `peer` has sent every change up to `cursor`.
    pub fn link_cursor(&self, peer: &str, cursor: u64) {
        self.link(peer, |link| link.cursor = cursor);
    }

    pub fn records_sent(&self, peer: &str, records: u64) {
        self.link(peer, |link| link.sent += records);
    }

    pub fn record_received(&self, peer: &str) {
        self.link(peer, |link| link.received += 1);
    }

    pub fn reconciled(&self, peer: &str) {
        self.link(peer, |link| link.reconciles += 1);
    }

    /// A WHATSAT's Places answer: how it was come by, its status, and the upstream call's
    /// latency when it made one.
    pub fn places(&self, outcome: &'static str, status: &str, latency: Option<Duration>) {
        if !self.enabled {
            return;
        }
        let mut counts = self.counts();
        *counts.places.entry(outcome).or_default() += 1;
        if let Some(latency) = latency {
            *counts.places_status.entry(status.to_string()).or_default() += 1;
            drop(counts);
            self.places_latency.observe(latency.as_secs_f64());
        }
    }

    /// The Prometheus text of a scrape now.
    pub fn render(&self, table: Table) -> String {
        let mut registry =
            Registry::with_labels([("server".into(), self.server.clone().into())].into_iter());
        registry.register_collector(Box::new(Snapshot {
            counts: self.counts().clone(),
            table,
        }));
        registry.register_with_unit(
            "herd_places_upstream_latency",
            "How long upstream Places calls took, connect to last body byte",
            Unit::Seconds,
            self.places_latency.clone(),
        );
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
        text
    }
}

/// Everything a scrape shows, copied out of the lock.
#[derive(Debug)]
struct Snapshot {
    counts: Counts,
    table: Table,
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: i64,
) -> fmt::Result {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, unit, gauge.metric_type())?)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let c = &self.counts;
        let t = &self.table;
        let counter_type = ConstCounter::new(0u64).metric_type();
        let gauge_type = ConstGauge::new(0i64).metric_type();
        let mut family = encoder.encode_descriptor(
            "herd_commands",
            "Client lines answered, by what they asked (first word) and outcome",
            None,
            counter_type,
        )?;
        for ((kind, outcome), n) in &c.commands {
            let labels = [("kind", *kind), ("outcome", *outcome)];
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "herd_refusals",
            "Connections, link lines and link handshakes refused, by reason",
            None,
            counter_type,
        )?;
        for (reason, n) in &c.refusals {
            ConstCounter::new(*n).encode(family.encode_family(&[("reason", *reason)])?)?;
        }
        gauge(
            &mut encoder,
            "herd_records",
            "Client records held in the table",
            None,
            t.records as i64,
        )?;
        gauge(
            &mut encoder,
            "herd_table",
            "Bytes the table holds, as counted against table_bytes_max",
            Some(&Unit::Bytes),
            t.bytes as i64,
        )?;
        gauge(
            &mut encoder,
            "herd_connections_open",
            "Client and link connections open on the client port",
            None,
            c.connections_open,
        )?;
        encode_links(&mut encoder, c, t.head, counter_type, gauge_type)?;
        let mut family = encoder.encode_descriptor(
            "herd_places_answers",
            "WHATSAT Places answers by how they were come by: called (upstream or offline set), cached, merged with an identical call in flight, over_rate",
            None,
            counter_type,
        )?;
        for (outcome, n) in &c.places {
            ConstCounter::new(*n).encode(family.encode_family(&[("outcome", *outcome)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "herd_places_upstream_calls",
            "Upstream Places calls by the status of the answer a client got",
            None,
            counter_type,
        )?;
        for (status, n) in &c.places_status {
            ConstCounter::new(*n).encode(family.encode_family(&[("status", status.as_str())])?)?;
        }
        gauge(
            &mut encoder,
            "herd_places_cache_answers",
            "Places answers held in the cache",
            None,
            t.cached_answers as i64,
        )?;
        gauge(
            &mut encoder,
            "herd_places_cache",
            "Bytes of Places answers held in the cache",
            Some(&Unit::Bytes),
            t.cached_bytes as i64,
        )
    }
}

/// A per-neighbour counter: its name, help, and how a link's value is read.
type PerPeer = (&'static str, &'static str, fn(&Link) -> u64);

/// The per-neighbour families: up, lag, records sent and received, reconciles.
fn encode_links(
    encoder: &mut DescriptorEncoder,
    c: &Counts,
    head: u64,
    counter_type: prometheus_client::metrics::MetricType,
    gauge_type: prometheus_client::metrics::MetricType,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(
        "herd_link_up",
        "1 when the link with the neighbour is up in that direction (outbound: we send)",
        None,
        gauge_type,
    )?;
    for (peer, link) in &c.links {
        for (direction, up) in [("outbound", link.up_outbound), ("inbound", link.up_inbound)] {
            let labels = [("peer", peer.as_str()), ("direction", direction)];
            ConstGauge::new(i64::from(up)).encode(family.encode_family(&labels)?)?;
        }
    }
    let mut family = encoder.encode_descriptor(
        "herd_link_lag_records",
        "Changes of our table the outbound link has not yet sent the neighbour",
        None,
        gauge_type,
    )?;
    for (peer, link) in &c.links {
        let lag = if link.up_outbound {
            head.saturating_sub(link.cursor)
        } else {
            0
        };
        ConstGauge::new(lag as i64).encode(family.encode_family(&[("peer", peer.as_str())])?)?;
    }
    let per_peer: [PerPeer; 3] = [
        (
            "herd_link_records_sent",
            "Records sent to the neighbour (flooded or reconciled)",
            |l| l.sent,
        ),
        (
            "herd_link_records_received",
            "Records the neighbour's link offered our table",
            |l| l.received,
        ),
        (
            "herd_link_reconciles",
            "Times our outbound link came up and reconciled",
            |l| l.reconciles,
        ),
    ];
    for (name, help, value) in per_peer {
        let mut family = encoder.encode_descriptor(name, help, None, counter_type)?;
        for (peer, link) in &c.links {
            ConstCounter::new(value(link))
                .encode(family.encode_family(&[("peer", peer.as_str())])?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_names_the_server_and_sorts_its_families() {
        let metrics = Metrics::new("Bailey", ["Bona", "Campbell"], true);
        metrics.command("whatsat", false);
        metrics.command("iamat", true);
        metrics.command("iamat", false);
        metrics.link_up("Bona", Direction::Outbound, true);
        metrics.link_cursor("Bona", 3);
        let text = metrics.render(Table {
            records: 2,
            bytes: 300,
            head: 5,
            cached_answers: 0,
            cached_bytes: 0,
        });
        for line in [
            r#"herd_commands_total{server="Bailey",kind="iamat",outcome="answered"} 1"#,
            r#"herd_records{server="Bailey"} 2"#,
            r#"herd_table_bytes{server="Bailey"} 300"#,
            r#"herd_link_up{server="Bailey",peer="Bona",direction="outbound"} 1"#,
            r#"herd_link_up{server="Bailey",peer="Campbell",direction="outbound"} 0"#,
            r#"herd_link_lag_records{server="Bailey",peer="Bona"} 2"#,
            r#"herd_places_upstream_latency_seconds_count{server="Bailey"} 0"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        let iamat = text.find(r#"kind="iamat",outcome="invalid""#);
        let whatsat = text.find(r#"kind="whatsat""#);
        assert!(iamat < whatsat, "{text}");
    }

    #[test]
    fn command_kinds_are_the_first_word() {
        assert_eq!(command_kind(b"  IAMAT kiwi +1+1 1"), "iamat");
        assert_eq!(command_kind(b"WHATSAT kiwi 1 1"), "whatsat");
        assert_eq!(command_kind(b"iamat kiwi"), "other");
        assert_eq!(command_kind(b""), "other");
    }
}
