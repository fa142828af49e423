//! The trace contract: every server event, emitted through `tracing` as the server emits it,
//! reads to the identical typed event from both sources: the simulation's recorder and a
//! log-file line laid out by the same function the `server` binary uses. Field names are
//! pinned, so renaming or removing a field fails here (or fails the build).

use std::sync::{Arc, Mutex};

use server::events::{ConnectionEnd, Direction, Event, LineRefusal, LinkEnd, LinkRefusal, Source};
use server::store::Outcome;
use sim::checkers::log_readback::WARNING_EVENTS;
use sim::recorder::{Recorder, TraceLayer};
use sim::trace::{TraceEvent, What, read};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

fn record() -> server::protocol::Record {
    read::at_line(
        "AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
    )
    .expect("a valid AT line")
}

/// One event of every kind, with the field names its JSON must have (after `event`).
fn every_kind() -> Vec<(Event, &'static [&'static str])> {
    const RECORD: [&str; 5] = ["origin", "time_diff", "client", "location", "timestamp"];
    let with_record = |mut before: Vec<&'static str>, after: &[&'static str]| {
        before.extend(RECORD);
        before.extend(after);
        &*Box::leak(before.into_boxed_slice())
    };
    let kinds: Vec<(Event, &'static [&'static str])> = vec![
        (
            Event::Listening {
                addr: "10.0.0.1:10003".into(),
            },
            &["addr"],
        ),
        (
            Event::ConnectionOpened {
                conn: 3,
                remote: "10.0.0.9:49153".into(),
            },
            &["conn", "remote"],
        ),
        (
            Event::ConnectionClosed {
                conn: 3,
                reason: ConnectionEnd::LinkEnded("Bona".into()),
            },
            &["conn", "reason"],
        ),
        (
            Event::ConnectionClosed {
                conn: 4,
                reason: ConnectionEnd::Io("connection reset".into()),
            },
            &["conn", "reason"],
        ),
        (
            Event::ConnectionClosed {
                conn: 5,
                reason: ConnectionEnd::NoClientSlot,
            },
            &["conn", "reason"],
        ),
        (
            Event::ConnectionRefused {
                remote: "10.0.0.9:49154".into(),
                suppressed: 12,
            },
            &["remote", "suppressed"],
        ),
        (
            Event::ClientLine {
                conn: 3,
                line: "WHATSAT kiwi 10 5".into(),
            },
            &["conn", "line"],
        ),
        (
            Event::Reply {
                conn: 3,
                line: "AT Clark +0.1 kiwi +1+1 1".into(),
                bytes: 900,
            },
            &["conn", "line", "bytes"],
        ),
        (
            Event::RecordStored {
                record: record(),
                outcome: Outcome::New,
                source: Source::Peer("Bona".into()),
            },
            with_record(vec![], &["outcome", "source"]),
        ),
        (
            Event::RecordStored {
                record: record(),
                outcome: Outcome::TableFull,
                source: Source::Classic,
            },
            with_record(vec![], &["outcome", "source"]),
        ),
        (
            Event::FloodSent {
                peer: "Jaquez".into(),
                record: record(),
            },
            with_record(vec!["peer"], &[]),
        ),
        (
            Event::Reconcile {
                peer: "Bona".into(),
                records: 7,
                full: true,
            },
            &["peer", "records", "full"],
        ),
        (
            Event::LineRefused {
                peer: Some("Bona".into()),
                conn: None,
                reason: LineRefusal::TooFarAhead,
                line: "AT Bona +0.1 kiwi +1+1 99999999999".into(),
            },
            &["peer", "reason", "line"],
        ),
        (
            Event::LineRefused {
                peer: None,
                conn: Some(4),
                reason: LineRefusal::Invalid("bad location".into()),
                line: "AT Bona +0.1 kiwi nowhere 1".into(),
            },
            &["conn", "reason", "line"],
        ),
        (
            Event::LinkRefused {
                conn: 6,
                peer: "Bona".into(),
                reason: LinkRefusal::NoValidProof,
                line: "AUTH 00".into(),
            },
            &["conn", "peer", "reason", "line"],
        ),
        (
            Event::PeerSpeaksClassic {
                peer: "Bona".into(),
            },
            &["peer"],
        ),
        (
            Event::PeerAuthRefused {
                peer: "Bona".into(),
            },
            &["peer"],
        ),
        (
            Event::PeerAnswerRefused {
                peer: "Bona".into(),
            },
            &["peer"],
        ),
        (Event::LinksUnauthenticated, &[]),
        (
            Event::PeerUp {
                peer: "Bona".into(),
                direction: Direction::Inbound,
            },
            &["peer", "direction"],
        ),
        (
            Event::PeerDown {
                peer: "Bona".into(),
                direction: Direction::Outbound,
                reason: LinkEnd::HeartbeatTimeout,
            },
            &["peer", "direction", "reason"],
        ),
        (
            Event::PeerDown {
                peer: "Bona".into(),
                direction: Direction::Outbound,
                reason: LinkEnd::Handshake("expected HELLO, got LINKED".into()),
            },
            &["peer", "direction", "reason"],
        ),
        (
            Event::PeerDown {
                peer: "Bona".into(),
                direction: Direction::Outbound,
                reason: LinkEnd::AuthRefused,
            },
            &["peer", "direction", "reason"],
        ),
        (
            Event::PeerConnectFailed {
                peer: "Bona".into(),
                error: "connection refused".into(),
                retry_ms: 250,
                client: None,
            },
            &["peer", "error", "retry_ms"],
        ),
        (
            Event::PeerConnectFailed {
                peer: "Bona".into(),
                error: "connect timed out".into(),
                retry_ms: 0,
                client: Some("kiwi".into()),
            },
            &["peer", "error", "retry_ms", "client"],
        ),
        (
            Event::WhatsatWait {
                client: "kiwi".into(),
                found: true,
            },
            &["client", "found"],
        ),
        (
            Event::PlacesRequest {
                api: "legacy".into(),
                radius_m: "10000".into(),
                bound: 5,
            },
            &["api", "radius_m", "bound"],
        ),
        (
            Event::PlacesResponse {
                status: "OK".into(),
                results: 5,
                bytes: 4096,
            },
            &["status", "results", "bytes"],
        ),
        (
            Event::PlacesError {
                kind: "timeout".into(),
                detail: "after 5s".into(),
            },
            &["kind", "detail"],
        ),
        (
            Event::PlacesSpared {
                how: "cached".into(),
            },
            &["how"],
        ),
        (
            Event::Metrics {
                text: "herd_records{server=\"Bailey\"} 1\n".into(),
            },
            &["text"],
        ),
        (
            Event::Shutdown {
                reason: "requested".into(),
            },
            &["reason"],
        ),
        (
            Event::TableRecord { record: record() },
            with_record(vec![], &[]),
        ),
        (
            Event::LinkDrained {
                peer: "Bona".into(),
                sent: 3,
            },
            &["peer", "sent"],
        ),
        (
            Event::LinkUnsent {
                peer: "Bona".into(),
                records: Some(2),
            },
            &["peer", "records"],
        ),
        (
            Event::StoreRecovered {
                generation: 2,
                records: 40,
                head: 41,
                resume_points: 3,
                same_life: true,
            },
            &[
                "generation",
                "records",
                "head",
                "resume_points",
                "same_life",
            ],
        ),
        (
            Event::StoreCut {
                file: "log-2".into(),
                offset: 128,
                kind: server::events::StoreCutKind::Corrupt,
            },
            &["file", "offset", "kind"],
        ),
        (
            Event::StoreSnapshot {
                generation: 3,
                records: 40,
                bytes: 4096,
            },
            &["generation", "records", "bytes"],
        ),
        (
            Event::StoreFailed {
                error: "disk full".into(),
            },
            &["error"],
        ),
    ];
    // Every variant appears: adding one without a sample here fails to compile.
    for (event, _) in &kinds {
        match event {
            Event::Listening { .. }
            | Event::ConnectionOpened { .. }
            | Event::ConnectionClosed { .. }
            | Event::ConnectionRefused { .. }
            | Event::ClientLine { .. }
            | Event::Reply { .. }
            | Event::RecordStored { .. }
            | Event::FloodSent { .. }
            | Event::Reconcile { .. }
            | Event::LineRefused { .. }
            | Event::LinkRefused { .. }
            | Event::PeerSpeaksClassic { .. }
            | Event::PeerAuthRefused { .. }
            | Event::PeerAnswerRefused { .. }
            | Event::LinksUnauthenticated
            | Event::PeerUp { .. }
            | Event::PeerDown { .. }
            | Event::PeerConnectFailed { .. }
            | Event::WhatsatWait { .. }
            | Event::PlacesRequest { .. }
            | Event::PlacesResponse { .. }
            | Event::PlacesError { .. }
            | Event::PlacesSpared { .. }
            | Event::Metrics { .. }
            | Event::Shutdown { .. }
            | Event::LinkDrained { .. }
            | Event::LinkUnsent { .. }
            | Event::StoreRecovered { .. }
            | Event::StoreCut { .. }
            | Event::StoreSnapshot { .. }
            | Event::StoreFailed { .. }
            | Event::TableRecord { .. } => {}
        }
    }
    kinds
}

/// A log-file writer as the binary's: each server event's JSON laid out by
/// `server::events::log_line`, kept in memory.
#[derive(Clone, Default)]
struct LogLines(Arc<Mutex<Vec<String>>>);

/// (The recorder's layer already notes each `server` span's name; one layer must do it.)
impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for LogLines {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let Some(server) = server::span::server_of(event, &ctx) else {
            return;
        };
        let mut json = Json(None);
        event.record(&mut json);
        let level = event.metadata().level().as_str();
        if let Some(json) = json.0
            && let Some(line) =
                server::events::log_line("2026-11-26T05:39:38.123456Z", level, &server, &json)
            && let Ok(mut lines) = self.0.lock()
        {
            lines.push(line);
        }
    }
}

struct Json(Option<String>);

impl Visit for Json {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == server::events::JSON_FIELD {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

#[test]
fn every_event_reads_the_same_from_the_recorder_and_from_a_log_line()
-> Result<(), Box<dyn std::error::Error>> {
    let kinds = every_kind();
    let recorder = Recorder::default();
    let logs = LogLines::default();
    let subscriber = tracing_subscriber::registry()
        .with(TraceLayer {
            recorder: recorder.clone(),
        })
        .with(logs.clone());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("server", name = "Clark");
        let _entered = span.enter();
        for (event, _) in &kinds {
            event.emit();
        }
    });
    assert_eq!(recorder.first_unreadable(), None);
    let recorded = recorder.take().events;
    let lines = logs.0.lock().map_err(|e| e.to_string())?.clone();
    assert_eq!(recorded.len(), kinds.len(), "the recorder kept every event");
    assert_eq!(lines.len(), kinds.len(), "the log has a line per event");
    for (((sent, fields), recorded), line) in kinds.iter().zip(&recorded).zip(&lines) {
        let from_log: TraceEvent = read::log_line(line)?.ok_or("a trace event line")?;
        assert_eq!(
            recorded.what,
            What::Server(sent.clone()),
            "recorder: {line}"
        );
        assert_eq!(from_log.what, recorded.what, "log line: {line}");
        assert_eq!(
            (from_log.host.as_str(), recorded.host.as_str()),
            ("Clark", "Clark")
        );

        let json: serde_json::Value = serde_json::from_str(line)?;
        let keys: Vec<&str> = json
            .as_object()
            .ok_or("a JSON object")?
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec!["ts", "level", "server", "event"];
        expected.extend(fields.iter());
        assert_eq!(
            keys,
            expected,
            "the field names of {} are pinned",
            sent.name()
        );
        assert_eq!(json["event"], sent.name());
        let level = if WARNING_EVENTS.contains(&sent.name()) {
            "WARN"
        } else {
            "INFO"
        };
        assert_eq!(json["level"], level, "the level of {}", sent.name());
    }
    Ok(())
}

#[test]
fn every_reason_reads_back_as_written() {
    let connection_ends = [
        ConnectionEnd::ClosedByClient,
        ConnectionEnd::IdleTimeout,
        ConnectionEnd::Shutdown,
        ConnectionEnd::LinkEnded("Bona".into()),
        ConnectionEnd::NoClientSlot,
        ConnectionEnd::LinkWithoutProof,
        ConnectionEnd::HandshakeTimedOut,
        ConnectionEnd::ClosedDuringHandshake,
        ConnectionEnd::WriteTimedOut,
        ConnectionEnd::Io("connection reset by peer".into()),
    ];
    for end in connection_ends {
        assert_eq!(end.to_string().parse::<ConnectionEnd>(), Ok(end));
    }
    let link_ends = [
        LinkEnd::Shutdown,
        LinkEnd::ServerStopping,
        LinkEnd::HeartbeatTimeout,
        LinkEnd::ClosedByPeer,
        LinkEnd::WriteTimedOut,
        LinkEnd::ConnectTimedOut,
        LinkEnd::HandshakeTimedOut,
        LinkEnd::ClosedDuringHandshake,
        LinkEnd::SpeaksClassic,
        LinkEnd::AuthRefused,
        LinkEnd::Handshake("unexpected line \"? AUTH\"".into()),
        LinkEnd::Io("connection refused".into()),
    ];
    for end in link_ends {
        assert_eq!(end.to_string().parse::<LinkEnd>(), Ok(end));
    }
    let refusals = [
        LineRefusal::TooLong,
        LineRefusal::TooFarAhead,
        LineRefusal::IdTooLong,
        LineRefusal::NotALinkLine,
        LineRefusal::UnknownOrigin,
        LineRefusal::Invalid("bad timestamp".into()),
    ];
    for refusal in refusals {
        assert_eq!(refusal.to_string().parse::<LineRefusal>(), Ok(refusal));
    }
}

#[test]
fn a_server_event_that_does_not_read_is_reported_with_its_position() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(TraceLayer {
        recorder: recorder.clone(),
    });
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("server", name = "Clark");
        let _entered = span.enter();
        Event::Listening { addr: "x".into() }.emit();
        tracing::info!(json = r#"{"event":"reconcile","peer":"Bona"}"#, "reconcile");
    });
    let (_, message) = recorder
        .first_unreadable()
        .expect("a reconcile without `records` does not read");
    assert!(message.starts_with("trace event 1 from Clark"), "{message}");
    assert!(message.contains("records"), "{message}");
}
