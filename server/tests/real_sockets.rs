//! The library on real loopback sockets, with a wiremock Places stub, talked to the two ways
//! clients do: one command then EOF (the classic grading client), and an interactive session.

#[path = "../bin/real.rs"]
mod real;

use std::sync::Arc;
use std::time::Duration;

use server::config::{Herd, Limits, LinkSpec, ServerSpec};
use server::net::Env;
use server::places::{PlacesClient, PlacesSettings};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Ports the OS says are free right now (bound, read, released).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// A Places stub serving the same place data as the offline mode, for any location.
async fn places_stub() -> MockServer {
    let stub = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/maps/api/place/nearbysearch/json"))
        .respond_with(|req: &Request| {
            let query: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
            let get = |k: &str| {
                query
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let location = get("location");
            let (lat, lng) = location.split_once(',').unwrap_or(("0", "0"));
            let body = server::places::offline::nearby_json(
                lat.parse().unwrap_or(0.0),
                lng.parse().unwrap_or(0.0),
                get("radius").parse().unwrap_or(0.0),
            );
            ResponseTemplate::new(200).set_body_json(body)
        })
        .mount(&stub)
        .await;
    stub
}

struct RunningHerd {
    ports: Vec<u16>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for RunningHerd {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Starts a three-server line herd A - B - C on free loopback ports, in this process.
async fn start_herd(stub: &MockServer) -> RunningHerd {
    let all = free_ports(6);
    let (ports, peer_ports) = all.split_at(3);
    let names = ["A", "B", "C"];
    let servers = names
        .iter()
        .zip(ports.iter().zip(peer_ports.iter()))
        .map(|(name, (port, peer))| ServerSpec {
            name: name.to_string(),
            host: "127.0.0.1".into(),
            port: *port,
            peer_port: Some(*peer),
            admin_port: None,
            admin_host: "127.0.0.1".into(),
        })
        .collect();
    let link = |a: &str, b: &str| LinkSpec {
        between: [a.into(), b.into()],
        classic: false,
    };
    let herd = Arc::new(Herd {
        servers,
        links: vec![link("A", "B"), link("B", "C")],
        limits: Limits::default(),
        secret_file: None,
        tls_dir: None,
        data_dir: None,
        metrics_off: false,
    });
    let settings = PlacesSettings {
        base_url: Some(stub.uri()),
        ..PlacesSettings::default()
    };
    let places = PlacesClient::https(settings, "test-key".into());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut tls = server::links::tls::seeded_herd(&["A", "B", "C"], 3).expect("certificates");
    for name in names {
        let env = Env {
            net: Arc::new(real::TokioNet),
            clock: Arc::new(real::SystemClock),
            places: places.clone(),
            seed: 3,
            disk: None,
            buggify: server::buggify::Buggify::off(),
            canary: None,
            tls: tls.remove(name),
        };
        let mut stop_rx = stop_rx.clone();
        let herd = herd.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.wait_for(|&s| s).await;
            };
            server::run(herd, name, env, shutdown).await
        });
    }
    for port in ports {
        wait_for_listener(*port).await;
    }
    RunningHerd {
        ports: ports.to_vec(),
        stop,
    }
}

async fn wait_for_listener(port: u16) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("nothing listens on port {port}");
}

/// The classic client: one command, write EOF, read everything.
async fn ask(port: u16, text: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(text).await.expect("write");
    stream.shutdown().await.expect("half-close");
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply))
        .await
        .expect("the server must answer and close within 10 s")
        .expect("read");
    String::from_utf8(reply).expect("replies are UTF-8")
}

#[tokio::test]
async fn the_classic_client_gets_an_at_line_and_a_whatsat_reply_from_another_server() {
    let stub = places_stub().await;
    let herd = start_herd(&stub).await;
    let at = ask(
        herd.ports[0],
        b"IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
    )
    .await;
    let fields: Vec<&str> = at.split(' ').collect();
    assert_eq!(fields[0], "AT");
    assert_eq!(fields[1], "A");
    assert!(
        fields[2].starts_with('+') && fields[2].split('.').nth(1).map(str::len) == Some(9),
        "time diff {:?}",
        fields[2]
    );
    assert_eq!(
        &fields[3..],
        [
            "kiwi.cs.ucla.edu",
            "+34.068930-118.445127",
            "1621464827.959498503\n"
        ]
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = ask(herd.ports[2], b"WHATSAT kiwi.cs.ucla.edu 10 2\n").await;
    let (first, json) = reply.split_once('\n').expect("an AT line then JSON");
    assert_eq!(
        first,
        at.trim_end(),
        "the reply starts with the origin server's AT line"
    );
    assert!(json.ends_with("\n\n") && !json.trim_end().contains("\n\n"));
    let value: serde_json::Value = serde_json::from_str(json).expect("the JSON parses");
    assert!(value["html_attributions"].is_array());
    assert!(
        value["results"]
            .as_array()
            .map(|r| r.len() <= 2)
            .unwrap_or(false)
    );
    assert!(value["status"].is_string());

    let requests = stub.received_requests().await.unwrap_or_default();
    assert_eq!(
        requests.len(),
        1,
        "one WHATSAT, one Places request; IAMAT asks Places nothing"
    );
    let query = requests[0].url.query().unwrap_or_default().to_string();
    assert!(
        query.contains("radius=10000")
            && query.contains("location=34.068930,-118.445127")
            && query.contains("key=test-key"),
        "{query}"
    );
}

#[tokio::test]
async fn every_invalid_example_of_the_spec_gets_a_question_mark_reply() {
    let stub = places_stub().await;
    let herd = start_herd(&stub).await;
    let cases = [
        ("IAMAT Clark +12-118", "? IAMAT Clark +12-118\n"),
        (
            "IAMAT Clark +12-118 160000 123",
            "? IAMAT Clark +12-118 160000 123\n",
        ),
        (
            "AS Clark +0.25 testuser +12-118 1234",
            "? AS Clark +0.25 testuser +12-118 1234\n",
        ),
        (
            "WHATSAT kiwi.cs.ucla.edu 51 5",
            "? WHATSAT kiwi.cs.ucla.edu 51 5\n",
        ),
        (
            "WHATSAT kiwi.cs.ucla.edu 10 21",
            "? WHATSAT kiwi.cs.ucla.edu 10 21\n",
        ),
        ("  \tIAMAT a +91+0 1  ", "? IAMAT a +91+0 1\n"),
        ("WHATSAT nobody.known 10 5", "? WHATSAT nobody.known 10 5\n"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            ask(herd.ports[1], input.as_bytes()).await,
            expected,
            "input {input:?}"
        );
    }
}

#[tokio::test]
async fn an_interactive_session_gets_replies_in_order_on_one_connection() {
    let stub = places_stub().await;
    let herd = start_herd(&stub).await;
    let stream = TcpStream::connect(("127.0.0.1", herd.ports[1]))
        .await
        .expect("connect");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(b"IAMAT kiwi +1+1 1621464827\nbogus\nWHATSAT kiwi 1 1\n")
        .await
        .expect("write");
    let at = lines.next_line().await.expect("read").expect("AT line");
    assert!(
        at.starts_with("AT B ") && at.ends_with(" kiwi +1+1 1621464827"),
        "{at}"
    );
    assert_eq!(
        lines.next_line().await.expect("read").as_deref(),
        Some("? bogus")
    );
    assert_eq!(
        lines.next_line().await.expect("read").as_deref(),
        Some(at.as_str()),
        "WHATSAT starts with the AT line"
    );
    let mut json = String::new();
    loop {
        let line = lines
            .next_line()
            .await
            .expect("read")
            .expect("the JSON and its blank line");
        if line.is_empty() {
            break;
        }
        json.push_str(&line);
        json.push('\n');
    }
    serde_json::from_str::<serde_json::Value>(&json).expect("JSON parses");
    write
        .write_all(b"IAMAT kiwi +2+2 1621464828\n")
        .await
        .expect("write");
    let second = lines.next_line().await.expect("read").expect("second AT");
    assert!(
        second.ends_with(" kiwi +2+2 1621464828"),
        "the connection keeps serving: {second}"
    );
}

#[tokio::test]
async fn garbage_and_a_200_kb_line_leave_other_clients_unaffected() {
    let stub = places_stub().await;
    let herd = start_herd(&stub).await;
    let port = herd.ports[0];
    let mut bad = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    bad.write_all(&[0xff, 0xfe, 0x00, b'\n'])
        .await
        .expect("write garbage");
    let huge = vec![b'x'; 200 * 1024];
    bad.write_all(&huge).await.expect("write a 200 KB line");
    // Meanwhile another client is served normally.
    let other = ask(port, b"IAMAT calm +5+5 1621464827\n").await;
    assert!(other.starts_with("AT A "), "{other}");
    bad.write_all(b"\nIAMAT after +6+6 1621464827\n")
        .await
        .expect("finish the line");
    bad.shutdown().await.expect("half-close");
    let mut reply = Vec::new();
    bad.read_to_end(&mut reply).await.expect("read");
    let reply = String::from_utf8_lossy(&reply);
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.len(), 3, "{reply:?}");
    assert!(lines[0].starts_with("? "), "non-UTF-8 gets a ? reply");
    assert_eq!(
        lines[1],
        format!("? {}", "x".repeat(256)),
        "an over-long line is answered with its first 256 bytes"
    );
    assert!(
        lines[2].starts_with("AT A ") && lines[2].ends_with(" after +6+6 1621464827"),
        "the connection survives"
    );
}
