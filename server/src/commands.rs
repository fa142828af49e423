//! What a client's commands do: an IAMAT builds its record, checks the abuse bounds and
//! stores it; a WHATSAT finds the record (waiting a little for a flood) and asks Places.
//! Each returns the whole reply text, which the handler writes in one write.

use crate::protocol::{Location, Radius, Record, TimeDiff, Timestamp, invalid_reply};
use crate::state::{Shared, Source};
use crate::store::Outcome;

/// The reply to `IAMAT client location timestamp` (the command's line is `line`).
pub fn iamat(
    shared: &Shared,
    client: String,
    location: Location,
    timestamp: Timestamp,
    line: &[u8],
) -> String {
    let invalid = || format!("{}\n", invalid_reply(line));
    let limits = &shared.limits;
    if client.len() > limits.client_id_bytes_max || shared.too_far_ahead(timestamp.nanos()) {
        return invalid();
    }
    let received = shared.clock.now_nanos();
    let record = Record {
        origin: shared.name.clone(),
        time_diff: TimeDiff::between(received, &timestamp),
        client,
        location,
        timestamp,
    };
    let reply = format!("{record}\n");
    // Every stored record must cross every link: its AT line fits the line limit.
    if reply.len() > limits.line_bytes_max {
        return invalid();
    }
    match shared.ingest(record, Source::Client) {
        Outcome::TableFull => invalid(),
        _ => reply,
    }
}

/// The reply to `WHATSAT client radius bound`: the stored AT line, then the Places JSON.
pub async fn whatsat(
    shared: &Shared,
    client: &str,
    radius: &Radius,
    bound: usize,
    line: &[u8],
) -> String {
    let Some(record) = shared.record_for(client).await else {
        return format!("{}\n", invalid_reply(line));
    };
    let json = shared.places.nearby(&record.location, radius, bound).await;
    format!("{record}\n{json}")
}
