//! The `server` binary as an operator runs it: Places behind a mock (wiremock), an admin
//! address, a known workload. Identical WHATSATs make one upstream call; distinct ones at ten
//! times the call rate bound make no more calls than the bound allows; and a scrape of
//! `/metrics` afterwards shows what happened, with `/healthz` and `/readyz` answering.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RATE_MAX: usize = 5;

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on now (the OS picks it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts server Solo alone, asking `places` for Places, with an admin port.
fn start(places: &str, port: u16, admin: u16, dir: &std::path::Path) -> Running {
    std::fs::create_dir_all(dir).expect("a test directory");
    let herd = dir.join("herd.yaml");
    std::fs::write(
        &herd,
        format!(
            "servers:\n  - {{ name: Solo, port: {port}, admin_port: {admin} }}\nlimits: {{ places_calls_per_second_max: {RATE_MAX}, places_cache_ttl: 60s }}\n"
        ),
    )
    .expect("write the herd file");
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--herd")
        .arg(&herd)
        .arg("--log-dir")
        .arg(dir.join("logs"))
        .arg("--places-base")
        .arg(places)
        .env("PLACES_API_KEY", "test-key")
        .env_remove("HERD_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server binary");
    Running(child)
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "nothing came up on port {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One command on its own connection; the whole reply.
async fn ask(port: u16, line: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(line.as_bytes()).await.expect("send");
    stream.shutdown().await.expect("half-close");
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut reply))
        .await
        .expect("a reply in time")
        .expect("a readable reply");
    reply
}

/// A plain HTTP/1.0 GET (the server closes after its response): the status code and body.
async fn get(port: u16, target: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the admin address");
    let request = format!("GET {target} HTTP/1.0\r\nHost: x\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut reply))
        .await
        .expect("a response in time")
        .expect("a readable response");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// The value of the sample whose line starts with `series`.
fn value(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{scrape}"))
}

/// A counter's value; 0 when no sample with those labels was counted yet (a family shows
/// only the label sets it has seen).
fn count(scrape: &str, series: &str) -> f64 {
    if scrape.lines().any(|l| l.starts_with(series)) {
        value(scrape, series)
    } else {
        0.0
    }
}

const ANSWER: &str =
    r#"{"html_attributions":[],"results":[{"name":"a"},{"name":"b"},{"name":"c"}],"status":"OK"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_spends_places_calls_wisely_and_its_scrape_shows_the_workload() {
    let places = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/maps/api/place/nearbysearch/json"))
        .respond_with(ResponseTemplate::new(200).set_body_string(ANSWER))
        .mount(&places)
        .await;
    let (port, admin) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("herd-operator-{}", std::process::id()));
    let _server = start(&places.uri(), port, admin, &dir);
    wait_listening(port).await;
    wait_listening(admin).await;
    assert_eq!(get(admin, "/healthz").await.0, 200);
    assert_eq!(get(admin, "/readyz").await, (200, "ready\n".to_string()));

    let at = ask(port, "IAMAT kiwi +34.068930-118.445127 1700000000\n").await;
    assert!(at.starts_with("AT Solo "), "{at}");

    // 300 identical WHATSATs, all at once (bounds differ: the bound is applied after the cache).
    let identical = (0..300).map(|i| {
        let line = format!("WHATSAT kiwi 10 {}\n", 1 + i % 3);
        tokio::spawn(async move { ask(port, &line).await })
    });
    for reply in futures_join(identical.collect()).await {
        assert!(reply.contains("\"status\" : \"OK\""), "{reply}");
    }
    let calls = places.received_requests().await.unwrap_or_default().len();
    assert_eq!(
        calls, 1,
        "300 identical WHATSATs made {calls} upstream calls"
    );

    // 300 distinct searches (radii) at 50 a second: ten times the bound of 5 a second.
    let started = Instant::now();
    let mut distinct = Vec::new();
    for i in 0..300 {
        let line = format!("WHATSAT kiwi {}.{}5 3\n", 1 + i / 10, i % 10);
        distinct.push(tokio::spawn(async move { ask(port, &line).await }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let replies = futures_join(distinct).await;
    let elapsed = started.elapsed();
    let over = replies
        .iter()
        .filter(|r| r.contains("\"status\" : \"OVER_QUERY_LIMIT\""))
        .count();
    let calls = places.received_requests().await.unwrap_or_default().len() - 1;
    let allowed = RATE_MAX * (elapsed.as_secs() as usize + 1);
    assert!(
        calls <= allowed,
        "{calls} upstream calls in {elapsed:?}, over {RATE_MAX} a second"
    );
    assert_eq!(calls + over, 300, "every distinct search called or refused");
    assert!(replies.iter().all(|r| r.starts_with("AT Solo ")));

    let (status, scrape) = get(admin, "/metrics").await;
    assert_eq!(status, 200);
    let series = |s: &str| format!("{s}{{server=\"Solo\"");
    assert_eq!(value(&scrape, &series("herd_records")), 1.0);
    let commands = |kind: &str| {
        format!("herd_commands_total{{server=\"Solo\",kind=\"{kind}\",outcome=\"answered\"}}")
    };
    assert_eq!(value(&scrape, &commands("iamat")), 1.0);
    assert_eq!(value(&scrape, &commands("whatsat")), 600.0);
    let answers = |outcome: &str| {
        format!("herd_places_answers_total{{server=\"Solo\",outcome=\"{outcome}\"}}")
    };
    assert_eq!(
        value(&scrape, &answers("called")) as usize,
        calls + 1,
        "{scrape}"
    );
    assert_eq!(count(&scrape, &answers("over_rate")) as usize, over);
    assert_eq!(
        count(&scrape, &answers("merged")) + count(&scrape, &answers("cached")),
        299.0
    );
    assert_eq!(
        value(
            &scrape,
            &series("herd_places_upstream_latency_seconds_count")
        ) as usize,
        calls + 1
    );
    assert_eq!(
        value(&scrape, &series("herd_places_cache_answers")),
        (calls + 1) as f64
    );
    // Every client connection has closed (the last handlers may take a moment to end).
    let mut open = value(&scrape, &series("herd_connections_open"));
    for _ in 0..20 {
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        open = value(
            &get(admin, "/metrics").await.1,
            &series("herd_connections_open"),
        );
    }
    assert_eq!(open, 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Awaits every task, in order.
async fn futures_join(tasks: Vec<tokio::task::JoinHandle<String>>) -> Vec<String> {
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("a client task"));
    }
    replies
}
