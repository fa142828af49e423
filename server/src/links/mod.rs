//! Links to neighbours: the dialling side streams the table's change sequence, the accepting
//! side stores what arrives, over mutually authenticated TLS, on the accepter's peer port
//! (`peer_port` in the herd file; classic neighbours use the client port).
//!
//! A persistent link is two TCP connections, one per direction: each server dials every
//! neighbour and only *sends* records on the connection it dialled, and only *receives* on the
//! ones it accepted. The handshake (docs/protocol.md §8):
//!
//! ```text
//! dialler  -> PEER <name> <epoch>
//! accepter -> HELLO                       TLS starts next, nothing more is said in clear
//!             TLS 1.3: both certificates chain to the herd's CA; the accepter's names the
//!             neighbour dialled, the dialler's the name its PEER line claimed
//! dialler  -> AUTH <head> <epoch>         the last change the catch-up covers, and the
//!                                         epoch again: the accepter refuses the link
//!                                         unless it is the one PEER said in clear
//! accepter -> LINKED <epoch> <seq> <digest>
//!                                         its life; seq: what it holds of the dialler's
//!                                         epoch; `-`, or when seq is 0 its table's digest
//!                                         (or `? AUTH ...`, and the connection ends)
//! dialler  -> AT ... lines, MARK <seq> after each batch that sends some, PING <n>
//!             (MARK <cursor> before the PING when the cursor moved since the last MARK)
//! accepter -> PONG <n>
//! ```
//!
//! A herd run without TLS material (no certificates) speaks the same lines in clear, and every
//! server with a persistent neighbour warns that its links are unauthenticated.
//!
//! The dialler sends every change after `seq`; when `seq` is 0 (the neighbour lost its memory
//! or never knew this life) it sends, up to `head`, the records in the digest buckets where
//! its table differs ([`crate::digest`]). While one whole-table catch-up comes in, the next
//! waits for it (bounded by [`crate::config::Limits::fill_wait`]), so a restarted server is
//! refilled once. Then new changes stream as they are stored, in batches of `link_batch_max`.
//! A slow neighbour makes its link lag; nothing is dropped and nothing is resent.
//! `PING`/`PONG` find connections a partition left half-dead.
//!
//! - [`accept`]: the peer port's accept loop: links only, apart from the client port.
//! - [`admission`]: link slots only for taken handshakes; pending ones bounded, oldest evicted.
//! - [`tls`]: the TLS configurations and the name checks, over the seam's streams.
//! - [`outbound`]: the dialling side of a persistent link.
//! - [`inbound`]: the accepting side, entered by the peer port's handler on `PEER`.
//! - [`classic`]: the classic dialect, one connection per record, nothing resumed.

pub mod accept;
pub mod admission;
pub mod classic;
pub mod inbound;
pub mod outbound;
pub mod tls;

use std::sync::Arc;

use tokio::task::JoinSet;
use tracing::Instrument;

use crate::net::Network;
use crate::shutdown::Shutdown;
use crate::state::Shared;

/// Starts one task per neighbour: persistent or classic, as the herd file says.
pub fn spawn_all(shared: &Arc<Shared>, net: &Arc<dyn Network>, shutdown: &Shutdown) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    for neighbour in shared.neighbours.clone() {
        let (shared, net, shutdown) = (shared.clone(), net.clone(), shutdown.clone());
        let task = async move {
            if neighbour.classic {
                classic::run(neighbour, shared, net, shutdown).await
            } else {
                outbound::run(neighbour, shared, net, shutdown).await
            }
        };
        tasks.spawn(task.in_current_span());
    }
    tasks
}
