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

/// A seed for backoff jitter from the wall clock and process id; only the binary needs one.
#[allow(dead_code)]
pub fn seed_from_os() -> u64 {
    let nanos = SystemClock.now_nanos() as u64;
    nanos ^ (u64::from(std::process::id()) << 32)
}
