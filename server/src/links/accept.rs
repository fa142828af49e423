//! The peer port's accept loop: every connection there is a pending link handshake from its
//! first byte ([`super::admission`]), and its first line must be `PEER <name> <epoch>` from a
//! persistent neighbour; anything else is answered `?` and the connection ends. Nothing a
//! client does on the client port (`connections_max`, idle connections) reaches this port.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;

use crate::events::{ConnectionEnd, Event, LinkRefusal};
use crate::line::{LineReader, shown, write_lines};
use crate::listen::next_connection;
use crate::net::{BoxStream, Listener};
use crate::protocol::{Command, invalid_reply};
use crate::shutdown::Shutdown;
use crate::state::Shared;

use super::admission::{Admission, Pending};
use super::inbound;

/// Accepts links on the peer port until shutdown, then waits up to `grace` for them to end.
/// `conns` numbers connections, shared with the client port's loop.
pub async fn accept_loop(
    mut listener: Box<dyn Listener>,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
    grace: Duration,
    conns: Arc<AtomicU64>,
) {
    let admission = Arc::new(Admission::new(
        shared.limits.peer_links_max,
        shared.limits.peer_handshakes_max,
    ));
    let mut handlers = JoinSet::new();
    while let Some((stream, remote)) = next_connection(
        listener.as_mut(),
        &mut handlers,
        &mut shutdown,
        "accept failed on the peer port",
    )
    .await
    {
        let conn = conns.fetch_add(1, Ordering::Relaxed) + 1;
        let pending = admission.begin(conn);
        Event::ConnectionOpened {
            conn,
            remote: remote.to_string(),
        }
        .emit();
        shared.metrics.connection_opened();
        let (shared, admission, mut shutdown) =
            (shared.clone(), admission.clone(), shutdown.clone());
        handlers.spawn(tracing::Instrument::in_current_span(async move {
            let reason = serve(&shared, conn, stream, pending, &admission, &mut shutdown).await;
            Event::ConnectionClosed { conn, reason }.emit();
            shared.metrics.connection_closed();
        }));
    }
    // Closed before the handlers' grace, as the client port is (`server::accept_loop`).
    drop(listener);
    let _ = tokio::time::timeout(grace, async {
        while handlers.join_next().await.is_some() {}
    })
    .await;
}

/// One connection on the peer port: its `PEER` line within `peer_handshake_timeout`, then the
/// link ([`inbound::serve`]).
async fn serve(
    shared: &Shared,
    conn: u64,
    stream: BoxStream,
    pending: Pending,
    admission: &Admission,
    shutdown: &mut Shutdown,
) -> ConnectionEnd {
    let limits = &shared.limits;
    let (read_half, mut writer) = tokio::io::split(stream);
    let mut reader = LineReader::new(read_half, limits.line_bytes_max);
    let deadline = tokio::time::Instant::now() + limits.peer_handshake_timeout;
    let bytes = match inbound::handshake_line(&mut reader, deadline, &pending, shutdown).await {
        Ok(bytes) => bytes,
        Err(end) => return end,
    };
    Event::ClientLine {
        conn,
        line: shown(&bytes),
    }
    .emit();
    match Command::parse_line(&bytes) {
        Ok(Command::Peer { name, epoch }) if shared.is_persistent_neighbour(&name) => {
            let handshake = inbound::Handshake { pending, admission };
            let halves = (reader, writer);
            inbound::serve(
                shared,
                &name,
                epoch,
                conn,
                handshake,
                halves,
                shutdown,
                || {},
            )
            .await
        }
        parsed => {
            drop(pending);
            let peer = match parsed {
                Ok(Command::Peer { name, .. }) => name,
                _ => String::new(),
            };
            inbound::refuse(shared, conn, &peer, LinkRefusal::NoValidProof, &bytes);
            let reply = format!("{}\n", invalid_reply(&bytes));
            match write_lines(&mut writer, reply.as_bytes(), limits.client_write_timeout).await {
                Ok(()) => ConnectionEnd::LinkWithoutProof,
                Err(reason) => reason.into(),
            }
        }
    }
}
