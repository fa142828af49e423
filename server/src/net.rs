//! The seam between the server and the world: network, clock, disk and randomness it is handed.
//!
//! The library never names `tokio::net`, the system clock or OS randomness. The binary passes
//! real sockets and the system clock (`bin/real.rs`, compiled into the binary and the
//! real-socket tests but never into the library); the simulation passes turmoil sockets and its
//! simulated clock. Streams are boxed so the rest of the code is not generic over the network.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream (a TCP connection, real or simulated).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

pub type BoxStream = Box<dyn Stream>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A bound listening socket.
pub trait Listener: Send + 'static {
    /// Waits for the next connection; the string names the remote end for logs.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, String)>>;
    /// The address actually bound (differs from the requested one for port 0).
    fn local_addr(&self) -> io::Result<std::net::SocketAddr>;
}

/// What the server needs from a network: listen and dial.
pub trait Network: Send + Sync + 'static {
    fn bind(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Box<dyn Listener>>>;
    fn connect(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxStream>>;

    /// The addresses `host` stands for: a classic neighbour's lines are taken only from them.
    /// The default reads an IP literal and nothing else.
    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<std::net::IpAddr>>> {
        let parsed = host
            .parse()
            .map(|ip| vec![ip])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
        Box::pin(std::future::ready(parsed))
    }
}

/// The current POSIX time in nanoseconds, for AT time differences.
pub trait Clock: Send + Sync + 'static {
    fn now_nanos(&self) -> i128;
}

/// A clock for unit tests, stopped at 2023-11-14T22:13:20Z: timestamps near 1.7e9 are neither
/// ahead of it nor absurd.
#[cfg(test)]
pub struct FixedClock;

#[cfg(test)]
impl Clock for FixedClock {
    fn now_nanos(&self) -> i128 {
        1_700_000_000_000_000_000
    }
}

/// One server's own directory of files, the durable store's only way to a disk: real files in
/// the binary, turmoil's simulated filesystem (which loses unsynced writes on a crash) in the
/// simulation. Names are plain file names inside the directory.
pub trait Disk: Send + Sync + 'static {
    /// The file names in the directory (created if missing), sorted.
    fn list(&self) -> BoxFuture<'static, io::Result<Vec<String>>>;
    /// The whole file.
    fn read(&self, name: &str) -> BoxFuture<'static, io::Result<Vec<u8>>>;
    /// Appends `bytes` to the file, creating it; not durable until [`Disk::sync`].
    fn append(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, io::Result<()>>;
    /// Makes everything appended to the file durable.
    fn sync(&self, name: &str) -> BoxFuture<'static, io::Result<()>>;
    /// Replaces the file with `bytes` durably, or leaves it as it was: written to a temporary
    /// file, synced, renamed over it, and the directory synced.
    fn replace(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, io::Result<()>>;
    /// Removes the file, durably (the directory is synced).
    fn remove(&self, name: &str) -> BoxFuture<'static, io::Result<()>>;
}

/// Everything the server is handed by whoever runs it.
#[derive(Clone)]
pub struct Env {
    pub net: Arc<dyn Network>,
    pub clock: Arc<dyn Clock>,
    pub places: crate::places::PlacesClient,
    /// Seeds every random choice (backoff jitter), so a simulated run repeats exactly.
    pub seed: u64,
    /// Where the durable store keeps this server's files; `None` keeps the table in memory
    /// only (a restart starts empty and is refilled by its neighbours).
    pub disk: Option<Arc<dyn Disk>>,
    /// The fault points ([`crate::buggify`]): always off in the binary; seeded dice in the
    /// simulation.
    pub buggify: crate::buggify::Buggify,
    /// TLS for persistent links: this server's certificate and the herd's CA, and the crypto
    /// provider (ring's stock one in the binary, [`crate::tls_provider::seeded`] in the
    /// simulation). `None` runs links in plain text, unauthenticated, as the server warns.
    pub tls: Option<crate::certs::TlsSetup>,
    /// A planted bug this server runs ([`crate::canary`]; the simulation only, with the
    /// `canaries` feature): `None` in the binary.
    pub canary: Option<crate::canary::Canary>,
}
