//! Links to neighbours: the dialling side streams the table's change sequence, the accepting
//! side stores what arrives, and each proves the herd's secret to the other first.
//!
//! A persistent link is two TCP connections, one per direction: each server dials every
//! neighbour and only *sends* records on the connection it dialled, and only *receives* on the
//! ones it accepted. The handshake (docs/protocol.md §8):
//!
//! ```text
//! dialler  -> PEER <name> <epoch>
//! accepter -> HELLO <nonce>                   a fresh challenge, nothing more
//! dialler  -> AUTH <hmac> <head> <challenge>  HMAC-SHA256(secret, names, epoch, nonce); the
//!                                             last change the catch-up covers; its own
//!                                             fresh challenge
//! accepter -> LINKED <epoch> <seq> <digest> <answer>
//!                                             its life; seq: what it holds of the dialler's
//!                                             epoch; `-`, or when seq is 0 its table's
//!                                             digest; HMAC-SHA256 answer to the challenge,
//!                                             checked before anything is sent
//!                                             (or `? AUTH ...`, and nothing is stored)
//! dialler  -> AT ... lines, MARK <seq> after each batch that sends some, PING <n>
//!             (MARK <cursor> before the PING when the cursor moved since the last MARK)
//! accepter -> PONG <n>
//! ```
//!
//! The dialler sends every change after `seq`; when `seq` is 0 (the neighbour lost its memory
//! or never knew this life) it sends, up to `head`, the records in the digest buckets where
//! its table differs ([`crate::digest`]). While one whole-table catch-up comes in, the next
//! waits for it (bounded by [`crate::config::Limits::fill_wait`]), so a restarted server is
//! refilled once. Then new changes stream as they are stored, in batches of `link_batch_max`.
//! A slow neighbour makes its link lag; nothing is dropped and nothing is resent.
//! `PING`/`PONG` find connections a partition left half-dead.
//!
//! - [`admission`]: link slots only for proven handshakes; pending ones bounded, oldest evicted.
//! - [`handshake`]: challenges and proofs (HMAC-SHA256), no I/O.
//! - [`outbound`]: the dialling side of a persistent link.
//! - [`inbound`]: the accepting side, entered by the connection handler on `PEER`.
//! - [`classic`]: the classic dialect, one connection per record, nothing resumed.

pub mod admission;
pub mod classic;
pub mod handshake;
pub mod inbound;
pub mod outbound;

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
