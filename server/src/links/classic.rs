//! The classic dialect towards a classic neighbour: a fresh connection per record, nothing
//! but 6-field AT lines, nothing resumed; a record that cannot be delivered is lost, as in the
//! classic herd. The link follows the table's change sequence like any other; and when the
//! classic neighbour sent us a stale record, it gets our newer one again. A record the
//! neighbour would refuse (its own, or one of a neighbour of it that authenticates) is skipped.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;

use crate::config::Neighbour;
use crate::events::{Direction, Event, LinkEnd};
use crate::net::Network;
use crate::protocol::{Command, Record};
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
        let record = match shared.take_classic_resend(&peer) {
            Some(record) => Some(record),
            None => {
                let batch = {
                    let store = shared.store();
                    store.changes_upto(cursor, shared.stream_head(&store), 1, |_| false)
                };
                cursor = batch.reached;
                // The held line parses (it was parsed when stored); a classic link carries one
                // record per connection, so unpacking it here costs little.
                match Command::parse_line(batch.lines.as_bytes()) {
                    Ok(Command::At(record)) => Some(record),
                    _ => None,
                }
            }
        };
        let Some(record) = record else {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = shutdown.wait() => return,
            }
            continue;
        };
        // Its own records, and those of its neighbours that authenticate, reach the neighbour
        // over their own links: it would refuse them here.
        if shared.classic_neighbour_refuses(&peer, &record.origin) {
            continue;
        }
        Event::FloodSent {
            peer: peer.clone(),
            record: record.clone(),
        }
        .emit();
        shared.metrics.records_sent(&peer, 1);
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
                    Event::PeerUp {
                        peer: peer.clone(),
                        direction: Direction::Outbound,
                    }
                    .emit();
                    shared.metrics.link_up(&peer, Direction::Outbound, true);
                }
                reachable = Some(true);
            }
            Ok(Err(e)) => lost(&peer, &record, LinkEnd::Io(e.to_string()), &mut reachable),
            Err(_) => lost(&peer, &record, LinkEnd::ConnectTimedOut, &mut reachable),
        }
        if reachable == Some(false) {
            shared.metrics.link_up(&peer, Direction::Outbound, false);
        }
    }
}

/// A record could not be delivered: the link is down (said once) and the record is lost.
fn lost(peer: &str, record: &Record, error: LinkEnd, reachable: &mut Option<bool>) {
    let text = error.to_string();
    if *reachable != Some(false) {
        Event::PeerDown {
            peer: peer.to_string(),
            direction: Direction::Outbound,
            reason: error,
        }
        .emit();
    }
    Event::PeerConnectFailed {
        peer: peer.to_string(),
        error: text,
        retry_ms: 0,
        client: Some(record.client.clone()),
    }
    .emit();
    *reachable = Some(false);
}
