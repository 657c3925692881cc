//! An echo upstream on `127.0.0.1:0`: what bff forwards is what tests assert on.
//!
//! Owns the record of every request it received (headers with
//! duplicates) and the knobs for its answer: status, extra response headers
//! (hostile `Set-Cookie`, hop-by-hop headers, ...), body and delay. By default
//! it answers 200 with `{"method","path","headers","body"}` as JSON, where
//! duplicate header values are joined with `", "`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::{Map, Value, json};

use super::http::{self as test_http, TestServer, response};

/// One request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Path and query, e.g. `/api/items?x=1`.
    pub path: String,
    /// HTTP version, e.g. `HTTP/1.1`.
    pub version: String,
    /// Header (lower-case name, value) pairs; duplicates kept in arrival order, grouped by name.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

/// How the upstream answers.
#[derive(Debug, Clone)]
pub struct UpstreamBehaviour {
    /// Status code (default 200).
    pub status: u16,
    /// Headers appended to every response, e.g. `("set-cookie", "__Host-bff=evil")`.
    pub headers: Vec<(String, String)>,
    /// Replaces the echo JSON body.
    pub body: Option<Bytes>,
    /// Delay before answering.
    pub delay: Duration,
}

impl Default for UpstreamBehaviour {
    fn default() -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: None,
            delay: Duration::ZERO,
        }
    }
}

/// A running echo upstream; stops when dropped.
pub struct Upstream {
    server: TestServer,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    behaviour: Mutex<UpstreamBehaviour>,
    requests: Mutex<Vec<RecordedRequest>>,
}

// === impl RecordedRequest ===

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as UTF-8 (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

// === impl Upstream ===

impl Upstream {
    /// Starts an echo upstream.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let handler_state = Arc::clone(&shared);
        let server = test_http::serve(move |req| handle(Arc::clone(&handler_state), req)).await;
        Self { server, shared }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.base_url()
    }

    /// The listening address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// Changes the answer, e.g. `up.set(|b| b.status = 401)`.
    pub fn set(&self, change: impl FnOnce(&mut UpstreamBehaviour)) {
        change(&mut self.shared.behaviour());
    }

    /// Appends a response header to every answer.
    pub fn add_response_header(&self, name: &str, value: &str) {
        self.set(|b| b.headers.push((name.to_owned(), value.to_owned())));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests().clone()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.requests().last().cloned()
    }

    /// Number of requests received.
    pub fn request_count(&self) -> usize {
        self.shared.requests().len()
    }
}

// === impl Shared ===

impl Shared {
    fn behaviour(&self) -> MutexGuard<'_, UpstreamBehaviour> {
        self.behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn requests(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// === helpers ===

async fn handle(shared: Arc<Shared>, req: Request<Bytes>) -> http::Response<Full<Bytes>> {
    let recorded = record(req);
    let echo = echo_json(&recorded);
    shared.requests().push(recorded);
    let b = shared.behaviour().clone();
    tokio::time::sleep(b.delay).await;
    let body = b.body.unwrap_or_else(|| Bytes::from(echo.to_string()));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if !b
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type", "application/json"));
    }
    headers.extend(b.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    response(b.status, &headers, body)
}

fn record(req: Request<Bytes>) -> RecordedRequest {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), ToString::to_string);
    let headers = parts.headers.iter().map(|(name, value)| {
        (
            name.as_str().to_owned(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )
    });
    RecordedRequest {
        method: parts.method.to_string(),
        path,
        version: format!("{:?}", parts.version),
        headers: headers.collect(),
        body,
    }
}

fn echo_json(req: &RecordedRequest) -> Value {
    let mut headers = Map::new();
    for (name, value) in &req.headers {
        match headers.get_mut(name) {
            Some(Value::String(joined)) => *joined = format!("{joined}, {value}"),
            _ => {
                headers.insert(name.clone(), json!(value));
            }
        }
    }
    json!({"method": req.method, "path": req.path, "headers": headers, "body": req.text()})
}
