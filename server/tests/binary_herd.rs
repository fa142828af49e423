//! The `server` binary itself: five processes of the default herd (ports 10000-10004), two of
//! them killed without warning and restarted with empty memory. Everything converges.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::events::{Event, read_log};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SERVERS: [(&str, u16); 5] = [
    ("Bailey", 10000),
    ("Bona", 10001),
    ("Campbell", 10002),
    ("Clark", 10003),
    ("Jaquez", 10004),
];

/// Kills every process it started, even when an assertion fails.
struct Processes {
    log_dir: std::path::PathBuf,
    children: Vec<(String, Child)>,
}

impl Processes {
    fn start(&mut self, name: &str) {
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .arg(name)
            .arg("--log-dir")
            .arg(&self.log_dir)
            .env_remove("PLACES_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server binary");
        self.children.push((name.to_string(), child));
    }

    fn kill(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn ask(port: u16, line: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream.write_all(line.as_bytes()).await.ok()?;
    stream.shutdown().await.ok()?;
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut reply))
        .await
        .ok()?
        .ok()?;
    Some(reply)
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

/// Polls until every server answers `WHATSAT client` with `expected` as its first line.
async fn all_hold(client: &str, expected: &str, within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let mut missing = Vec::new();
        for (name, port) in SERVERS {
            let reply = ask(port, &format!("WHATSAT {client} 10 1\n"))
                .await
                .unwrap_or_default();
            if reply.lines().next() != Some(expected) {
                missing.push(format!("{name}: {:?}", reply.lines().next()));
            }
        }
        if missing.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            return Err(missing.join("; "));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The classic asyncio client (`classic_client.py`) against the running processes: the AT
/// line, a WHATSAT from another server, and `? ` for every invalid example of docs/protocol.md §4.
fn classic_client_gets_spec_replies() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/classic_client.py");
    let client = |port: u16, message: &str| -> String {
        let out = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(message)
            .output()
            .expect("python3 runs the classic client");
        assert!(
            out.status.success(),
            "classic client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let at = client(
        10003,
        "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503\n",
    );
    assert!(
        at.starts_with("AT Clark +")
            && at.ends_with(" kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503\n"),
        "{at}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let reply = loop {
        let reply = client(10000, "WHATSAT kiwi.cs.ucla.edu 10 5\n");
        if !reply.starts_with('?') || Instant::now() > deadline {
            break reply;
        }
    };
    let (first, json) = reply.split_once('\n').expect("an AT line and JSON");
    assert_eq!(first, at.trim_end(), "Bailey answers with Clark's AT line");
    assert!(json.ends_with("}\n\n"), "{json:?}");
    let value: serde_json::Value = serde_json::from_str(json).expect("the JSON parses");
    assert!(value["html_attributions"].is_array() && value["status"].is_string());
    assert!(value["results"].as_array().is_some_and(|r| r.len() <= 5));
    for invalid in [
        "IAMAT Clark +12-118",
        "IAMAT Clark +12-118 160000 123",
        "AS Clark +0.25 testuser +12-118 1234",
        "WHATSAT kiwi.cs.ucla.edu 51 5",
        "WHATSAT kiwi.cs.ucla.edu 10 21",
        "WHATSAT kiwi.cs.ucla.edu 0 5",
        "IAMAT kiwi +90.1+0 1621464827",
        "IAMAT kiwi +1+1 1621464827.1234567890",
    ] {
        let reply = client(10001, &format!("{invalid}\n"));
        assert_eq!(reply, format!("? {invalid}\n"), "input {invalid:?}");
    }
}

#[tokio::test]
async fn five_processes_converge_after_two_are_killed_and_restarted() {
    let log_dir = std::env::temp_dir().join(format!("herd-binary-test-{}", std::process::id()));
    let mut herd = Processes {
        log_dir: log_dir.clone(),
        children: Vec::new(),
    };
    for (name, _) in SERVERS {
        herd.start(name);
    }
    for (_, port) in SERVERS {
        wait_listening(port).await;
    }

    classic_client_gets_spec_replies();

    let before = ask(
        10000,
        "IAMAT before.kill +34.068930-118.445127 1621464827.959498503\n",
    )
    .await
    .expect("Bailey answers");
    let before = before.trim_end().to_string();
    all_hold("before.kill", &before, Duration::from_secs(5))
        .await
        .expect("the first update floods everywhere");

    herd.kill("Bona");
    herd.kill("Jaquez");
    // Clark's only neighbours are Bona and Jaquez: Clark is cut off while they are down.
    let newest = ask(10003, "IAMAT kiwi +1.5-2.5 1621464900\n")
        .await
        .expect("Clark answers");
    let newest = newest.trim_end().to_string();
    assert!(newest.starts_with("AT Clark "), "{newest}");
    herd.start("Bona");
    herd.start("Jaquez");
    wait_listening(10001).await;
    wait_listening(10004).await;

    let took = all_hold("kiwi", &newest, Duration::from_secs(3))
        .await
        .expect("every server returns the newest record within 3 s");
    all_hold("before.kill", &before, Duration::from_secs(3))
        .await
        .expect("records from before the kill survive at every server");
    println!("converged {took:?} after the restarted servers listened");

    let log = std::fs::read_to_string(log_dir.join("Clark.log")).unwrap_or_default();
    // Clark is still running: its last line may be half written.
    let log = &log[..log.rfind('\n').map_or(0, |end| end + 1)];
    let events: Vec<Event> = read_log(log)
        .expect("every line of a real log reads as a typed event")
        .into_iter()
        .map(|line| line.event)
        .collect();
    assert!(
        events.iter().any(|e| matches!(e, Event::Reconcile { .. })),
        "Clark's log records reconciliation"
    );
    assert!(
        events.iter().any(|e| matches!(e, Event::PeerDown { .. })),
        "Clark's log records dropped peer connections"
    );
    let _ = std::fs::remove_dir_all(&log_dir);
}

/// A redirected stderr gets plain text: the warning that Places is offline carries no ANSI
/// colour codes.
#[test]
fn warnings_on_a_redirected_stderr_carry_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("plain-stderr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let herd = dir.join("herd.yaml");
    std::fs::write(
        &herd,
        format!("servers:\n  - {{ name: Solo, host: 127.0.0.1, port: {port} }}\n"),
    )
    .expect("write herd file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("Solo")
        .arg("--herd")
        .arg(&herd)
        .arg("--log-dir")
        .arg(&dir)
        .env_remove("PLACES_API_KEY")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server binary");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let warning = rx
        .recv_timeout(Duration::from_secs(20))
        .map_err(|e| format!("no warning on stderr: {e}"));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let warning = warning.expect("a warning");
    assert!(warning.contains("PLACES_API_KEY"), "{warning:?}");
    assert!(!warning.contains('\u{1b}'), "colour codes: {warning:?}");
}

#[test]
fn a_bad_herd_file_is_refused_with_its_line_and_column() {
    let path = std::env::temp_dir().join(format!("bad-herd-{}.yaml", std::process::id()));
    std::fs::write(
        &path,
        "servers:\n  - { name: A, port: 9000, colour: red }\n",
    )
    .expect("write herd file");
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--herd")
        .arg(&path)
        .output()
        .expect("run server");
    let _ = std::fs::remove_file(&path);
    assert!(!out.status.success(), "a bad herd file must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("unknown field `colour`"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_server_name_or_flag_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("Nobody")
        .output()
        .expect("run server");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nobody is not a server of the herd"));
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--places-api")
        .arg("old")
        .output()
        .expect("run server");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("old"));
}

#[tokio::test]
async fn ctrl_c_stops_the_server_gracefully_and_logs_its_table() {
    stops_gracefully_on("INT").await;
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully_and_logs_its_table() {
    stops_gracefully_on("TERM").await;
}

/// Sends `signal` to a one-server herd holding one record: exit 0, table in the log.
async fn stops_gracefully_on(signal: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("herd-{signal}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let herd = dir.join("solo.yaml");
    std::fs::write(
        &herd,
        format!("servers:\n  - {{ name: Solo, port: {port} }}\n"),
    )
    .expect("herd file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--herd")
        .arg(&herd)
        .arg("--log-dir")
        .arg(&dir)
        .env_remove("PLACES_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server binary");
    wait_listening(port).await;
    let at = ask(port, "IAMAT kiwi +1+1 1621464827\n")
        .await
        .expect("Solo answers");
    assert!(at.starts_with("AT Solo "), "{at}");

    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("send the signal");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the server") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server must stop within 10 s of SIG{signal}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "a graceful stop exits 0, got {status}");
    let log = std::fs::read_to_string(dir.join("Solo.log")).unwrap_or_default();
    let lines = read_log(&log).expect("every line of a real log reads as a typed event");
    assert!(lines.iter().all(|line| line.server == "Solo"), "{lines:?}");
    let events: Vec<Event> = lines.into_iter().map(|line| line.event).collect();
    assert!(
        events.iter().any(|e| matches!(e, Event::Shutdown { .. })),
        "{log}"
    );
    assert!(
        events.iter().any(
            |e| matches!(e, Event::TableRecord { record } if record.to_string() == at.trim_end())
        ),
        "the table is logged: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
