//! The receiving server's clock at the instant it read a client's line, known exactly from
//! the simulation and the scenario, never from what the server printed: the host's simulated
//! wall clock at the server's `client_line` event ([`TraceEvent::wall_clock`]) plus the skew
//! the scenario's last `skew` step before it gave that server.
//!
//! Why that instant: the server reads its clock while it handles the line it just logged,
//! with no await in between, and turmoil's clock only moves while a host awaits. A server
//! that read its clock later would not be stamping the *receive* time SPEC section 2 asks
//! for. Real servers' logs carry no such reading (a real clock is read twice, once for the
//! log and once for the reply), so there the exact clock is unknown. What the client saw
//! still bounds it: the line arrived after it was sent and before the reply came back, so the
//! server's clock then lay between the client's clock at those two instants (the calendar
//! real mode gives the herd, [`TraceEvent::wall_clock`] of the client's events) plus the skew
//! ([`Receipts::possible_clocks`]).

use std::collections::BTreeMap;
use std::time::Duration;

use server::events::Event;

use super::RunRecord;
use crate::trace::replay::Exchange;
use crate::trace::{SimEvent, TraceEvent, What};

/// The server logs at most this many bytes of an input line (`client_line`).
const LOGGED_LINE_BYTES_MAX: usize = 256;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// One `client_line` of a server, with the server's clock then, if known.
struct Receipt<'a> {
    at: Duration,
    line: &'a str,
    clock_nanos: Option<i128>,
}

/// Every server's `client_line` events, in trace order, each with the server's clock.
pub struct Receipts<'a> {
    by_server: BTreeMap<&'a str, Vec<Receipt<'a>>>,
    /// Each server's skew from each `skew` step on, in trace order (`None`: not known).
    skews: BTreeMap<&'a str, Vec<(Duration, Option<i128>)>>,
}

impl<'a> Receipts<'a> {
    pub fn from_run(run: &RunRecord<'a>) -> Receipts<'a> {
        let mut skews: BTreeMap<&str, Option<i128>> = BTreeMap::new();
        let mut skew_history: BTreeMap<&'a str, Vec<(Duration, Option<i128>)>> = BTreeMap::new();
        let mut by_server: BTreeMap<&'a str, Vec<Receipt<'a>>> = BTreeMap::new();
        let trace = run.trace;
        for event in &trace.events {
            match &event.what {
                What::Sim(SimEvent::Skew { step, server, .. }) => {
                    let skew = run.skew_nanos.get(step).copied();
                    skews.insert(server, skew);
                    skew_history
                        .entry(server.as_str())
                        .or_default()
                        .push((event.at, skew));
                }
                What::Server(Event::ClientLine { line, .. }) => {
                    let skew = skews.get(event.host.as_str()).copied().unwrap_or(Some(0));
                    by_server
                        .entry(event.host.as_str())
                        .or_default()
                        .push(Receipt {
                            at: event.at,
                            line,
                            clock_nanos: server_clock(event, skew),
                        });
                }
                _ => {}
            }
        }
        Receipts {
            by_server,
            skews: skew_history,
        }
    }

    /// The clocks the receiving server may have read for the exchange's line: the exact ones
    /// where the trace knows them ([`Receipts::clocks`]), else the two ends of what the client
    /// saw, its clock at the send and at the reply (or error) plus the server's skew. A bound
    /// that refuses at some clock between the two ends refuses at one of them: a timestamp too
    /// far ahead is furthest ahead of the earlier end, and a time difference is longest at an
    /// end. Empty when neither is known.
    pub fn possible_clocks(&self, exchange: &Exchange) -> Vec<i128> {
        let exact: Vec<i128> = self.clocks(exchange).into_iter().flatten().collect();
        if !exact.is_empty() {
            return exact;
        }
        let skew = self
            .skews
            .get(exchange.server())
            .and_then(|history| history.iter().rev().find(|(at, _)| *at <= exchange.send.at))
            .map_or(Some(0), |(_, skew)| *skew);
        let Some(skew) = skew else {
            return Vec::new();
        };
        let end = exchange.reply.or(exchange.error).map(|(_, e)| e);
        [Some(exchange.send), end]
            .into_iter()
            .flatten()
            .filter_map(|e| i128::try_from(e.wall_clock?.as_nanos()).ok())
            .map(|clock| clock + skew)
            .collect()
    }

    /// The receiving server's clock at each receipt of the exchange's line while the
    /// exchange was open (one, unless the same line was in flight twice); `None` where the
    /// clock is unknown.
    pub fn clocks(&self, exchange: &Exchange) -> Vec<Option<i128>> {
        let until = exchange
            .reply
            .or(exchange.error)
            .map_or(Duration::MAX, |(_, e)| e.at);
        let sent = exchange.line();
        let Some(receipts) = self.by_server.get(exchange.server()) else {
            return Vec::new();
        };
        let first = receipts.partition_point(|r| r.at < exchange.send.at);
        receipts[first..]
            .iter()
            .take_while(|r| r.at <= until)
            .filter(|r| same_line(r.line, sent))
            .map(|r| r.clock_nanos)
            .collect()
    }
}

/// The server's clock at `event`: its host's wall clock plus `skew`.
fn server_clock(event: &TraceEvent, skew: Option<i128>) -> Option<i128> {
    let wall = i128::try_from(event.wall_clock?.as_nanos()).ok()?;
    Some(wall + skew?)
}

/// Whether a logged line is the line a client sent (the log keeps its first 256 bytes).
fn same_line(logged: &str, sent: &str) -> bool {
    logged == sent
        || (sent.len() > LOGGED_LINE_BYTES_MAX
            && sent.starts_with(logged.trim_end_matches('\u{fffd}')))
}

/// SPEC section 2's time difference text for `nanos`: sign, seconds, 9 fraction digits.
pub fn time_diff_text(nanos: i128) -> String {
    let sign = if nanos < 0 { '-' } else { '+' };
    let magnitude = nanos.unsigned_abs();
    let per_second = NANOS_PER_SECOND.unsigned_abs();
    format!(
        "{sign}{}.{:09}",
        magnitude / per_second,
        magnitude % per_second
    )
}

/// A time difference `[+-]SECONDS.NNNNNNNNN` in nanoseconds; `None` if it has another shape
/// (that is `well_formed`'s to report) or does not fit `i128`.
pub fn time_diff_nanos(text: &str) -> Option<i128> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => return None,
    };
    let (secs, frac) = rest.split_once('.')?;
    let digits = |d: &str| {
        (!d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
        d.bytes().try_fold(0_i128, |acc, b| {
            acc.checked_mul(10)?.checked_add(i128::from(b - b'0'))
        })
    };
    if frac.len() != 9 {
        return None;
    }
    let nanos = digits(secs)?
        .checked_mul(NANOS_PER_SECOND)?
        .checked_add(digits(frac)?)?;
    Some(if negative { -nanos } else { nanos })
}
