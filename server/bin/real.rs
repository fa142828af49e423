//! Real sockets and the system clock: the production side of the seam in `net.rs`.
//!
//! Compiled into the `server` binary and the real-socket tests (via `#[path]`), never into the
//! library, so the code the simulation runs cannot reach `tokio::net` or the system clock.

use std::io;

use server::net::{BoxFuture, BoxStream, Clock, Listener, Network};

/// Real sockets, for the binary and the real-socket tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioNet;

struct TokioListener(tokio::net::TcpListener);

impl Listener for TokioListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, String)>> {
        Box::pin(async move {
            let (stream, remote) = self.0.accept().await?;
            stream.set_nodelay(true)?;
            Ok((Box::new(stream) as BoxStream, remote.to_string()))
        })
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.local_addr()
    }
}

impl Network for TokioNet {
    fn bind(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        let addr = format!("{host}:{port}");
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            Ok(Box::new(TokioListener(listener)) as Box<dyn Listener>)
        })
    }

    fn connect(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        let addr = format!("{host}:{port}");
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<std::net::IpAddr>>> {
        let host = host.to_string();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// The operating system's clock; the library reads time solely through the [`Clock`] it is given.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> i128 {
        // The one place the real clock is read; the simulation never reaches it.
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        }
    }
}

/// The system clock moved by a fixed offset (`--clock-offset`): a skewed server for tests.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, Default)]
pub struct OffsetClock {
    pub offset_nanos: i128,
}

impl Clock for OffsetClock {
    fn now_nanos(&self) -> i128 {
        SystemClock.now_nanos() + self.offset_nanos
    }
}

/// A seed from the OS's random source: it drives backoff jitter and the link challenges, which
/// must be unpredictable. Falls back to the wall clock and process id only if the OS has no
/// random source at all (said on stderr).
#[allow(dead_code)]
pub fn seed_from_os() -> u64 {
    random_u64().unwrap_or_else(|| {
        eprintln!("warning: no OS random source; link challenges are seeded from the clock");
        let nanos = SystemClock.now_nanos() as u64;
        nanos ^ (u64::from(std::process::id()) << 32)
    })
}

/// 64 bits from the OS's random source.
#[allow(dead_code)]
pub fn random_u64() -> Option<u64> {
    getrandom::u64().ok()
}

/// A fresh CA and one certificate per server, in memory, for a herd whose servers all run in
/// this one process: they trust each other, and no one else holds a key. The keys come from
/// the OS's random source; the provider is ring's stock one (OS randomness).
#[allow(dead_code)]
pub fn process_certs(
    names: &[&str],
) -> Result<std::collections::BTreeMap<String, server::links::tls::TlsSetup>, String> {
    let mut failed = None;
    let (_, identities) = server::certs::herd(names, |_| {
        let mut bytes = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut bytes) {
            failed = Some(e.to_string());
        }
        bytes
    })
    .map_err(|e| e.to_string())?;
    if let Some(e) = failed {
        return Err(format!("no OS random source for the herd's keys: {e}"));
    }
    Ok(names
        .iter()
        .zip(identities)
        .map(|(name, identity)| (name.to_string(), os_setup(identity)))
        .collect())
}

/// `identity` with ring's stock provider, which draws from the OS.
#[allow(dead_code)]
pub fn os_setup(identity: server::certs::Identity) -> server::links::tls::TlsSetup {
    server::links::tls::TlsSetup {
        identity,
        provider: std::sync::Arc::new(rustls::crypto::ring::default_provider()),
    }
}
