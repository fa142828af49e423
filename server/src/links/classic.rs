//! The classic dialect towards a classic neighbour: a fresh connection per record, nothing
//! but 6-field AT lines, nothing resumed; a record that cannot be delivered is lost, as in the
//! classic herd. The link follows the table's change sequence like any other.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;

use crate::config::Neighbour;
use crate::events;
use crate::net::Network;
use crate::protocol::Record;
use crate::shutdown::Shutdown;
use crate::state::Shared;

/// Sends each change stored after the link starts, one connection each.
pub async fn run(
    neighbour: Neighbour,
    shared: Arc<Shared>,
    net: Arc<dyn Network>,
    mut shutdown: Shutdown,
) {
    let peer = neighbour.name.clone();
    let mut changes = shared.watch_changes();
    let mut cursor = *changes.borrow_and_update();
    let mut reachable: Option<bool> = None;
    loop {
        let batch = shared.store().changes_after(cursor, 1, None);
        cursor = batch.reached;
        let Some((_, record)) = batch.records.into_iter().next() else {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = shutdown.wait() => return,
            }
            continue;
        };
        tracing::info!(
            peer = %peer,
            client = %record.client,
            origin = %record.origin,
            timestamp = %record.timestamp,
            location = %record.location,
            time_diff = %record.time_diff,
            "{}",
            events::FLOOD_SENT
        );
        let line = format!("{record}\n");
        let send = async {
            let mut stream = net.connect(&neighbour.host, neighbour.port).await?;
            stream.write_all(line.as_bytes()).await?;
            stream.shutdown().await
        };
        let sent = tokio::select! {
            sent = tokio::time::timeout(shared.limits.peer_connect_timeout, send) => sent,
            _ = shutdown.wait() => return,
        };
        match sent {
            Ok(Ok(())) => {
                if reachable != Some(true) {
                    tracing::info!(peer = %peer, direction = "outbound", "{}", events::PEER_UP);
                }
                reachable = Some(true);
            }
            Ok(Err(e)) => lost(&peer, &record, &e.to_string(), &mut reachable),
            Err(_) => lost(&peer, &record, "connect timed out", &mut reachable),
        }
    }
}

fn lost(peer: &str, record: &Record, error: &str, reachable: &mut Option<bool>) {
    if *reachable != Some(false) {
        tracing::info!(
            peer,
            direction = "outbound",
            reason = error,
            "{}",
            events::PEER_DOWN
        );
    }
    tracing::info!(peer, client = %record.client, error, retry_ms = 0u64, "{}", events::PEER_CONNECT_FAILED);
    *reachable = Some(false);
}
