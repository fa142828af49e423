//! The herd server: a TCP proxy-herd node (docs/protocol.md) as a library the binary and the
//! simulation both run.
//!
//! Module map:
//! - [`protocol`]: the wire messages (parse and print), pure.
//! - [`store`]: the client table and its total order.
//! - [`digest`]: a table's digest per bucket, so a full catch-up sends only what differs.
//! - [`durable`]: the optional durable store: checksummed log, group commit, snapshots,
//!   recovery.
//! - [`line`]: bounded line reading.
//! - [`commands`]: what a client's IAMAT and WHATSAT do.
//! - [`server`]: the accept loop and per-connection handler.
//! - [`listen`]: the next connection a listener accepts, until a stop (both ports' loops).
//! - [`replies`]: the replies a connection owes, in order, each waiting for its record's sync.
//! - [`admin`]: the admin address: `/metrics`, `/healthz`, `/readyz`.
//! - [`links`]: links to neighbours: handshake, streaming from the change sequence, classic.
//! - [`places`]: the Places upstream (legacy, New, offline).
//! - [`config`]: the herd file and every limit.
//! - [`certs`]: the herd's CA and each server's certificate (rcgen), made or read.
//! - [`tls_provider`]: the seeded rustls provider the simulation hands its servers.
//! - [`net`]: the seam: network, clock, disk and [`net::Env`] handed in by the caller.
//! - [`log_time`]: the log lines' timestamps, written and read.
//! - [`events`]: the trace events, typed: emitted, written to logs and read back.
//! - [`metrics`]: what an operator scrapes, counted where the trace events are emitted.
//! - [`state`], [`backoff`], [`shutdown`]: the shared state, reconnect delays, stopping.
//! - [`span`]: which server an event belongs to, for layers that sort events by server.
//! - [`buggify`]: named fault points a simulated run may turn on; off in the binary.
//! - [`canary`]: planted bugs a simulated run may choose, behind the `canaries` feature.
//!
//! The entry point is [`run`]. It never reads the system clock, OS randomness or real sockets
//! directly, and spawns no threads, so the simulation can run it unchanged.

pub mod admin;
pub mod backoff;
pub mod buggify;
pub mod canary;
pub mod certs;
pub mod commands;
pub mod config;
pub mod digest;
pub mod durable;
pub mod events;
pub mod line;
pub mod links;
pub mod listen;
pub mod log_time;
pub mod metrics;
pub mod net;
pub mod places;
pub mod protocol;
pub mod replies;
pub mod server;
pub mod shutdown;
pub mod span;
pub mod state;
pub mod store;
pub mod tls_provider;

use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;

use crate::config::Herd;
use crate::net::Env;

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
    /// A write or sync of the durable store failed while running: the server stopped rather
    /// than acknowledge what it could not keep (the error is in the log, `store_failed`).
    #[error("{name} stopped: its durable store failed (see store_failed in its log)")]
    StoreFailed { name: String },
    #[error("{name} cannot open its durable store: {source}")]
    Store {
        name: String,
        source: std::io::Error,
    },
    #[error("{name} cannot set up TLS for its links: {message}")]
    Tls { name: String, message: String },
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

/// Reads the durable store on `disk` back into `shared`: table, change sequence, resume points
/// and, when the files were whole, the life they belong to. `true` when the server starts a
/// fresh life (no files, or a cut), which its first snapshot must name.
async fn open_durable(
    shared: state::Shared,
    disk: &Arc<dyn net::Disk>,
    limits: &config::Limits,
) -> std::io::Result<(state::Shared, bool)> {
    let empty = store::Store::with_bounds(limits.clients_max, limits.table_bytes_max);
    let recovered = durable::recover::recover(&**disk, empty).await?;
    let fresh_life = recovered.epoch.is_none();
    let head = recovered.store.head();
    let queue_bytes_max = limits.durable_queue_bytes_max;
    let store = durable::Durable::new(disk.clone(), recovered.generation, head, queue_bytes_max);
    Ok((shared.with_durable(store, recovered), fresh_life))
}

/// This server's shared state: its table recovered from its data directory, if it has one
/// (a fresh life starts with a snapshot naming it).
async fn open_shared(
    herd: &Herd,
    name: &str,
    env: &Env,
) -> Result<Arc<state::Shared>, ServerError> {
    let mut shared =
        state::Shared::new(herd, name, env.clock.clone(), env.places.clone(), env.seed);
    shared.buggify = env.buggify.clone();
    shared.canaries = canary::Canaries::new(env.canary);
    if let Some(setup) = &env.tls {
        let tls = links::tls::LinkTls::new(setup, env.clock.clone());
        shared.tls = Some(tls.map_err(|e| ServerError::Tls {
            name: name.to_string(),
            message: e.to_string(),
        })?);
    }
    let store_error = |source| ServerError::Store {
        name: name.to_string(),
        source,
    };
    let mut fresh_life = false;
    if let Some(disk) = &env.disk {
        (shared, fresh_life) = open_durable(shared, disk, &herd.limits)
            .await
            .map_err(store_error)?;
    }
    shared.classic_addresses = classic_addresses(&shared.neighbours, &env.net).await;
    let shared = Arc::new(shared);
    if fresh_life {
        // A new life starts with a snapshot naming it, which also drops whatever was cut.
        durable::compact(&*shared).await.map_err(store_error)?;
    }
    if shared.tls.is_none() && shared.neighbours.iter().any(|n| !n.classic) {
        events::Event::LinksUnauthenticated.emit();
    }
    Ok(shared)
}

/// The addresses of the classic neighbours' hosts, the only sources of classic lines. A host
/// that does not resolve adds none (its lines are refused, each one logged), said at start.
async fn classic_addresses(
    neighbours: &[config::Neighbour],
    net: &Arc<dyn net::Network>,
) -> std::collections::BTreeSet<std::net::IpAddr> {
    let mut addresses = std::collections::BTreeSet::new();
    for neighbour in neighbours.iter().filter(|n| n.classic) {
        match net.resolve(&neighbour.host).await {
            Ok(ips) => addresses.extend(ips.into_iter().map(|ip| ip.to_canonical())),
            Err(e) => tracing::warn!(
                neighbour = %neighbour.name,
                host = %neighbour.host,
                error = %e,
                "classic neighbour's host does not resolve: its lines will be refused"
            ),
        }
    }
    addresses
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
    let listener = env
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

    // Links from persistent neighbours arrive on a port of their own.
    let persistent = herd.neighbours(name).iter().any(|n| !n.classic);
    let peer_port = spec.peer_port().filter(|_| persistent);
    let peer_listener = match peer_port {
        Some(port) => {
            Some(
                env.net
                    .bind(&spec.host, port)
                    .await
                    .map_err(|source| ServerError::Bind {
                        name: name.to_string(),
                        host: spec.host.clone(),
                        port,
                        source,
                    })?,
            )
        }
        None => None,
    };

    let shared = open_shared(&herd, name, &env).await?;
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
    let (writer_trigger, writer_stop) = shutdown::channel();
    let writer = shared.durable().is_some().then(|| {
        let source: Arc<dyn durable::Source> = shared.clone();
        tokio::spawn(durable::run_writer(source, writer_stop).in_current_span())
    });
    // Links stop after the connections: every record a client was answered for is in the
    // table before they drain it to the neighbours.
    let (links_trigger, links_stop) = shutdown::channel();
    let mut links = links::spawn_all(&shared, &env.net, &links_stop);
    let grace = herd.limits.stop_grace;

    let conns = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let clients = server::accept_loop(listener, shared.clone(), stop.clone(), grace, conns.clone());
    let peers = async {
        if let Some(listener) = peer_listener {
            let loop_ =
                links::accept::accept_loop(listener, shared.clone(), stop.clone(), grace, conns);
            loop_.await
        }
    };
    let accepting = async {
        tokio::join!(clients, peers);
    };
    tokio::pin!(accepting);
    tokio::pin!(shutdown);
    let store_failed = async {
        match shared.durable() {
            Some(durable) => durable.until_failed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = &mut accepting => {}
        reason = async {
            tokio::select! {
                _ = &mut shutdown => "requested",
                _ = store_failed => "store failed",
            }
        } => {
            events::Event::Shutdown {
                reason: reason.into(),
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
            // the table the links drain and the log gets below.
            accepting.await;
        }
    }
    trigger.fire();
    // The writer syncs what is queued, so links can send it.
    writer_trigger.fire();
    if let Some(writer) = writer {
        let _ = tokio::time::timeout(grace, writer).await;
    }
    links_trigger.fire();
    // Each link bounds its own drain by `stop_grace`; this bounds the rest (a dial, a
    // handshake) the same.
    let _ = tokio::time::timeout(grace + grace, async {
        while links.join_next().await.is_some() {}
    })
    .await;
    let table: Vec<protocol::Record> = shared.store().records();
    for record in table {
        events::Event::TableRecord { record }.emit();
    }
    match shared.durable() {
        Some(durable) if durable.synced().failed => Err(ServerError::StoreFailed {
            name: name.to_string(),
        }),
        _ => Ok(()),
    }
}
