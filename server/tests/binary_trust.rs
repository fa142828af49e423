//! Only the herd writes the herd, on the real binary over real loopback sockets: forged `AT`
//! and `PEER` lines and far-future timestamps store nothing, a server whose certificate is
//! another CA's cannot feed its neighbour, a fake neighbour with no certificate or another
//! CA's gets no record, and held client connections or handshake stallers cannot keep a
//! restarted neighbour out. Every herd here runs on free ports picked at start, with
//! certificates that `server certs` writes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A herd of real processes in a temp dir; every process is killed on drop.
struct Herd {
    dir: PathBuf,
    file: PathBuf,
    /// Each server: name, client port, peer port.
    ports: Vec<(String, u16, u16)>,
    children: Vec<(String, Child)>,
}

impl Herd {
    /// Servers `names` on free ports, linked in a line, their certificates in `tls/` (written
    /// by `server certs`), with `limits` (YAML flow map body) added. `other.yaml` is the same
    /// herd with certificates from another CA (`other/`).
    fn new(test: &str, names: &[&str], limits: &str) -> Herd {
        let dir = std::env::temp_dir().join(format!("herd-trust-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ports: Vec<(String, u16, u16)> = names
            .iter()
            .map(|n| (n.to_string(), free_port(), free_port()))
            .collect();
        let mut yaml = String::from("servers:\n");
        for (name, port, peer) in &ports {
            yaml.push_str(&format!(
                "  - {{ name: {name}, port: {port}, peer_port: {peer} }}\n"
            ));
        }
        yaml.push_str("links:\n");
        for pair in names.windows(2) {
            yaml.push_str(&format!("  - {{ between: [{}, {}] }}\n", pair[0], pair[1]));
        }
        yaml.push_str(&format!("limits: {{ whatsat_wait: 0s{limits} }}\n"));
        let file = dir.join("herd.yaml");
        std::fs::write(&file, format!("tls_dir: tls\n{yaml}")).expect("herd file");
        std::fs::write(dir.join("other.yaml"), format!("tls_dir: other\n{yaml}"))
            .expect("herd file");
        for out in ["tls", "other"] {
            let status = Command::new(env!("CARGO_BIN_EXE_server"))
                .arg("certs")
                .arg("--herd")
                .arg(&file)
                .arg("--out")
                .arg(dir.join(out))
                .stdout(Stdio::null())
                .status()
                .expect("server certs");
            assert!(
                status.success(),
                "server certs wrote the herd's certificates"
            );
        }
        Herd {
            dir,
            file,
            ports,
            children: Vec::new(),
        }
    }

    fn port(&self, name: &str) -> u16 {
        self.ports
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, p, _)| *p)
            .expect("a server of this herd")
    }

    /// Where `name`'s links arrive.
    fn peer_port(&self, name: &str) -> u16 {
        self.ports
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(.., p)| *p)
            .expect("a server of this herd")
    }

    /// Starts `name` with the herd's certificates, or with another CA's (`other`).
    async fn start(&mut self, name: &str, other: bool) {
        let file = match other {
            true => self.dir.join("other.yaml"),
            false => self.file.clone(),
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command
            .arg(name)
            .arg("--herd")
            .arg(&file)
            .arg("--log-dir")
            .arg(&self.dir)
            .env_remove("PLACES_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().expect("start the server binary");
        self.children.push((name.to_string(), child));
        wait_listening(self.port(name)).await;
    }

    fn kill(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Whether `name`'s log holds `needle` within 5 s: its writer thread writes behind the
    /// server, later still on a loaded machine.
    async fn logs(&self, name: &str, needle: &str) -> bool {
        let start = Instant::now();
        while !self.log(name).contains(needle) {
            if start.elapsed() > Duration::from_secs(5) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

impl Drop for Herd {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "no server came up on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `text`, half-closes, reads the whole reply (bounded in time).
async fn ask(port: u16, text: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
    let mut reply = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut reply)).await;
    reply
}

/// Polls `WHATSAT client` at `port` until its first line is `expected`, within `within`.
async fn holds(port: u16, client: &str, expected: &str, within: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let reply = ask(port, &format!("WHATSAT {client} 10 1\n")).await;
        let first = reply.lines().next().unwrap_or("").to_string();
        if first == expected {
            return Ok(());
        }
        if start.elapsed() > within {
            return Err(first);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_client_cannot_store_a_record_it_did_not_iamat() {
    let mut herd = Herd::new("forge", &["Alpha", "Beta"], "");
    herd.start("Alpha", false).await;
    herd.start("Beta", false).await;
    let (alpha, beta) = (herd.port("Alpha"), herd.port("Beta"));

    let forged = "AT Beta +0.000000000 victim +1+1 99999999999";
    assert_eq!(
        ask(alpha, &format!("{forged}\n")).await,
        format!("? {forged}\n")
    );
    // A link on the client port: three unknown lines.
    let as_peer = ask(alpha, &format!("PEER Beta 1\nAUTH 0\n{forged}\n")).await;
    assert_eq!(as_peer, format!("? PEER Beta 1\n? AUTH 0\n? {forged}\n"));
    // On the peer port, in clear, with no TLS: `HELLO`, and the connection ends unread.
    let peer_port = herd.peer_port("Alpha");
    let as_peer = ask(peer_port, &format!("PEER Beta 1\nAUTH 0\n{forged}\n")).await;
    assert_eq!(as_peer, "HELLO\n");
    let future = "IAMAT victim +2+2 99999999999";
    assert_eq!(
        ask(alpha, &format!("{future}\n")).await,
        format!("? {future}\n")
    );
    let huge = format!("IAMAT {} +2+2 {}", "h".repeat(2000), now_secs());
    assert!(
        ask(alpha, &format!("{huge}\n"))
            .await
            .starts_with("? IAMAT hhh")
    );

    // The victim's own IAMAT is stored and flooded: the links themselves work.
    let at = ask(alpha, &format!("IAMAT victim +3+3 {}\n", now_secs())).await;
    assert!(at.starts_with("AT Alpha "), "{at}");
    holds(beta, "victim", at.trim_end(), Duration::from_secs(5))
        .await
        .unwrap_or_else(|got| panic!("Beta never got the victim's own record, holds {got:?}"));
    assert!(
        herd.logs("Alpha", "\"link_refused\"").await,
        "the forged link is logged"
    );
}

#[tokio::test]
async fn a_server_with_another_cas_certificate_cannot_feed_the_herd() {
    let mut herd = Herd::new("otherca", &["Alpha", "Beta"], "");
    herd.start("Alpha", false).await;
    herd.start("Beta", true).await;
    let at = ask(
        herd.port("Beta"),
        &format!("IAMAT kiwi +1+1 {}\n", now_secs()),
    )
    .await;
    assert!(at.starts_with("AT Beta "), "{at}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reply = ask(herd.port("Alpha"), "WHATSAT kiwi 10 1\n").await;
    assert_eq!(
        reply, "? WHATSAT kiwi 10 1\n",
        "Alpha must not take Beta's record"
    );
    assert!(
        herd.logs("Beta", "\"peer_answer_refused\"").await,
        "{}",
        herd.log("Beta")
    );
    assert!(herd.logs("Alpha", "\"link_refused\"").await);
    assert!(herd.logs("Alpha", "\"peer_answer_refused\"").await);
}

#[tokio::test]
async fn held_connections_do_not_keep_a_restarted_neighbour_out() {
    let mut herd = Herd::new("held", &["Alpha", "Beta"], ", connections_max: 4");
    herd.start("Alpha", false).await;
    herd.start("Beta", false).await;
    let beta = herd.port("Beta");
    // Fill every client slot of Beta: two idle connections, two that flood commands and
    // never read a reply.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(
            TcpStream::connect(("127.0.0.1", beta))
                .await
                .expect("connect"),
        );
    }
    for _ in 0..2 {
        let mut stream = TcpStream::connect(("127.0.0.1", beta))
            .await
            .expect("connect");
        let flood = "WHATSAT nobody 10 1\n".repeat(20_000);
        let _ = tokio::time::timeout(
            Duration::from_millis(500),
            stream.write_all(flood.as_bytes()),
        )
        .await;
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    herd.kill("Alpha");
    herd.start("Alpha", false).await;
    let at = ask(
        herd.port("Alpha"),
        &format!("IAMAT kiwi +1+1 {}\n", now_secs()),
    )
    .await;
    assert!(at.starts_with("AT Alpha "), "{at}");
    // Beta's client slots are full, so ask Alpha's record through Beta's log instead of a
    // WHATSAT: the record must arrive over the link within a few seconds.
    let start = Instant::now();
    let needle = "\"client\":\"kiwi\"";
    loop {
        let log = herd.log("Beta");
        if log.lines().any(|l| {
            l.contains("record_stored") && l.contains(needle) && l.contains("\"outcome\":\"new\"")
        }) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "Alpha's record did not reach Beta while its client slots were held:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
}

/// Stallers: connections to `port`, each saying `PEER <name> 1` and then nothing, opened as
/// fast as `tasks` tasks can for `run_for`; each task keeps its last `held_max` open. Returns
/// how many were opened. Bounded in time and in count.
async fn stall(port: u16, name: &str, tasks: usize, held_max: usize, run_for: Duration) -> u64 {
    const OPENED_MAX: u64 = 100_000;
    let end = Instant::now() + run_for;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let line = format!("PEER {name} 1\n");
        set.spawn(async move {
            let mut held = std::collections::VecDeque::new();
            let mut opened = 0u64;
            while Instant::now() < end && opened < OPENED_MAX {
                let Ok(Ok(mut stream)) = tokio::time::timeout(
                    Duration::from_millis(200),
                    TcpStream::connect(("127.0.0.1", port)),
                )
                .await
                else {
                    continue;
                };
                if stream.write_all(line.as_bytes()).await.is_ok() {
                    opened += 1;
                    held.push_back(stream);
                }
                if held.len() > held_max {
                    held.pop_front();
                }
            }
            opened
        });
    }
    let mut opened = 0;
    while let Some(n) = set.join_next().await {
        opened += n.unwrap_or(0);
    }
    opened
}

/// Links arrive on the peer port only: `PEER` on the client port is an unknown command, even
/// from a neighbour's name, and the client port's limits can then never touch a link.
#[tokio::test]
async fn a_link_on_the_client_port_is_refused_and_a_full_client_port_keeps_no_neighbour_out() {
    let mut herd = Herd::new("client-port", &["Alpha", "Beta"], ", connections_max: 2");
    herd.start("Alpha", false).await;
    herd.start("Beta", false).await;
    let reply = ask(herd.port("Beta"), "PEER Alpha 1\n").await;
    assert_eq!(reply, "? PEER Alpha 1\n", "PEER on Beta's client port");
    // Every client slot of Beta held: Alpha restarts, and its link to Beta comes up.
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", herd.port("Beta"))).await {
            held.push(stream);
        }
    }
    herd.kill("Alpha");
    herd.start("Alpha", false).await;
    let at = ask(
        herd.port("Alpha"),
        &format!("IAMAT plum +1+1 {}\n", now_secs()),
    )
    .await;
    assert!(at.starts_with("AT Alpha "), "{at}");
    // Beta's client slots are full, so Beta is asked once they are given back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(held);
    let expected = at.trim_end();
    let linked = holds(herd.port("Beta"), "plum", expected, Duration::from_secs(5)).await;
    assert_eq!(
        linked,
        Ok(()),
        "Alpha's record reached Beta over the peer port"
    );
}

#[tokio::test]
async fn handshake_stallers_do_not_keep_a_restarted_neighbour_out() {
    let mut herd = Herd::new("stall", &["Alpha", "Beta"], "");
    herd.start("Alpha", false).await;
    herd.start("Beta", false).await;
    let beta = herd.peer_port("Beta");
    let stallers = tokio::spawn(stall(beta, "Alpha", 4, 400, Duration::from_secs(6)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    herd.kill("Alpha");
    herd.start("Alpha", false).await;
    let at = ask(
        herd.port("Alpha"),
        &format!("IAMAT kiwi +1+1 {}\n", now_secs()),
    )
    .await;
    assert!(at.starts_with("AT Alpha "), "{at}");
    // While the stallers run flat out, Alpha links to Beta and its record is there within a
    // second of its acknowledgement.
    let linked = holds(
        herd.port("Beta"),
        "kiwi",
        at.trim_end(),
        Duration::from_secs(1),
    )
    .await;
    let opened = stallers.await.unwrap_or(0);
    assert!(opened > 100, "the stallers ran: {opened} connections");
    linked.unwrap_or_else(|got| {
        panic!("Alpha's record was not at Beta within 1s under {opened} stallers: {got:?}")
    });
}

/// A system clock for the impostor's certificate checks.
struct SystemClock;

impl server::net::Clock for SystemClock {
    fn now_nanos(&self) -> i128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0)
    }
}

/// The impostor's TLS: Beta's certificate from another CA (`other/`), taking any certificate
/// of the herd's CA from the dialler, so it could read whatever a dialler sent it.
fn impostor_tls(herd: &Herd) -> server::links::tls::LinkTls {
    let foreign = server::certs::Identity::load(&herd.dir.join("other"), "Beta").expect("certs");
    let herd_ca = server::certs::Identity::load(&herd.dir.join("tls"), "Beta").expect("certs");
    let setup = server::links::tls::TlsSetup {
        identity: server::certs::Identity {
            ca: herd_ca.ca,
            ..foreign
        },
        provider: std::sync::Arc::new(rustls::crypto::ring::default_provider()),
    };
    server::links::tls::LinkTls::new(&setup, std::sync::Arc::new(SystemClock)).expect("tls")
}

/// A listener at `port` that answers link handshakes as an accepting neighbour would: `HELLO`
/// to `PEER`, then TLS with `tls` (none: it goes on in clear), then `LINKED` to `AUTH`.
/// Returns every line read within `run_for` (the bytes of a TLS hello it cannot take end a
/// connection's lines).
async fn impostor(
    port: u16,
    tls: Option<server::links::tls::LinkTls>,
    run_for: Duration,
) -> Vec<String> {
    use server::line::{Line, LineReader};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the down neighbour's port is free");
    let mut lines = Vec::new();
    let end = tokio::time::Instant::now() + run_for;
    while let Ok(Ok((stream, _))) = tokio::time::timeout_at(end, listener.accept()).await {
        let stream: server::net::BoxStream = Box::new(stream);
        let (read, mut write) = tokio::io::split(stream);
        let mut reader = LineReader::new(read, 64 * 1024);
        while let Ok(Ok(Some(Line::Complete(line)))) =
            tokio::time::timeout_at(end, reader.read_line()).await
        {
            let line = String::from_utf8_lossy(&line).into_owned();
            let fields: Vec<&str> = line.split_whitespace().collect();
            let reply = match fields[..] {
                ["PEER", ..] => "HELLO\n".to_string(),
                ["AUTH", ..] => "LINKED 1 0 -\n".to_string(),
                ["PING", n] => format!("PONG {n}\n"),
                _ => String::new(),
            };
            let claimed = (fields.first() == Some(&"PEER")).then(|| fields[1].to_string());
            lines.push(line);
            if write.write_all(reply.as_bytes()).await.is_err() {
                break;
            }
            if let (Some(claimed), Some(tls)) = (claimed, &tls) {
                let Some(read) = reader.into_inner() else {
                    break;
                };
                let accepted = tls.accept(&claimed, read.unsplit(write)).await;
                let Ok(stream) = accepted else { break };
                let (read, w) = tokio::io::split(stream);
                (reader, write) = (LineReader::new(read, 64 * 1024), w);
            }
        }
    }
    lines
}

#[tokio::test]
async fn a_fake_neighbour_at_a_down_servers_address_gets_no_record() {
    let mut herd = Herd::new("impostor", &["Alpha", "Beta"], "");
    herd.start("Alpha", false).await;
    let at = ask(
        herd.port("Alpha"),
        &format!("IAMAT kiwi +1+1 {}\n", now_secs()),
    )
    .await;
    assert!(at.starts_with("AT Alpha "), "{at}");
    // Beta never started: an impostor takes its port, and Alpha dials it: first one with no
    // certificate, then one with Beta's from another CA.
    for tls in [None, Some(impostor_tls(&herd))] {
        let with_cert = tls.is_some();
        let got = impostor(herd.peer_port("Beta"), tls, Duration::from_secs(3)).await;
        assert!(
            got.iter().any(|l| l.starts_with("PEER Alpha ")),
            "Alpha dialled the impostor: {got:?}"
        );
        // The TLS hello the impostor cannot take may hold a newline: only protocol lines count.
        let past_hello: Vec<&String> = got
            .iter()
            .filter(|l| ["AT ", "AUTH ", "MARK "].iter().any(|p| l.starts_with(p)))
            .collect();
        assert!(
            past_hello.is_empty(),
            "sent to the impostor (certificate: {with_cert}): {past_hello:?}"
        );
    }
    assert!(
        herd.logs("Alpha", "\"peer_answer_refused\"").await,
        "{}",
        herd.log("Alpha")
    );
}
