//! The simulation's side of the server's seam: turmoil sockets, turmoil's clock with per-server
//! skew, an HTTP connector that dials the simulated Places host, and the attacker on the path
//! of a link ([`tamper`]).

pub mod tamper;

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use server::net::{BoxFuture, BoxStream, Clock, Listener, Network};

/// The secret every simulated herd shares (hostile clients do not know it, but for one that
/// forges a link under a name that is not a neighbour's).
pub const SIMULATED_SECRET: &[u8] = b"simulated herd secret";

/// turmoil's TCP, bound on every address of the host (turmoil gives each host one), for the
/// server `me`; with `tampering`, the link connections `me` dials to a neighbour a `tamper`
/// step names go through the attacker (those carry `me`'s records to it).
pub struct TurmoilNet {
    pub me: String,
    pub tampering: Option<tamper::Tampering>,
}

struct TurmoilListener(turmoil::net::TcpListener);

impl Listener for TurmoilListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, String)>> {
        Box::pin(async move {
            let (stream, remote) = self.0.accept().await?;
            Ok((Box::new(stream) as BoxStream, remote.to_string()))
        })
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.local_addr()
    }
}

impl Network for TurmoilNet {
    fn bind(&self, _host: &str, port: u16) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
            Ok(Box::new(TurmoilListener(listener)) as Box<dyn Listener>)
        })
    }

    fn connect(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        let host = host.to_string();
        let (me, tampering) = (self.me.clone(), self.tampering.clone());
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect((host.as_str(), port)).await?;
            let stream = Box::new(stream) as BoxStream;
            Ok(match &tampering {
                Some(tampering) => tampering.wrap(&me, &host, stream),
                None => stream,
            })
        })
    }

    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<std::net::IpAddr>>> {
        let ip = turmoil::lookup(host);
        Box::pin(std::future::ready(Ok(vec![ip])))
    }
}

/// Clock offsets per server, changed by `skew` steps while the simulation runs.
pub type Skews = Arc<Mutex<BTreeMap<String, i128>>>;

/// turmoil's simulated wall clock plus this server's skew.
pub struct SkewedClock {
    pub server: String,
    pub skews: Skews,
}

impl Clock for SkewedClock {
    fn now_nanos(&self) -> i128 {
        let now = turmoil::since_epoch().unwrap_or_default().as_nanos() as i128;
        let skew = self
            .skews
            .lock()
            .map(|s| s.get(&self.server).copied().unwrap_or(0))
            .unwrap_or(0);
        now + skew
    }
}

/// A hyper connector that dials `host:port` of the URI over turmoil.
#[derive(Clone, Default)]
pub struct TurmoilConnector;

/// A turmoil stream as hyper sees it.
pub struct TurmoilConnection(TokioIo<turmoil::net::TcpStream>);

impl tower_service::Service<http::Uri> for TurmoilConnector {
    type Response = TurmoilConnection;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TurmoilConnection>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URI without host"))?
                .to_string();
            let port = uri.port_u16().unwrap_or(80);
            let stream = turmoil::net::TcpStream::connect((host.as_str(), port)).await?;
            Ok(TurmoilConnection(TokioIo::new(stream)))
        })
    }
}

impl Connection for TurmoilConnection {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for TurmoilConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for TurmoilConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The Places client the simulated servers use: the real code path of `api` over turmoil.
pub fn places_client(
    limits: &server::config::Limits,
    api: server::places::PlacesApi,
) -> server::places::PlacesClient {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(TurmoilConnector);
    let settings = server::places::PlacesSettings {
        api,
        base_url: Some(format!(
            "http://{}:{}",
            crate::hosts::PLACES_HOST,
            crate::places_stub::PORT
        )),
        timeout: limits.places_timeout,
        response_bytes_max: limits.places_response_bytes_max,
    };
    server::places::PlacesClient::online(
        settings,
        crate::places_stub::KEY.to_string(),
        Arc::new(http),
    )
}
