//! The client workload: the clients' host, which runs each command the driver hands it on
//! its own connection, as the classic client does, and records what it sent and got back.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::bulk;
use crate::recorder::Recorder;
use crate::scenario::{Hostile, Load};
use crate::trace::TraceEvent;

/// A client reads at most this much of one reply.
pub const REPLY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// A client gives up on a reply after this long (simulated).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// One client command, sent from the driver to a client host.
pub struct ClientCommand {
    pub id: u64,
    pub client: String,
    pub server: String,
    pub port: u16,
    /// The server's peer port, where hostile link attempts go.
    pub peer_port: u16,
    pub payload: Payload,
}

pub enum Payload {
    Bytes(Vec<u8>),
    Load(Load),
    Hostile(Hostile),
    /// An IAMAT whose timestamp, if not given, is the client's clock at send.
    IamAt {
        client: String,
        location: String,
        timestamp: Option<String>,
    },
}

impl Payload {
    /// The bytes of a one-line command, an IAMAT without a timestamp stamped with `clock`
    /// now; a load or a hostile client, which its world runs itself, has none.
    pub fn line_bytes(self, clock: impl FnOnce() -> String) -> Vec<u8> {
        match self {
            Payload::Bytes(bytes) => bytes,
            Payload::IamAt {
                client,
                location,
                timestamp,
            } => {
                let timestamp = timestamp.unwrap_or_else(clock);
                format!("IAMAT {client} {location} {timestamp}\n").into_bytes()
            }
            Payload::Load(_) | Payload::Hostile(_) => Vec::new(),
        }
    }
}

/// The clients' host: runs each command it is handed on its own connection, the way the
/// classic client does (write, half-close, read everything), concurrently with the others.
pub async fn client_loop(
    mut commands: mpsc::UnboundedReceiver<ClientCommand>,
    certs: Option<std::sync::Arc<crate::simcerts::SimCerts>>,
    recorder: Recorder,
) -> turmoil::Result {
    while let Some(command) = commands.recv().await {
        let (client, recorder, certs) = (command.client.clone(), recorder.clone(), certs.clone());
        tokio::spawn(async move {
            let bytes = match command.payload {
                Payload::Load(load) => {
                    return bulk::run_load(
                        command.id,
                        load,
                        command.port,
                        recorder,
                        std::sync::Arc::new(client_clock_text),
                    )
                    .await;
                }
                Payload::Hostile(hostile) => {
                    return bulk::run_hostile(
                        command.id,
                        hostile,
                        (command.port, command.peer_port),
                        recorder,
                        std::sync::Arc::new(client_clock_text),
                        certs,
                    )
                    .await;
                }
                line => line.line_bytes(client_clock_text),
            };
            recorder.push(TraceEvent::client_send(
                recorder.now(),
                command.id,
                &client,
                &command.server,
                &bytes,
            ));
            let exchange = async {
                let stream =
                    turmoil::net::TcpStream::connect((command.server.as_str(), command.port))
                        .await?;
                one_exchange(stream, &bytes).await
            };
            let event = match tokio::time::timeout(CLIENT_TIMEOUT, exchange).await {
                Ok(Ok(reply)) => TraceEvent::client_reply(
                    recorder.now(),
                    command.id,
                    &client,
                    &command.server,
                    &String::from_utf8_lossy(&reply),
                ),
                Ok(Err(e)) => TraceEvent::client_error(
                    recorder.now(),
                    command.id,
                    &client,
                    &command.server,
                    &e.to_string(),
                ),
                Err(_) => TraceEvent::client_error(
                    recorder.now(),
                    command.id,
                    &client,
                    &command.server,
                    "no reply in time",
                ),
            };
            recorder.push(event);
        });
    }
    Ok(())
}

/// A classic client's whole conversation: write `bytes`, half-close, read the reply to EOF
/// (at most [`REPLY_BYTES_MAX`]). The same for a simulated and a real socket.
pub async fn one_exchange<S>(mut stream: S, bytes: &[u8]) -> std::io::Result<Vec<u8>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(bytes).await?;
    stream.shutdown().await?;
    let mut reply = Vec::new();
    (&mut stream)
        .take(REPLY_BYTES_MAX as u64)
        .read_to_end(&mut reply)
        .await?;
    Ok(reply)
}

/// The client's simulated wall clock as IAMAT timestamp text, to the nanosecond.
fn client_clock_text() -> String {
    let now = turmoil::since_epoch().unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}
