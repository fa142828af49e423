//! The Places upstream against a wiremock Places on 127.0.0.1: request shape for both APIs,
//! Google's layout, every failure path, the offline place set, and that the key stays secret.
//! Nothing here reaches any address but the loopback stub.

use std::cell::RefCell;
use std::error::Error;
use std::io::Write;
use std::sync::{Arc, Once};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::{Value, json};
use server::events::Event;
use server::places::offline;
use server::places::{HttpSend, PlacesApi, PlacesClient, PlacesSettings};
use server::protocol::{Location, Radius};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

type TestResult = Result<(), Box<dyn Error>>;

const KEY: &str = "test-key&=+/";
const LEGACY_PATH: &str = "/maps/api/place/nearbysearch/json";
const NEW_PATH: &str = "/v1/places:searchNearby";
const FIELD_MASK: &str = "places.id,places.displayName,places.formattedAddress,places.location,places.types,places.rating";

fn location(text: &str) -> Location {
    match text.parse() {
        Ok(location) => location,
        Err(_) => panic!("test location {text:?} does not parse"),
    }
}

fn radius(text: &str) -> Radius {
    match text.parse() {
        Ok(radius) => radius,
        Err(_) => panic!("test radius {text:?} does not parse"),
    }
}

fn kiwi() -> Location {
    location("+34.068930-118.445127")
}

/// A plain-http hyper-util client, as the simulation builds one over its own connector.
fn plain_http() -> Arc<dyn HttpSend> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(HttpConnector::new());
    Arc::new(client)
}

fn settings(api: PlacesApi, stub: &MockServer) -> PlacesSettings {
    PlacesSettings {
        api,
        base_url: Some(stub.uri()),
        ..PlacesSettings::default()
    }
}

/// Every client a test makes goes through here or [`offline_client`], so event capture is
/// installed before any event is emitted.
fn online(settings: PlacesSettings) -> PlacesClient {
    capture_events();
    PlacesClient::online(settings, KEY.to_string(), plain_http())
}

fn offline_client() -> PlacesClient {
    capture_events();
    PlacesClient::offline()
}

fn legacy_client(stub: &MockServer) -> PlacesClient {
    online(settings(PlacesApi::Legacy, stub))
}

fn new_client(stub: &MockServer) -> PlacesClient {
    online(settings(PlacesApi::New, stub))
}

/// The reply's JSON, after checking it ends in exactly one blank line.
fn parse_reply(text: &str) -> Result<Value, Box<dyn Error>> {
    assert!(
        text.ends_with("}\n\n"),
        "reply does not end in \"}}\\n\\n\": {text:?}"
    );
    assert!(
        !text.trim_end().contains("\n\n"),
        "blank line inside the reply: {text:?}"
    );
    Ok(serde_json::from_str(text)?)
}

fn results(value: &Value) -> &[Value] {
    value["results"].as_array().map_or(&[], Vec::as_slice)
}

async fn serve_legacy(stub: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(LEGACY_PATH))
        .respond_with(response)
        .mount(stub)
        .await;
}

#[tokio::test]
async fn legacy_request_carries_the_location_the_radius_in_metres_and_the_key() -> TestResult {
    let stub = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LEGACY_PATH))
        .and(query_param("location", "34.068930,-118.445127"))
        .and(query_param("radius", "10000"))
        .and(query_param("key", KEY))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(offline::nearby_json(
                34.06893,
                -118.445127,
                10_000.0,
            )),
        )
        .expect(1)
        .mount(&stub)
        .await;
    let reply = legacy_client(&stub).nearby(&kiwi(), &radius("10"), 5).await;
    assert_eq!(parse_reply(&reply)?["status"], "OK");
    // The key's reserved characters are percent-encoded on the wire, not taken as syntax.
    let requests = stub.received_requests().await.unwrap_or_default();
    let query = requests
        .first()
        .and_then(|r| r.url.query())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        query,
        "location=34.068930,-118.445127&radius=10000&key=test-key%26%3D%2B%2F"
    );
    Ok(())
}

#[tokio::test]
async fn a_fractional_radius_is_sent_as_exact_metres() -> TestResult {
    let stub = MockServer::start().await;
    Mock::given(query_param("radius", "500"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(offline::nearby_json(
                34.06893,
                -118.445127,
                500.0,
            )),
        )
        .expect(1)
        .mount(&stub)
        .await;
    let reply = legacy_client(&stub)
        .nearby(&kiwi(), &radius("0.5"), 20)
        .await;
    assert_eq!(parse_reply(&reply)?["status"], "OK");
    Ok(())
}

#[tokio::test]
async fn legacy_results_are_cut_to_the_bound() -> TestResult {
    let stub = MockServer::start().await;
    let served = offline::nearby_json(34.06893, -118.445127, 50_000.0);
    serve_legacy(&stub, ResponseTemplate::new(200).set_body_json(&served)).await;
    let reply = parse_reply(&legacy_client(&stub).nearby(&kiwi(), &radius("50"), 3).await)?;
    assert_eq!(results(&reply), &results(&served)[..3]);
    assert_eq!(reply["html_attributions"], served["html_attributions"]);
    Ok(())
}

#[tokio::test]
async fn a_small_body_is_laid_out_exactly_as_google_does() -> TestResult {
    let stub = MockServer::start().await;
    let body = r#"{"status":"OK","next_page_token":"tok","results":[{"name":"Zed","geometry":{"location":{"lng":-118.4,"lat":34.1}},"types":[],"rating":4.5},{"name":"Ünïcode \"q\"\n\nx"},{"name":"dropped"}],"html_attributions":[]}"#;
    serve_legacy(
        &stub,
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
    )
    .await;
    let reply = legacy_client(&stub).nearby(&kiwi(), &radius("1"), 2).await;
    let expected = concat!(
        "{\n",
        "   \"status\" : \"OK\",\n",
        "   \"next_page_token\" : \"tok\",\n",
        "   \"results\" : [\n",
        "      {\n",
        "         \"name\" : \"Zed\",\n",
        "         \"geometry\" : {\n",
        "            \"location\" : {\n",
        "               \"lng\" : -118.4,\n",
        "               \"lat\" : 34.1\n",
        "            }\n",
        "         },\n",
        "         \"types\" : [],\n",
        "         \"rating\" : 4.5\n",
        "      },\n",
        "      {\n",
        "         \"name\" : \"Ünïcode \\\"q\\\"\\n\\nx\"\n",
        "      }\n",
        "   ],\n",
        "   \"html_attributions\" : []\n",
        "}\n",
        "\n",
    );
    assert_eq!(reply, expected);
    Ok(())
}

#[tokio::test]
async fn a_server_error_still_gives_the_client_json_with_unknown_error() -> TestResult {
    let stub = MockServer::start().await;
    serve_legacy(
        &stub,
        ResponseTemplate::new(503).set_body_string("<html>down</html>"),
    )
    .await;
    let reply = legacy_client(&stub).nearby(&kiwi(), &radius("10"), 5).await;
    let expected = concat!(
        "{\n",
        "   \"html_attributions\" : [],\n",
        "   \"results\" : [],\n",
        "   \"status\" : \"UNKNOWN_ERROR\",\n",
        "   \"error_message\" : \"Places answered HTTP 503\"\n",
        "}\n",
        "\n",
    );
    assert_eq!(reply, expected);
    Ok(())
}

#[tokio::test]
async fn a_slow_places_times_out_into_unknown_error() -> TestResult {
    let stub = MockServer::start().await;
    serve_legacy(
        &stub,
        ResponseTemplate::new(200)
            .set_body_json(json!({}))
            .set_delay(Duration::from_secs(5)),
    )
    .await;
    let mut settings = settings(PlacesApi::Legacy, &stub);
    settings.timeout = Duration::from_millis(200);
    let client = online(settings);
    let reply = parse_reply(&client.nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(reply["status"], "UNKNOWN_ERROR");
    assert_eq!(reply["results"], json!([]));
    assert_eq!(reply["error_message"], "Places did not answer within 200ms");
    Ok(())
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed() -> TestResult {
    let stub = MockServer::start().await;
    serve_legacy(
        &stub,
        ResponseTemplate::new(200).set_body_string("{\"status\": \"OK\", \"results\": ["),
    )
    .await;
    let reply = parse_reply(&legacy_client(&stub).nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(reply["status"], "UNKNOWN_ERROR");
    let message = reply["error_message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Places response is malformed: "),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn json_without_a_status_is_malformed() -> TestResult {
    let stub = MockServer::start().await;
    serve_legacy(
        &stub,
        ResponseTemplate::new(200).set_body_json(json!({"results": []})),
    )
    .await;
    let reply = parse_reply(&legacy_client(&stub).nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(reply["status"], "UNKNOWN_ERROR");
    assert_eq!(
        reply["error_message"],
        "Places response is malformed: no \"status\" string"
    );
    Ok(())
}

#[tokio::test]
async fn a_denied_request_passes_googles_status_and_message_through_in_its_order() -> TestResult {
    let stub = MockServer::start().await;
    let body = r#"{"error_message":"The provided API key is invalid.","html_attributions":[],"results":[{"name":"never shown"}],"status":"REQUEST_DENIED"}"#;
    serve_legacy(
        &stub,
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
    )
    .await;
    let reply = legacy_client(&stub).nearby(&kiwi(), &radius("10"), 5).await;
    let expected = concat!(
        "{\n",
        "   \"error_message\" : \"The provided API key is invalid.\",\n",
        "   \"html_attributions\" : [],\n",
        "   \"results\" : [],\n",
        "   \"status\" : \"REQUEST_DENIED\"\n",
        "}\n",
        "\n",
    );
    assert_eq!(reply, expected);
    Ok(())
}

#[tokio::test]
async fn a_non_ok_status_without_a_message_gets_one() -> TestResult {
    let stub = MockServer::start().await;
    let body = json!({"html_attributions": [], "results": [], "status": "OVER_QUERY_LIMIT"});
    serve_legacy(&stub, ResponseTemplate::new(200).set_body_json(body)).await;
    let reply = parse_reply(&legacy_client(&stub).nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(reply["status"], "OVER_QUERY_LIMIT");
    assert_eq!(
        reply["error_message"],
        "Places answered status OVER_QUERY_LIMIT"
    );
    Ok(())
}

#[tokio::test]
async fn a_body_over_the_cap_is_an_upstream_failure() -> TestResult {
    let stub = MockServer::start().await;
    serve_legacy(
        &stub,
        ResponseTemplate::new(200).set_body_json(offline::nearby_json(
            34.06893,
            -118.445127,
            50_000.0,
        )),
    )
    .await;
    let mut settings = settings(PlacesApi::Legacy, &stub);
    settings.response_bytes_max = 1024;
    let client = online(settings);
    let reply = parse_reply(&client.nearby(&kiwi(), &radius("50"), 20).await)?;
    assert_eq!(reply["status"], "UNKNOWN_ERROR");
    assert_eq!(
        reply["error_message"],
        "Places response is over the 1024-byte limit"
    );
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_is_an_upstream_failure() -> TestResult {
    // Bind then drop a loopback listener: its port is (almost surely) closed afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let settings = PlacesSettings {
        base_url: Some(format!("http://127.0.0.1:{port}")),
        ..PlacesSettings::default()
    };
    let client = online(settings);
    let reply = parse_reply(&client.nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(reply["status"], "UNKNOWN_ERROR");
    let message = reply["error_message"].as_str().unwrap_or_default();
    assert!(message.starts_with("could not reach Places: "), "{message}");
    Ok(())
}

#[tokio::test]
async fn new_api_posts_the_key_and_field_mask_in_headers_and_the_circle_in_the_body() -> TestResult
{
    let stub = MockServer::start().await;
    let places = json!({"places": [
        {"id": "b", "displayName": {"text": "Second", "languageCode": "en"}, "rating": 4.0},
        {"id": "a", "displayName": {"text": "First", "languageCode": "en"}},
        {"id": "c"}
    ]});
    Mock::given(method("POST"))
        .and(path(NEW_PATH))
        .and(header("Content-Type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&places))
        .expect(1)
        .mount(&stub)
        .await;
    let reply = new_client(&stub).nearby(&kiwi(), &radius("0.5"), 2).await;

    let requests = stub.received_requests().await.unwrap_or_default();
    let request = requests.first().ok_or("no request reached the stub")?;
    assert_eq!(request.url.query(), None, "the key must not be in the URL");
    // Checked on the raw request: wiremock's `header` matcher splits values at commas.
    let header_bytes = |name: &str| request.headers.get(name).map(|v| v.as_bytes().to_vec());
    assert_eq!(
        header_bytes("x-goog-api-key"),
        Some(KEY.as_bytes().to_vec())
    );
    assert_eq!(
        header_bytes("x-goog-fieldmask"),
        Some(FIELD_MASK.as_bytes().to_vec())
    );
    let body: Value = serde_json::from_slice(&request.body)?;
    assert_eq!(
        body,
        json!({"maxResultCount": 2, "locationRestriction": {"circle": {
            "center": {"latitude": 34.06893, "longitude": -118.445127}, "radius": 500.0}}})
    );

    let reply = parse_reply(&reply)?;
    assert_eq!(
        reply,
        json!({"html_attributions": [], "results": [places["places"][0], places["places"][1]], "status": "OK"})
    );
    let keys: Vec<&str> = reply
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["html_attributions", "results", "status"]);
    Ok(())
}

#[tokio::test]
async fn new_api_with_nothing_near_is_zero_results() -> TestResult {
    let stub = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(NEW_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&stub)
        .await;
    let reply = new_client(&stub).nearby(&kiwi(), &radius("10"), 5).await;
    assert_eq!(
        reply,
        "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}\n\n"
    );
    Ok(())
}

#[tokio::test]
async fn new_api_errors_map_to_googles_status_and_message() -> TestResult {
    let stub = MockServer::start().await;
    let error = json!({"error": {"code": 403, "message": "API key not valid. Please pass a valid API key.", "status": "PERMISSION_DENIED"}});
    Mock::given(method("POST"))
        .and(path(NEW_PATH))
        .respond_with(ResponseTemplate::new(403).set_body_json(error))
        .mount(&stub)
        .await;
    let reply = parse_reply(&new_client(&stub).nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(
        reply,
        json!({"html_attributions": [], "results": [], "status": "PERMISSION_DENIED",
               "error_message": "API key not valid. Please pass a valid API key."})
    );
    Ok(())
}

#[tokio::test]
async fn the_https_client_also_speaks_plain_http_to_a_loopback_stub() -> TestResult {
    let stub = MockServer::start().await;
    serve_legacy(
        &stub,
        ResponseTemplate::new(200).set_body_json(offline::nearby_json(
            34.06893,
            -118.445127,
            10_000.0,
        )),
    )
    .await;
    capture_events();
    let client = PlacesClient::https(settings(PlacesApi::Legacy, &stub), KEY.to_string());
    let reply = parse_reply(&client.nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(results(&reply).len(), 5);
    Ok(())
}

#[tokio::test]
async fn the_offline_client_is_deterministic_bounded_and_marked_offline() -> TestResult {
    let client = offline_client();
    assert!(client.is_offline());
    assert_eq!(
        client.describe(),
        "offline place set (PLACES_API_KEY not set)"
    );
    let first = client.nearby(&kiwi(), &radius("10"), 20).await;
    let second = client.nearby(&kiwi(), &radius("10"), 20).await;
    assert_eq!(first, second);

    let wide = parse_reply(&first)?;
    assert_eq!(wide["status"], "OK");
    assert_eq!(wide["html_attributions"], json!([offline::ATTRIBUTION]));
    assert!(results(&wide).iter().all(|r| r["offline"] == true));

    let narrow = parse_reply(&client.nearby(&kiwi(), &radius("0.5"), 20).await)?;
    assert!(results(&narrow).len() < results(&wide).len());
    assert_eq!(results(&narrow), &results(&wide)[..results(&narrow).len()]);

    let cut = parse_reply(&client.nearby(&kiwi(), &radius("10"), 3).await)?;
    assert_eq!(results(&cut), &results(&wide)[..3]);
    Ok(())
}

#[tokio::test]
async fn the_offline_client_finds_nothing_in_a_tiny_radius() -> TestResult {
    let reply = parse_reply(&offline_client().nearby(&kiwi(), &radius("0.001"), 5).await)?;
    assert_eq!(reply["status"], "ZERO_RESULTS");
    assert_eq!(reply["results"], json!([]));
    Ok(())
}

#[tokio::test]
async fn a_stub_serving_the_offline_set_gives_the_same_bytes_as_the_offline_client() -> TestResult {
    let stub = MockServer::start().await;
    serve_legacy(
        &stub,
        ResponseTemplate::new(200).set_body_json(offline::nearby_json(
            34.06893,
            -118.445127,
            5_000.0,
        )),
    )
    .await;
    let online = legacy_client(&stub).nearby(&kiwi(), &radius("5"), 7).await;
    let offline = offline_client().nearby(&kiwi(), &radius("5"), 7).await;
    assert_eq!(online, offline);
    Ok(())
}

/// A one-connection HTTP server on 127.0.0.1 that reads the request head, writes `head`,
/// then each of `chunks`, then holds the connection open for `hold`: for what wiremock cannot
/// do (chunked bodies, a body that stalls after the headers).
async fn raw_places(
    head: &'static str,
    chunks: Vec<Vec<u8>>,
    hold: Duration,
) -> Result<String, Box<dyn Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for chunk in chunks {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(hold).await;
    });
    Ok(base)
}

#[tokio::test]
async fn a_chunked_body_over_the_cap_is_cut_off_while_streaming() -> TestResult {
    let chunk = |data: &[u8]| {
        [
            format!("{:x}\r\n", data.len()).into_bytes(),
            data.to_vec(),
            b"\r\n".to_vec(),
        ]
        .concat()
    };
    let mut chunks: Vec<Vec<u8>> = (0..64).map(|_| chunk(&[b' '; 512])).collect();
    chunks.push(b"0\r\n\r\n".to_vec());
    let base = raw_places(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        chunks,
        Duration::ZERO,
    )
    .await?;
    let settings = PlacesSettings {
        base_url: Some(base),
        response_bytes_max: 1024,
        ..PlacesSettings::default()
    };
    let client = online(settings);
    let reply = parse_reply(&client.nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(
        reply["error_message"],
        "Places response is over the 1024-byte limit"
    );
    Ok(())
}

#[tokio::test]
async fn a_body_that_stalls_after_the_headers_times_out() -> TestResult {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    let base = raw_places(head, Vec::new(), Duration::from_secs(30)).await?;
    let settings = PlacesSettings {
        base_url: Some(base),
        timeout: Duration::from_millis(200),
        ..PlacesSettings::default()
    };
    let client = online(settings);
    let reply = parse_reply(&client.nearby(&kiwi(), &radius("10"), 5).await)?;
    assert_eq!(reply["status"], "UNKNOWN_ERROR");
    assert_eq!(reply["error_message"], "Places did not answer within 200ms");
    Ok(())
}

thread_local! {
    /// This test thread's formatted events (each `#[tokio::test]` runs on its own thread).
    static EVENTS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes formatted events into [`EVENTS`].
struct ThreadEvents;

impl Write for ThreadEvents {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        EVENTS.with_borrow_mut(|events| events.extend_from_slice(bytes));
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs one global subscriber writing to per-thread buffers, before any event of any test.
/// (A scoped `set_default` per test races with other threads registering the same callsites
/// and can cache "no interest", silently losing events.)
fn capture_events() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadEvents)
            .with_ansi(false)
            .without_time()
            .finish();
        // Only this function installs one; an error would mean someone else did, and the
        // events test would then fail on its own assertions.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

fn take_events() -> String {
    EVENTS.with_borrow_mut(|events| String::from_utf8_lossy(&std::mem::take(events)).into_owned())
}

#[tokio::test]
async fn events_are_emitted_and_the_key_appears_in_no_event_or_reply() -> TestResult {
    let stub = MockServer::start().await;
    // An upstream that echoes the key back must not get it into the reply or the log.
    let body = json!({"html_attributions": [], "results": [], "status": "REQUEST_DENIED",
                      "error_message": format!("key {KEY} is not allowed")});
    serve_legacy(&stub, ResponseTemplate::new(200).set_body_json(body)).await;
    let client = legacy_client(&stub);
    take_events();

    let reply = client.nearby(&kiwi(), &radius("10"), 5).await;

    let log = take_events();
    assert!(
        !reply.contains(KEY) && !log.contains(KEY),
        "key leaked:\n{reply}\n{log}"
    );
    assert!(reply.contains("key [redacted] is not allowed"), "{reply}");
    let events: Vec<Event> = log
        .lines()
        .filter_map(|line| line.split_once("json=").map(|(_, json)| json))
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let [request, error, response] = &events[..] else {
        panic!("three events, not:\n{log}");
    };
    assert_eq!(
        request,
        &Event::PlacesRequest {
            api: "legacy".into(),
            radius_m: "10000".into(),
            bound: 5,
        }
    );
    assert_eq!(
        error,
        &Event::PlacesError {
            kind: "status".into(),
            detail: "Places answered status REQUEST_DENIED: key [redacted] is not allowed".into(),
        }
    );
    assert!(
        matches!(response, Event::PlacesResponse { status, results: 0, .. } if status == "REQUEST_DENIED"),
        "{response:?}"
    );
    Ok(())
}
