//! The admin address: `/metrics` (Prometheus text), `/healthz` and `/readyz`, over HTTP/1.
//!
//! Off unless the herd file gives a server an `admin_port`; then it listens on `admin_host`
//! (loopback unless the operator says otherwise: the scrape shows the herd's shape and load,
//! which is nobody else's business). It is bound through the seam ([`crate::net::Network`]),
//! so the simulation can run it without a real port.
//!
//! - `/healthz`: 200 while the server runs (its client port is bound and accepting).
//! - `/readyz`: 200 when the server serves clients and, if it has neighbours, is linked to at
//!   least one or has been linked to none for longer than `ready_alone_after` (a whole herd
//!   down must not take the last server out of service for ever); else 503 and why.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;

use crate::net::Listener;
use crate::shutdown::Shutdown;
use crate::state::Shared;

/// Serves the admin address until shutdown. Each connection is its own task; a connection
/// still open at shutdown is dropped with the accept loop.
pub async fn serve(mut listener: Box<dyn Listener>, shared: Arc<Shared>, mut shutdown: Shutdown) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = shutdown.wait() => return,
        };
        let Ok((stream, _remote)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let shared = shared.clone();
        let stopping = shutdown.clone();
        connections.spawn(tracing::Instrument::in_current_span(async move {
            let service = service_fn(move |request| {
                let response = respond(&shared, &stopping, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }));
    }
}

fn respond(
    shared: &Shared,
    stopping: &Shutdown,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    };
    if request.method() != http::Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
    }
    match request.uri().path() {
        "/metrics" => {
            let mut response = text(StatusCode::OK, shared.scrape());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            );
            response
        }
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" => match not_ready(shared, stopping) {
            None => text(StatusCode::OK, "ready\n".into()),
            Some(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            ),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: /metrics, /healthz, /readyz\n".into(),
        ),
    }
}

/// Why the server is not ready, if it is not.
fn not_ready(shared: &Shared, stopping: &Shutdown) -> Option<String> {
    if stopping.is_triggered() {
        return Some("stopping".into());
    }
    let alone_for = shared.metrics.alone_for()?;
    let bound = shared.limits.ready_alone_after;
    (alone_for < bound).then(|| {
        format!(
            "linked to no neighbour for {:.1}s (ready alone after {:?})",
            alone_for.as_secs_f64(),
            bound
        )
    })
}
