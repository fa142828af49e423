//! The seam, proven: three servers of the unchanged library in turmoil's simulated network.
//!
//! A line herd A - B - C. An update at one end reaches the other; a partition during an update
//! heals into convergence; a crashed and restarted server gets its table back.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use server::config::{Herd, Limits, LinkSpec, ServerSpec};
use server::net::{BoxFuture, BoxStream, Clock, Env, Listener, Network};
use server::places::PlacesClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORT: u16 = 10000;
/// The simulated wall clock starts here, so time differences are small and readable.
const EPOCH_SECS: u64 = 1_700_000_000;

struct TurmoilNet;
struct TurmoilListener(turmoil::net::TcpListener);

impl Listener for TurmoilListener {
    fn accept(&mut self) -> BoxFuture<'_, std::io::Result<(BoxStream, String)>> {
        Box::pin(async move {
            let (stream, remote) = self.0.accept().await?;
            Ok((Box::new(stream) as BoxStream, remote.to_string()))
        })
    }
    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.local_addr()
    }
}

impl Network for TurmoilNet {
    fn bind(
        &self,
        _host: &str,
        port: u16,
    ) -> BoxFuture<'static, std::io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
            Ok(Box::new(TurmoilListener(listener)) as Box<dyn Listener>)
        })
    }
    fn connect(&self, host: &str, port: u16) -> BoxFuture<'static, std::io::Result<BoxStream>> {
        let host = host.to_string();
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect((host.as_str(), port)).await?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

struct SimClock;
impl Clock for SimClock {
    fn now_nanos(&self) -> i128 {
        turmoil::since_epoch().unwrap_or_default().as_nanos() as i128
    }
}

fn line_herd() -> Herd {
    let server = |name: &str| ServerSpec {
        name: name.into(),
        host: name.into(),
        port: PORT,
        peer_port: None,
        admin_port: None,
        admin_host: "127.0.0.1".into(),
    };
    let link = |a: &str, b: &str| LinkSpec {
        between: [a.into(), b.into()],
        classic: false,
    };
    Herd {
        servers: vec![server("A"), server("B"), server("C")],
        links: vec![link("A", "B"), link("B", "C")],
        limits: Limits::default(),
        secret_file: None,
        tls_dir: None,
        data_dir: None,
        metrics_off: false,
    }
}

fn simulation(herd: Herd) -> turmoil::Sim<'static> {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .rng_seed(7)
        .build();
    let herd = Arc::new(herd);
    let names: Vec<&str> = herd.servers.iter().map(|s| s.name.as_str()).collect();
    let tls = server::links::tls::seeded_herd(&names, 1).expect("certificates");
    for spec in herd.servers.clone() {
        let herd = herd.clone();
        let tls = tls.get(&spec.name).cloned();
        sim.host(spec.name.clone(), move || {
            let (herd, tls) = (herd.clone(), tls.clone());
            let name = spec.name.clone();
            async move {
                let env = Env {
                    net: Arc::new(TurmoilNet),
                    clock: Arc::new(SimClock),
                    places: PlacesClient::offline(),
                    seed: 1,
                    disk: None,
                    buggify: server::buggify::Buggify::off(),
                    canary: None,
                    tls,
                };
                server::run(herd, &name, env, std::future::pending()).await?;
                Ok(())
            }
        });
    }
    sim
}

/// One command the way the classic client sends it: write, half-close, read everything.
async fn ask(server: &str, line: &str) -> std::io::Result<String> {
    let mut stream = turmoil::net::TcpStream::connect((server, PORT)).await?;
    stream.write_all(line.as_bytes()).await?;
    stream.shutdown().await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    Ok(reply)
}

fn first_line(reply: &str) -> &str {
    reply.lines().next().unwrap_or("")
}

#[test]
fn an_update_at_one_end_is_visible_at_the_far_end() -> turmoil::Result {
    let mut sim = simulation(line_herd());
    sim.client("client", async {
        // The client's clock is half a second ahead of A's, so the time difference is negative.
        let at = ask("A", "IAMAT kiwi +34.068930-118.445127 1700000000.5\n").await?;
        assert!(at.starts_with("AT A -0.4"), "unexpected reply {at:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let reply = ask("C", "WHATSAT kiwi 10 3\n").await?;
        assert_eq!(
            first_line(&reply),
            at.trim_end(),
            "C must answer with A's record"
        );
        assert!(
            reply.ends_with("}\n\n"),
            "reply must end with the JSON and a blank line"
        );
        Ok(())
    });
    sim.run()
}

#[test]
fn a_partition_during_an_update_heals_into_convergence() -> turmoil::Result {
    let mut sim = simulation(line_herd());
    sim.client("client", async {
        ask("A", "IAMAT kiwi +10+10 1700000000.1\n").await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        turmoil::partition("A", "B");
        let newer = ask("A", "IAMAT kiwi +20+20 1700000001.1\n").await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stale = ask("C", "WHATSAT kiwi 10 1\n").await?;
        assert!(
            first_line(&stale).contains("+10+10"),
            "C is cut off and must still hold the old record: {stale:?}"
        );
        turmoil::repair("A", "B");
        tokio::time::sleep(Duration::from_secs(8)).await;
        for server in ["B", "C"] {
            let reply = ask(server, "WHATSAT kiwi 10 1\n").await?;
            assert_eq!(
                first_line(&reply),
                newer.trim_end(),
                "{server} must converge to the newer record"
            );
        }
        Ok(())
    });
    sim.run()
}

#[test]
fn a_crashed_server_recovers_the_table_after_restart() -> turmoil::Result {
    let mut sim = simulation(line_herd());
    sim.client("client", async {
        let at = ask("A", "IAMAT kiwi -33.8688+151.2093 1700000000.25\n").await?;
        // B crashes at 3 s and restarts at 5 s with empty memory; ask it at 12 s.
        tokio::time::sleep(Duration::from_secs(12)).await;
        let reply = ask("B", "WHATSAT kiwi 5 2\n").await?;
        assert_eq!(
            first_line(&reply),
            at.trim_end(),
            "the restarted B must learn the record again"
        );
        Ok(())
    });
    while sim.elapsed() < Duration::from_secs(3) {
        sim.step()?;
    }
    sim.crash("B");
    while sim.elapsed() < Duration::from_secs(5) {
        sim.step()?;
    }
    sim.bounce("B");
    sim.run()
}
