//! The HTTP seam and the one bounded exchange every Places request goes through.
//!
//! Production plugs in a hyper-util legacy client over hyper-rustls; the simulation plugs in a
//! client whose connector dials the simulated Places host. Either way the exchange is bounded
//! in time (one deadline over connect, headers and body) and in memory (the body cap).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::error::google_error;
use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;

use super::error::{UpstreamError, error_chain};

/// Any error from the HTTP layer; only its text is used (in `error_message` and the log).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future an [`HttpSend`] returns: boxed so the trait stays object-safe.
pub type SendFuture = Pin<Box<dyn Future<Output = Result<Response<Incoming>, BoxError>> + Send>>;

/// Sends one HTTP request. The seam for HTTP: the production binary passes a hyper-util
/// legacy `Client` over hyper-rustls; the simulation passes a `Client` over a connector that
/// dials a simulated host. `PlacesClient` holds it as `Arc<dyn HttpSend>` so neither the
/// client type nor its connector leaks into the rest of the server.
pub trait HttpSend: Send + Sync + 'static {
    fn send(&self, req: Request<Full<Bytes>>) -> SendFuture;
}

impl<C> HttpSend for Client<C, Full<Bytes>>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn send(&self, req: Request<Full<Bytes>>) -> SendFuture {
        let response = self.request(req);
        Box::pin(async move { response.await.map_err(BoxError::from) })
    }
}

/// What came back: the HTTP status, and the body or why it could not be read. A non-2xx
/// answer is reported by its status even when its body is unreadable.
pub(crate) struct Exchange {
    pub(crate) status: StatusCode,
    pub(crate) body: Result<Bytes, UpstreamError>,
}

impl Exchange {
    /// The body as a JSON object, for both APIs: a non-2xx answer is an HTTP failure (with
    /// Google's error status and message when its body has them), anything but an object is
    /// malformed.
    pub(crate) fn json_object(
        self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, UpstreamError> {
        if !self.status.is_success() {
            let (status, message) = self
                .body
                .ok()
                .map(|body| google_error(&body))
                .unwrap_or_default();
            return Err(UpstreamError::HttpStatus {
                code: self.status.as_u16(),
                status,
                message,
            });
        }
        let body = self.body?;
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(object)) => Ok(object),
            Ok(_) => Err(UpstreamError::Malformed("not a JSON object".to_string())),
            Err(e) => Err(UpstreamError::Malformed(e.to_string())),
        }
    }
}

/// Sends `req` and reads the whole body, all within `timeout`, never holding more than
/// `bytes_max` body bytes.
pub(crate) async fn exchange(
    http: &dyn HttpSend,
    req: Request<Full<Bytes>>,
    timeout: Duration,
    bytes_max: usize,
) -> Result<Exchange, UpstreamError> {
    match tokio::time::timeout(timeout, exchange_unbounded_in_time(http, req, bytes_max)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(UpstreamError::Timeout(timeout)),
    }
}

async fn exchange_unbounded_in_time(
    http: &dyn HttpSend,
    req: Request<Full<Bytes>>,
    bytes_max: usize,
) -> Result<Exchange, UpstreamError> {
    let response = http
        .send(req)
        .await
        .map_err(|e| UpstreamError::Connect(error_chain(&*e)))?;
    let (parts, body) = response.into_parts();
    // An honest Content-Length over the cap fails before a byte of the body is read.
    let declared_too_large = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > bytes_max as u64);
    let body = if declared_too_large {
        Err(UpstreamError::TooLarge(bytes_max))
    } else {
        match Limited::new(body, bytes_max).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => Err(UpstreamError::TooLarge(bytes_max)),
            Err(e) => Err(UpstreamError::Connect(error_chain(&*e))),
        }
    };
    Ok(Exchange {
        status: parts.status,
        body,
    })
}
