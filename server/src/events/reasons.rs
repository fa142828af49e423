//! The reasons events give (a record's source, why a connection or link ended, why a line or
//! a handshake was refused), each written as words and parsed back from them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::line::WriteFailed;

/// What made a store file untrustworthy from some offset on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreCutKind {
    /// The last frame is incomplete: a write power loss cut short.
    Torn,
    /// A whole frame whose checksum or text is wrong.
    Corrupt,
}

/// Where a record came from; decides which neighbour the flood skips. Written `client`,
/// `peer:NAME`, `classic` or `disk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An IAMAT from a client of this server.
    Client,
    /// A neighbour on a persistent link: the flood skips it.
    Peer(String),
    /// An AT line on a plain connection (a classic peer): the sender is unknown.
    Classic,
    /// Read back from the durable store on start (it was stored before, from one of the
    /// others).
    Disk,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Client => f.write_str("client"),
            Source::Peer(name) => write!(f, "peer:{name}"),
            Source::Classic => f.write_str("classic"),
            Source::Disk => f.write_str("disk"),
        }
    }
}

impl FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "client" => Ok(Source::Client),
            "classic" => Ok(Source::Classic),
            "disk" => Ok(Source::Disk),
            _ => match s.strip_prefix("peer:") {
                Some(name) if !name.is_empty() => Ok(Source::Peer(name.to_string())),
                _ => Err(format!("unknown record source `{s}`")),
            },
        }
    }
}

/// Which end of a link an event speaks for: the one this server dialled, or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

/// Why a client connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// The client closed its side and every reply owed went out.
    ClosedByClient,
    /// No input for `client_idle_timeout`.
    IdleTimeout,
    /// The server is stopping.
    Shutdown,
    /// The connection was a neighbour's link (it said `PEER name`) and the link ended.
    LinkEnded(String),
    /// Every client slot was taken and the connection did not become a link.
    NoClientSlot,
    /// It held only a link slot and its link's handshake was refused.
    LinkWithoutProof,
    /// The neighbour said `PEER` and then nothing within `peer_handshake_timeout`.
    HandshakeTimedOut,
    /// Its handshake was pending when `peer_handshakes_max` newer ones began: the oldest goes.
    HandshakeEvicted,
    /// Its handshake was proven but every link slot (`peer_links_max`) was taken.
    NoLinkSlot,
    /// The neighbour closed the connection during the handshake.
    ClosedDuringHandshake,
    /// A reply was not written within `client_write_timeout`.
    WriteTimedOut,
    /// Reading or writing failed; the transport's own words.
    Io(String),
}

impl fmt::Display for ConnectionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionEnd::ClosedByClient => f.write_str("closed by client"),
            ConnectionEnd::IdleTimeout => f.write_str("idle timeout"),
            ConnectionEnd::Shutdown => f.write_str("shutdown"),
            ConnectionEnd::LinkEnded(peer) => write!(f, "link from {peer} ended"),
            ConnectionEnd::NoClientSlot => f.write_str("refused: every client slot is taken"),
            ConnectionEnd::LinkWithoutProof => {
                f.write_str("refused: link without a valid certificate")
            }
            ConnectionEnd::HandshakeTimedOut => f.write_str("handshake timed out"),
            ConnectionEnd::HandshakeEvicted => f.write_str("handshake evicted by newer ones"),
            ConnectionEnd::NoLinkSlot => f.write_str("refused: every link slot is taken"),
            ConnectionEnd::ClosedDuringHandshake => f.write_str("closed during the handshake"),
            ConnectionEnd::WriteTimedOut => f.write_str(WRITE_TIMED_OUT),
            ConnectionEnd::Io(error) => f.write_str(error),
        }
    }
}

impl FromStr for ConnectionEnd {
    type Err = String;

    /// Total: any text that is not one of the fixed reasons is the transport's error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "closed by client" => ConnectionEnd::ClosedByClient,
            "idle timeout" => ConnectionEnd::IdleTimeout,
            "shutdown" => ConnectionEnd::Shutdown,
            "refused: every client slot is taken" => ConnectionEnd::NoClientSlot,
            "refused: link without a valid certificate" => ConnectionEnd::LinkWithoutProof,
            "handshake timed out" => ConnectionEnd::HandshakeTimedOut,
            "handshake evicted by newer ones" => ConnectionEnd::HandshakeEvicted,
            "refused: every link slot is taken" => ConnectionEnd::NoLinkSlot,
            "closed during the handshake" => ConnectionEnd::ClosedDuringHandshake,
            WRITE_TIMED_OUT => ConnectionEnd::WriteTimedOut,
            _ => match s
                .strip_prefix("link from ")
                .and_then(|rest| rest.strip_suffix(" ended"))
            {
                Some(peer) => ConnectionEnd::LinkEnded(peer.to_string()),
                None => ConnectionEnd::Io(s.to_string()),
            },
        })
    }
}

impl From<WriteFailed> for ConnectionEnd {
    fn from(failed: WriteFailed) -> Self {
        match failed {
            WriteFailed::TimedOut => ConnectionEnd::WriteTimedOut,
            WriteFailed::Io(error) => ConnectionEnd::Io(error),
        }
    }
}

/// How a failed bounded write is told.
const WRITE_TIMED_OUT: &str = "write timed out";

/// Why a link to a neighbour went down (or never came up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEnd {
    /// This server is stopping.
    Shutdown,
    /// The table's change sequence closed: the server is going away.
    ServerStopping,
    /// Nothing heard for `heartbeat_timeout`.
    HeartbeatTimeout,
    /// The neighbour closed the connection.
    ClosedByPeer,
    /// A write did not finish within `heartbeat_timeout`.
    WriteTimedOut,
    /// A classic link's connection could not be made in time.
    ConnectTimedOut,
    /// The neighbour did not answer a handshake line within `heartbeat_timeout`.
    HandshakeTimedOut,
    /// The neighbour closed the connection during the handshake.
    ClosedDuringHandshake,
    /// The neighbour answered `? PEER`: it speaks the classic dialect.
    SpeaksClassic,
    /// The neighbour refused our certificate (TLS alert): its CA is not ours.
    AuthRefused,
    /// The neighbour's certificate was refused, or its TLS broke off: whatever answers at its
    /// address holds no herd certificate for the neighbour's name (an impostor, or another
    /// herd's CA). Nothing was sent to it.
    AnswerRefused,
    /// The neighbour's handshake line was not the one expected; what it was.
    Handshake(String),
    /// Reading, writing or dialling failed; the transport's own words.
    Io(String),
}

impl fmt::Display for LinkEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkEnd::Shutdown => "shutdown",
            LinkEnd::ServerStopping => "server stopping",
            LinkEnd::HeartbeatTimeout => "heartbeat timeout",
            LinkEnd::ClosedByPeer => "closed by peer",
            LinkEnd::WriteTimedOut => WRITE_TIMED_OUT,
            LinkEnd::ConnectTimedOut => "connect timed out",
            LinkEnd::HandshakeTimedOut => "handshake timed out",
            LinkEnd::ClosedDuringHandshake => "closed by peer during the handshake",
            LinkEnd::SpeaksClassic => {
                "neighbour answered ? PEER: it speaks the classic dialect (classic: true?)"
            }
            LinkEnd::AuthRefused => "neighbour refused our certificate: its CA differs",
            LinkEnd::AnswerRefused => {
                "neighbour holds no herd certificate for its name: an impostor, or the CA differs"
            }
            LinkEnd::Handshake(what) => return write!(f, "{HANDSHAKE_PREFIX}{what}"),
            LinkEnd::Io(error) => error,
        })
    }
}

/// How [`LinkEnd::Handshake`] is told.
const HANDSHAKE_PREFIX: &str = "handshake: ";

impl FromStr for LinkEnd {
    type Err = String;

    /// Total: any text that is not one of the fixed reasons is the transport's error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fixed = [
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
            LinkEnd::AnswerRefused,
        ];
        if let Some(end) = fixed.into_iter().find(|end| end.to_string() == s) {
            return Ok(end);
        }
        Ok(match s.strip_prefix(HANDSHAKE_PREFIX) {
            Some(what) => LinkEnd::Handshake(what.to_string()),
            None => LinkEnd::Io(s.to_string()),
        })
    }
}

impl From<WriteFailed> for LinkEnd {
    fn from(failed: WriteFailed) -> Self {
        match failed {
            WriteFailed::TimedOut => LinkEnd::WriteTimedOut,
            WriteFailed::Io(error) => LinkEnd::Io(error),
        }
    }
}

/// How a refusal of a classic line for who sent it ends: the address it came from.
const SENT_FROM: &str = "; sent from ";
const OWN_ORIGIN: &str = "origin is this server";
const AUTHENTICATED_ORIGIN: &str = "origin is a neighbour that authenticates";
const NOT_CLASSIC_ADDRESS: &str = "not a classic neighbour's address";

/// Why a line from a neighbour or a classic peer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRefusal {
    /// Longer than `line_bytes_max`.
    TooLong,
    /// Its timestamp is further ahead of our clock than `timestamp_ahead_max`.
    TooFarAhead,
    /// Its client id is longer than `client_id_bytes_max`.
    IdTooLong,
    /// Its location, timestamp or time difference text is longer than its bound.
    TextTooLong,
    /// A valid command, but not one a link carries.
    NotALinkLine,
    /// A classic peer's record whose origin is not a server of the herd.
    UnknownOrigin,
    /// A classic line claiming this server as its origin, from the address named.
    OwnOrigin(String),
    /// A classic line claiming a neighbour that authenticates as its origin (its records
    /// reach us over its own link, never over a classic one), from the address named.
    AuthenticatedOrigin(String),
    /// A classic line from an address (named) that is no classic neighbour's.
    NotClassicAddress(String),
    /// It does not parse; the parser's words.
    Invalid(String),
}

impl fmt::Display for LineRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineRefusal::TooLong => "line over line_bytes_max",
            LineRefusal::TooFarAhead => "timestamp too far ahead of our clock",
            LineRefusal::IdTooLong => "client id longer than client_id_bytes_max",
            LineRefusal::TextTooLong => "location, timestamp or time difference over its bound",
            LineRefusal::NotALinkLine => "not a link line",
            LineRefusal::UnknownOrigin => "origin is not a server of the herd",
            LineRefusal::OwnOrigin(remote) => {
                return write!(f, "{OWN_ORIGIN}{SENT_FROM}{remote}");
            }
            LineRefusal::AuthenticatedOrigin(remote) => {
                return write!(f, "{AUTHENTICATED_ORIGIN}{SENT_FROM}{remote}");
            }
            LineRefusal::NotClassicAddress(remote) => {
                return write!(f, "{NOT_CLASSIC_ADDRESS}{SENT_FROM}{remote}");
            }
            LineRefusal::Invalid(error) => error,
        })
    }
}

impl FromStr for LineRefusal {
    type Err = String;

    /// Total: any text that is not one of the fixed reasons is the parser's error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fixed = [
            LineRefusal::TooLong,
            LineRefusal::TooFarAhead,
            LineRefusal::IdTooLong,
            LineRefusal::TextTooLong,
            LineRefusal::NotALinkLine,
            LineRefusal::UnknownOrigin,
        ];
        let sender = s.rsplit_once(SENT_FROM);
        match sender.map(|(what, remote)| (what, remote.to_string())) {
            Some((OWN_ORIGIN, remote)) => return Ok(LineRefusal::OwnOrigin(remote)),
            Some((AUTHENTICATED_ORIGIN, remote)) => {
                return Ok(LineRefusal::AuthenticatedOrigin(remote));
            }
            Some((NOT_CLASSIC_ADDRESS, remote)) => {
                return Ok(LineRefusal::NotClassicAddress(remote));
            }
            _ => {}
        }
        Ok(fixed
            .into_iter()
            .find(|refusal| refusal.to_string() == s)
            .unwrap_or_else(|| LineRefusal::Invalid(s.to_string())))
    }
}

/// Why an incoming link's handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkRefusal {
    /// No herd certificate for the name the `PEER` line claimed, or the `AUTH` line was
    /// missing or malformed.
    #[serde(rename = "no herd certificate for the name, or no valid AUTH")]
    NoValidProof,
    /// A `PEER` line on the client port: links arrive on the peer port only.
    #[serde(rename = "PEER on the client port: links arrive on the peer port")]
    ClientPort,
}

impl LinkRefusal {
    /// The word `herd_refusals_total` counts it under.
    pub fn metric_word(self) -> &'static str {
        match self {
            LinkRefusal::NoValidProof => "link_without_proof",
            LinkRefusal::ClientPort => "link_on_client_port",
        }
    }
}

/// Text values: the log and the trace show the words, and the reader maps them back.
macro_rules! as_text {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
as_text!(Source, ConnectionEnd, LinkEnd, LineRefusal);

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal naming its sender reads back as itself from its log text, even when the
    /// address is an IPv6 one full of colons.
    #[test]
    fn refusals_naming_their_sender_read_back_from_their_text() {
        for remote in ["192.168.0.5:49153", "[::1]:40000"] {
            for refusal in [
                LineRefusal::OwnOrigin(remote.into()),
                LineRefusal::AuthenticatedOrigin(remote.into()),
                LineRefusal::NotClassicAddress(remote.into()),
                LineRefusal::TextTooLong,
                LineRefusal::UnknownOrigin,
            ] {
                assert_eq!(refusal.to_string().parse::<LineRefusal>(), Ok(refusal));
            }
        }
    }
}
