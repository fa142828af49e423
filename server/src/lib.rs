//! The herd server: a TCP proxy-herd node (SPEC.md) as a library the binary and the
//! simulation both run.
//!
//! Module map:
//! - [`protocol`]: the wire messages (parse and print), pure.
//! - [`store`]: the client table and its total order.
//! - [`digest`]: a table's digest per bucket, so a full catch-up sends only what differs.
//! - [`line`]: bounded line reading.
//! - [`commands`]: what a client's IAMAT and WHATSAT do.
//! - [`server`]: the accept loop and per-connection handler.
//! - [`admin`]: the admin address: `/metrics`, `/healthz`, `/readyz`.
//! - [`links`]: links to neighbours: handshake, streaming from the change sequence, classic.
//! - [`places`]: the Places upstream (legacy, New, offline).
//! - [`config`]: the herd file and every limit.
//! - [`net`]: the seam: network, clock and [`net::Env`] handed in by the caller.
//! - [`log_time`]: the log lines' timestamps, written and read.
//! - [`events`]: the trace events, typed: emitted, written to logs and read back.
//! - [`metrics`]: what an operator scrapes, counted where the trace events are emitted.
//! - [`state`], [`backoff`], [`shutdown`]: the shared state, reconnect delays, stopping.
//! - [`span`]: which server an event belongs to, for layers that sort events by server.
//!
//! The entry point is [`run`]. It never reads the system clock, OS randomness or real sockets
//! directly, and spawns no threads, so the simulation can run it unchanged.

pub mod admin;
pub mod backoff;
pub mod commands;
pub mod config;
pub mod digest;
pub mod events;
pub mod line;
pub mod links;
pub mod log_time;
pub mod metrics;
pub mod net;
pub mod places;
pub mod protocol;
pub mod server;
pub mod shutdown;
pub mod span;
pub mod state;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::config::Herd;
use crate::net::Env;

/// How long a stopping server waits for its connection handlers (their current reply) and
/// then for its links to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Why a server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0} is not a server of this herd")]
    UnknownServer(String),
    #[error("{name} cannot listen on {host}:{port}: {source}")]
    Bind {
        name: String,
        host: String,
        port: u16,
        source: std::io::Error,
    },
}

/// Runs server `name` of `herd` until `shutdown` resolves.
///
/// Everything that differs between the real world and the simulation arrives in `env`.
pub async fn run(
    herd: Arc<Herd>,
    name: &str,
    env: Env,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let span = tracing::info_span!(span::SERVER_SPAN, name = %name);
    run_inner(herd, name, env, shutdown).instrument(span).await
}

async fn run_inner(
    herd: Arc<Herd>,
    name: &str,
    env: Env,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let spec = herd
        .server(name)
        .ok_or_else(|| ServerError::UnknownServer(name.to_string()))?;
    let mut listener = env
        .net
        .bind(&spec.host, spec.port)
        .await
        .map_err(|source| ServerError::Bind {
            name: name.to_string(),
            host: spec.host.clone(),
            port: spec.port,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| format!("{}:{}", spec.host, spec.port));
    events::Event::Listening { addr }.emit();

    let shared = Arc::new(state::Shared::new(
        &herd,
        name,
        env.clock.clone(),
        env.places.clone(),
        env.seed,
    ));
    if shared.secret.is_none() && shared.neighbours.iter().any(|n| !n.classic) {
        events::Event::LinksUnauthenticated.emit();
    }
    let (trigger, stop) = shutdown::channel();
    if let Some(admin_port) = spec.admin_port {
        let admin = env
            .net
            .bind(&spec.admin_host, admin_port)
            .await
            .map_err(|source| ServerError::Bind {
                name: name.to_string(),
                host: spec.admin_host.clone(),
                port: admin_port,
                source,
            })?;
        tokio::spawn(admin::serve(admin, shared.clone(), stop.clone()).in_current_span());
    }
    let mut links = links::spawn_all(&shared, &env.net, &stop);

    let accepting = server::accept_loop(
        listener.as_mut(),
        shared.clone(),
        stop.clone(),
        SHUTDOWN_GRACE,
    );
    tokio::pin!(accepting);
    tokio::pin!(shutdown);
    tokio::select! {
        _ = &mut accepting => {}
        _ = &mut shutdown => {
            events::Event::Shutdown {
                reason: "requested".into(),
            }
            .emit();
            // What a scrape would show as the stop is asked for, before links go down, so
            // the simulation can hold the counters to the trace.
            events::Event::Metrics {
                text: shared.scrape(),
            }
            .emit();
            trigger.fire();
            // The handlers finish their current reply, so every acknowledged record is in
            // the table logged below.
            accepting.await;
        }
    }
    trigger.fire();
    let table: Vec<protocol::Record> = shared.store().records();
    for record in table {
        events::Event::TableRecord { record }.emit();
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while links.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}
