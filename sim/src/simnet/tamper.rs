//! The attacker on the path of a live link, in the simulation: a layer around the connection a
//! server dials to a neighbour (the one that carries its records there) that injects, replays
//! or alters the bytes it sends when a `tamper` step tells it to. It sits below whatever the server runs on the stream (its
//! handshake, or TLS), where a man in the middle sits. Nothing random: what it does follows
//! from the step and the bytes alone. Streams of links no `tamper` step names are not wrapped.
//! Real mode's fault proxy runs the same attacker on the chunks it forwards.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::recorder::Recorder;
use crate::scenario::{Action, Scenario, TAMPER_REPLAY_BYTES_MAX, TamperMode};
use crate::trace::{SimEvent, TraceEvent};

/// A tampered chunk is shown in the trace up to this many bytes.
const SHOWN_BYTES_MAX: usize = 256;

/// What the attacker knows and will do, per directed link (from, to).
#[derive(Default)]
struct Direction {
    /// Armed by `tamper` steps, done in order at the next chunks.
    pending: VecDeque<TamperMode>,
    /// The last bytes `from` sent `to` (at most [`TAMPER_REPLAY_BYTES_MAX`]), for `replay`.
    seen: VecDeque<u8>,
}

/// The attacker of one run, shared by every server host and the fault actions.
#[derive(Clone)]
pub struct Tampering {
    /// The directed links some `tamper` step names: only their streams are wrapped.
    watched: Arc<BTreeSet<(String, String)>>,
    directions: Arc<Mutex<BTreeMap<(String, String), Direction>>>,
    recorder: Recorder,
}

impl Tampering {
    /// The attacker for `scenario`, or `None` when it has no `tamper` step (nothing is wrapped).
    pub fn for_scenario(scenario: &Scenario, recorder: &Recorder) -> Option<Tampering> {
        let watched: BTreeSet<(String, String)> = scenario
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Tamper(t) => Some((t.from.clone(), t.to.clone())),
                _ => None,
            })
            .collect();
        (!watched.is_empty()).then(|| Tampering {
            watched: Arc::new(watched),
            directions: Arc::default(),
            recorder: recorder.clone(),
        })
    }

    /// A `tamper` step: `mode` happens at the next chunk `from` sends `to`.
    pub fn arm(&self, from: &str, to: &str, mode: &TamperMode) {
        if let Ok(mut directions) = self.directions.lock() {
            let key = (from.to_string(), to.to_string());
            directions
                .entry(key)
                .or_default()
                .pending
                .push_back(mode.clone());
        }
    }

    /// `stream`, from `me` to `peer`, wrapped if a `tamper` step names that direction.
    pub fn wrap(
        &self,
        me: &str,
        peer: &str,
        stream: server::net::BoxStream,
    ) -> server::net::BoxStream {
        if !self.watched.contains(&(me.to_string(), peer.to_string())) {
            return stream;
        }
        Box::new(TamperStream {
            inner: stream,
            from: me.to_string(),
            to: peer.to_string(),
            tampering: self.clone(),
            queued: Vec::new(),
            queued_at: 0,
        })
    }

    /// `chunk` is about to go from `from` to `to`: remembers it and says what goes instead,
    /// when a tamper is armed (`None`: the chunk as it is).
    pub fn on_chunk(&self, from: &str, to: &str, chunk: &[u8]) -> Option<Vec<u8>> {
        if !self.watched.contains(&(from.to_string(), to.to_string())) {
            return None;
        }
        let mut directions = self.directions.lock().ok()?;
        let direction = directions
            .entry((from.to_string(), to.to_string()))
            .or_default();
        let mode = direction.pending.pop_front();
        let out = mode.as_ref().map(|mode| match mode {
            TamperMode::Inject(bytes) => (bytes.clone(), [bytes.as_slice(), chunk].concat()),
            TamperMode::Replay(n) => {
                let skip = direction.seen.len().saturating_sub(*n);
                let old: Vec<u8> = direction.seen.iter().skip(skip).copied().collect();
                (old.clone(), [old.as_slice(), chunk].concat())
            }
            TamperMode::Alter(n) => {
                let altered = alter(chunk, *n);
                (altered.clone(), altered)
            }
        });
        direction.seen.extend(chunk);
        let excess = direction.seen.len().saturating_sub(TAMPER_REPLAY_BYTES_MAX);
        direction.seen.drain(..excess);
        drop(directions);
        let (mode, (shown, out)) = (mode?, out?);
        let records = match mode {
            TamperMode::Alter(_) => 0,
            _ => record_lines(&shown),
        };
        self.recorder.push(TraceEvent::harness(
            self.recorder.now(),
            SimEvent::Tampered {
                from: from.to_string(),
                to: to.to_string(),
                mode: mode.describe(),
                bytes: show(&shown),
                records,
            },
        ));
        Some(out)
    }
}

/// `chunk` with the lowest bit flipped in each of the last `n` bytes of its first line (before
/// its first newline; the whole chunk if it has none), none of them made a newline: on a plain
/// link the first record's timestamp changes and the line stays a line.
pub fn alter(chunk: &[u8], n: usize) -> Vec<u8> {
    let mut out = chunk.to_vec();
    let end = chunk
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(chunk.len());
    let mut left = n;
    for byte in out[..end].iter_mut().rev() {
        if left == 0 {
            break;
        }
        if *byte ^ 1 == b'\n' {
            continue;
        }
        *byte ^= 1;
        left -= 1;
    }
    out
}

/// The whole lines of `bytes` that are records (`AT ` lines); the first piece of a replay may
/// be the tail of a line its window cut, which is no whole line, but counts if it is an `AT `
/// line all the same (the receiver reads it as one).
fn record_lines(bytes: &[u8]) -> u64 {
    let whole = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |end| end + 1);
    bytes[..whole]
        .split(|b| *b == b'\n')
        .filter(|line| line.starts_with(b"AT "))
        .count() as u64
}

/// Bytes as the trace shows them: lossy UTF-8, at most [`SHOWN_BYTES_MAX`] bytes.
fn show(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(SHOWN_BYTES_MAX)];
    String::from_utf8_lossy(cut).into_owned()
}

/// A link stream with the attacker on its path (the direction this end writes).
struct TamperStream {
    inner: server::net::BoxStream,
    from: String,
    to: String,
    tampering: Tampering,
    /// Bytes accepted from the writer and owed to the inner stream (a tampered chunk).
    queued: Vec<u8>,
    queued_at: usize,
}

impl TamperStream {
    /// Writes what is queued; `Ready(Ok)` once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.queued_at < self.queued.len() {
            let rest = &self.queued[self.queued_at..];
            match Pin::new(&mut self.inner).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.queued_at += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.queued.clear();
        self.queued_at = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TamperStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TamperStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        if buf.is_empty() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        match this.tampering.on_chunk(&this.from, &this.to, buf) {
            Some(out) => {
                // The writer's chunk is taken whole; what replaces it goes out as it can.
                this.queued = out;
                this.queued_at = 0;
                match this.drain(cx) {
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    _ => Poll::Ready(Ok(buf.len())),
                }
            }
            None => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::alter;

    #[test]
    fn alter_flips_the_end_of_the_first_line_and_keeps_the_lines() {
        let chunk = b"AT Bailey +0.1 kiwi +1+1 1700000005\nMARK 2\n";
        let altered = alter(chunk, 2);
        assert_eq!(&altered, b"AT Bailey +0.1 kiwi +1+1 1700000014\nMARK 2\n");
        assert_eq!(alter(b"\n\n", 3), b"\n\n".to_vec());
        assert_eq!(alter(b"ab", 5), b"`c".to_vec());
    }
}
