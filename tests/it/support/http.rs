//! HTTP plumbing for tests: a tiny client over real TCP and a tiny server loop.
//!
//! The client never follows redirects and never pools across calls (each
//! [`send`] opens its own connection), so every test request is observable as
//! sent. [`raw`] writes arbitrary bytes for framing tests. [`serve`] runs a
//! closure as an HTTP/1 + HTTP/2 server on `127.0.0.1:0`; the fake IdP and the
//! echo upstream are built on it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, LOCATION, SET_COOKIE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A fully read response.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// Status code.
    pub status: StatusCode,
    /// All response headers (duplicates kept).
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

// === impl TestResponse ===

impl TestResponse {
    /// The body as UTF-8 (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// The first value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        let values = self.headers.get_all(name).iter();
        values
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    /// Every `Set-Cookie` header line.
    pub fn set_cookies(&self) -> Vec<String> {
        self.header_all(SET_COOKIE.as_str())
    }

    /// The full `Set-Cookie` line that sets cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&prefix))
    }

    /// The value cookie `name` is set to (text between `=` and the first `;`).
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        let line = self.set_cookie(name)?;
        let (_, rest) = line.split_once('=')?;
        Some(rest.split(';').next().unwrap_or_default().to_owned())
    }

    /// The `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header(LOCATION.as_str())
    }
}

// === client ===

/// Sends `req` (absolute-form URI, plain `http`) on a fresh connection and reads the whole answer.
pub async fn send(req: Request<Full<Bytes>>) -> TestResponse {
    try_send(req).await.unwrap_or_else(|e| panic!("{e}"))
}

/// [`send`], with a refused or broken connection as an error (a load
/// balancer's client retries those on another instance).
pub async fn try_send(req: Request<Full<Bytes>>) -> Result<TestResponse, String> {
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http::<Full<Bytes>>();
    let what = format!("{} {}", req.method(), req.uri());
    let res = client
        .request(req)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let (parts, body) = res.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("{what} body: {e}"))?;
    Ok(TestResponse {
        status: parts.status,
        headers: parts.headers,
        body: body.to_bytes(),
    })
}

/// Sends `method url` with `headers` and `body`.
pub async fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> TestResponse {
    let mut req = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    send(
        req.body(Full::new(body.into()))
            .expect("valid test request"),
    )
    .await
}

/// `GET url` with `headers`.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> TestResponse {
    request(Method::GET, url, headers, Bytes::new()).await
}

/// `POST url` with `headers` and `body`.
pub async fn post(url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> TestResponse {
    request(Method::POST, url, headers, body).await
}

/// Writes `bytes` to `addr` and returns everything read until the peer closes or 2 s pass.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect for raw request");
    stream.write_all(bytes).await.expect("write raw request");
    let mut out = Vec::new();
    let read = stream.read_to_end(&mut out);
    match tokio::time::timeout(Duration::from_secs(2), read).await {
        // Closed, or kept alive until the deadline: either way `out` holds what arrived.
        Ok(Ok(_)) | Err(_) => {}
        Ok(Err(e)) => eprintln!("raw request to {addr}: read ended with {e}"),
    }
    out
}

// === server ===

/// A running test server; the accept loop stops when this is dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TestServer {
    /// The bound address (`127.0.0.1:<ephemeral>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `127.0.0.1:0`, for callers that need the address before serving.
pub async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// Serves `handler` (given the request with its body fully read) on `127.0.0.1:0`.
pub async fn serve<F, Fut>(handler: F) -> TestServer
where
    F: Fn(Request<Bytes>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_on(bind().await, handler)
}

/// Serves `handler` on an already bound `listener`.
pub fn serve_on<F, Fut>(listener: TcpListener, handler: F) -> TestServer
where
    F: Fn(Request<Bytes>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let addr = listener.local_addr().expect("test server addr");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, handler.clone()));
        }
    });
    TestServer { addr, task }
}

async fn serve_connection<F, Fut>(stream: TcpStream, handler: F)
where
    F: Fn(Request<Bytes>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let service = service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>(handler(Request::from_parts(parts, body)).await)
        }
    });
    // Connection errors (client hang-ups, malformed framing) are part of what tests provoke.
    let builder = auto::Builder::new(TokioExecutor::new());
    if let Err(e) = builder
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        eprintln!("test server connection ended: {e}");
    }
}

/// A response with `status`, `headers` and `body`.
pub fn response(
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = StatusCode::from_u16(status).expect("valid status");
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        let value = HeaderValue::from_str(value).expect("valid header value");
        res.headers_mut().append(name, value);
    }
    res
}

/// A JSON response with `status` and `Cache-Control: no-store`.
pub fn json_response(status: u16, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let headers = [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
    ];
    response(status, &headers, body.to_string())
}
