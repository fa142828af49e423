//! What a client's commands do: an IAMAT builds its record, checks the abuse bounds and
//! stores it; a WHATSAT finds the record (waiting a little for a flood) and asks Places.
//! Each returns the whole reply text, which the handler writes in one write.

use crate::durable::Room;
use crate::protocol::{Location, Radius, Record, TimeDiff, Timestamp, invalid_reply};
use crate::state::{Shared, Via};
use crate::store::Outcome;

/// The reply to `IAMAT client location timestamp` (the command's line is `line`), stored
/// without waiting for room in a durable store's queue (for a server without one).
pub fn iamat(
    shared: &Shared,
    client: String,
    location: Location,
    timestamp: Timestamp,
    line: &[u8],
) -> String {
    match iamat_record(shared, client, location, timestamp, line) {
        Ok(record) => iamat_store(shared, record, line, None).0,
        Err(invalid) => invalid,
    }
}

/// [`iamat`] as a connection runs it: with a durable store it first waits for room in the
/// write queue (`durable_queue_bytes_max`). For an `AT` reply it also gives the change it
/// acknowledges (see [`Shared::ingest_held`]): the reply may go once that change is synced.
pub async fn iamat_held(
    shared: &Shared,
    client: String,
    location: Location,
    timestamp: Timestamp,
    line: &[u8],
) -> (String, Option<u64>) {
    let record = match iamat_record(shared, client, location, timestamp, line) {
        Ok(record) => record,
        Err(invalid) => return (invalid, None),
    };
    match shared.room_for(&record).await {
        Some(Room::Failed) => (format!("{}\n", invalid_reply(line)), None),
        room => iamat_store(shared, record, line, room),
    }
}

/// The record an IAMAT makes, or its `?` reply when it breaks a bound.
fn iamat_record(
    shared: &Shared,
    client: String,
    location: Location,
    timestamp: Timestamp,
    line: &[u8],
) -> Result<Record, String> {
    let invalid = || format!("{}\n", invalid_reply(line));
    let limits = &shared.limits;
    if client.len() > limits.client_id_bytes_max
        || shared.text_too_long(&location, &timestamp)
        || shared.too_far_ahead(timestamp.nanos())
    {
        return Err(invalid());
    }
    let received = shared.clock.now_nanos();
    let record = Record {
        origin: shared.name.clone(),
        time_diff: TimeDiff::between(received, &timestamp),
        client,
        location,
        timestamp,
    };
    // Every stored record must cross every link: its AT line fits the line limit.
    if record.to_string().len() + 1 > limits.line_bytes_max {
        return Err(invalid());
    }
    Ok(record)
}

/// Stores an IAMAT's record: its `AT` reply and the change it acknowledges, or `?`.
fn iamat_store(
    shared: &Shared,
    record: Record,
    line: &[u8],
    room: Option<Room>,
) -> (String, Option<u64>) {
    let reply = format!("{record}\n");
    match shared.ingest_in(record, Via::Client, room) {
        (Outcome::TableFull, _) | (_, None) => (format!("{}\n", invalid_reply(line)), None),
        (_, held) => (reply, held),
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
    let answer = shared
        .places
        .nearby_within(&shared.places_budget, &record.location, radius, bound)
        .await;
    let outcome = if shared.places.is_offline() {
        "offline"
    } else {
        answer.spent.spared().unwrap_or("called")
    };
    shared
        .metrics
        .places(outcome, &answer.status, answer.latency);
    format!("{record}\n{}", answer.text)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::config::Herd;
    use crate::line::{Line, LineReader};
    use crate::net::FixedClock;
    use crate::places::PlacesClient;
    use crate::protocol::Command;

    /// One server with a small line limit, so long fields reach it.
    fn shared(line_bytes_max: usize, client_id_bytes_max: usize) -> Shared {
        let mut herd = Herd::default_herd();
        herd.limits.line_bytes_max = line_bytes_max;
        herd.limits.client_id_bytes_max = client_id_bytes_max;
        herd.validate().expect("valid limits");
        Shared::new(
            &herd,
            "Bailey",
            Arc::new(FixedClock),
            PlacesClient::offline(),
            1,
        )
    }

    /// The AT lines a neighbour with the same limits reads from `bytes`.
    fn read_by_a_neighbour(bytes: &[u8], line_bytes_max: usize) -> Vec<Line> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut reader = LineReader::new(bytes, line_bytes_max);
            let mut lines = Vec::new();
            while let Ok(Some(line)) = reader.read_line().await {
                lines.push(line);
            }
            lines
        })
    }

    /// Padding cannot grow a record: 30 KiB of leading zeros fit the line limit and parse to
    /// a valid location or timestamp, but over their byte bounds they are answered `?` and
    /// nothing is stored (nor flooded, nor logged as a record).
    #[test]
    fn padded_location_or_timestamp_is_refused_and_not_stored() {
        let shared = shared(64 * 1024, 1024);
        let zeros = "0".repeat(30 * 1024);
        let lines = [
            format!("IAMAT kiwi +{zeros}1.5-2.25 1700000000"),
            format!("IAMAT kiwi +1.5-2.25 {zeros}1700000000"),
        ];
        for line in lines {
            let Ok(Command::IAmAt {
                client,
                location,
                timestamp,
            }) = Command::parse_line(line.as_bytes())
            else {
                panic!("a padded IAMAT still parses");
            };
            let reply = iamat(&shared, client, location, timestamp, line.as_bytes());
            assert!(reply.starts_with("? IAMAT kiwi"), "{}", &reply[..80]);
            assert!(shared.store().get("kiwi").is_none(), "refused but stored");
        }
        let line = "IAMAT kiwi +1.5-2.25 1700000000";
        let Ok(Command::IAmAt {
            client,
            location,
            timestamp,
        }) = Command::parse_line(line.as_bytes())
        else {
            panic!("a plain IAMAT parses");
        };
        let reply = iamat(&shared, client, location, timestamp, line.as_bytes());
        assert!(reply.starts_with("AT Bailey"), "{reply}");
    }

    proptest! {
        /// Whatever IAMAT the origin accepts, its AT line crosses every link whole: it fits the
        /// line limit a neighbour reads with, and parses back to the stored record.
        #[test]
        fn every_record_accepted_at_its_origin_crosses_every_link(
            id_len in 1usize..600,
            lat_zeros in 0usize..300,
            lng_zeros in 0usize..300,
            fraction in "[0-9]{0,9}",
        ) {
            let line_bytes_max = 512;
            let shared = shared(line_bytes_max, 300);
            let client = "c".repeat(id_len);
            let location = format!("+{}1.5-{}2.25", "0".repeat(lat_zeros), "0".repeat(lng_zeros));
            let timestamp = if fraction.is_empty() {
                "1700000000".to_string()
            } else {
                format!("1700000000.{fraction}")
            };
            let line = format!("IAMAT {client} {location} {timestamp}");
            let Ok(Command::IAmAt { client, location, timestamp }) = Command::parse_line(line.as_bytes()) else {
                return Ok(());
            };
            let reply = iamat(&shared, client.clone(), location, timestamp, line.as_bytes());
            if reply.starts_with('?') {
                prop_assert!(shared.store().get(&client).is_none(), "refused but stored");
                return Ok(());
            }
            let stored = shared.store().get(&client).expect("accepted means stored");
            let lines = read_by_a_neighbour(reply.as_bytes(), line_bytes_max);
            prop_assert_eq!(lines.len(), 1);
            let Line::Complete(bytes) = &lines[0] else {
                return Err(TestCaseError::fail(format!("{} bytes over the limit", reply.len())));
            };
            prop_assert_eq!(Command::parse_line(bytes), Ok(Command::At(stored)));
        }
    }
}
