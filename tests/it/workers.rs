//! Thread-per-core serving (`BFF_WORKERS`): kept-alive connections handed
//! to different worker threads, each with its own Redis connection, still
//! see one session state at once; shutdown lets in-flight requests finish
//! on every worker and then stops listening.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::harness::{API, Stack, Store};
use crate::support::http as test_http;

/// A kept-alive HTTP/1.1 connection to `addr`.
async fn kept_alive(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// `GET /app/data` on `conn` with `cookie`; the status.
async fn status_on(conn: &mut SendRequest<Full<Bytes>>, cookie: &str) -> StatusCode {
    let mut req = Request::get("/app/data")
        .header("host", "app.example.test")
        .header("cookie", cookie);
    for (name, value) in API {
        req = req.header(name, value);
    }
    let res = conn
        .send_request(req.body(Full::default()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let _body = res.into_body().collect().await.unwrap();
    status
}

#[tokio::test]
async fn a_logout_is_seen_at_once_by_kept_alive_connections_on_every_worker() {
    let Some(stack) = Stack::start_with(Store::Redis, &["--workers", "4"]).await else {
        return;
    };
    assert_eq!(stack.bff.config().workers, 4);
    let mut browser = stack.logged_in_browser().await;
    let cookie = browser.cookie_header();
    // Round-robin hand-off: 8 connections cover all 4 workers twice.
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(kept_alive(stack.bff.public_addr).await);
    }
    for conn in &mut conns {
        assert_eq!(status_on(conn, &cookie).await, StatusCode::OK);
    }
    let out = browser.logout(&stack).await;
    assert_eq!(out.status, 302, "{}", out.text());
    for conn in &mut conns {
        assert_eq!(
            status_on(conn, &cookie).await,
            StatusCode::UNAUTHORIZED,
            "a worker still saw the ended session"
        );
    }
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_then_stops_listening() {
    let Some(stack) = Stack::start_with(Store::Memory, &["--workers", "2"]).await else {
        return;
    };
    let browser = stack.logged_in_browser().await;
    stack.upstream.set(|b| b.delay = Duration::from_millis(400));
    let Stack {
        bff,
        upstream: _upstream,
        idp: _idp,
        redis: _redis,
    } = stack;
    let addr = bff.public_addr;
    let cookie = browser.cookie_header();
    let in_flight: Vec<_> = (0..4)
        .map(|_| {
            let cookie = cookie.clone();
            tokio::spawn(async move {
                let mut headers = API.to_vec();
                headers.push(("cookie", &cookie));
                test_http::get(&format!("http://{addr}/app/data"), &headers)
                    .await
                    .status
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    bff.shutdown().await;
    for request in in_flight {
        assert_eq!(
            request.await.unwrap(),
            StatusCode::OK,
            "an in-flight request was cut off"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the drain waited for idle connections"
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
}

#[test]
fn workers_default_to_one_per_cpu_as_auto_does() {
    let load = |extra: &[&str]| {
        let args = crate::support::harness::args("https://idp.test", "http://up.test", None, extra);
        bff::config::Config::load(&args).unwrap().workers
    };
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(load(&[]), cpus);
    assert_eq!(load(&["--workers", "auto"]), cpus);
    assert_eq!(load(&["--workers", "1"]), 1);
    assert_eq!(load(&["--workers", "3"]), 3);
}

#[test]
fn workers_must_be_between_1_and_256() {
    for bad in ["0", "257", "many"] {
        let args = crate::support::harness::args(
            "https://idp.test",
            "http://up.test",
            None,
            &["--workers", bad],
        );
        let err = bff::config::Config::load(&args).unwrap_err().to_string();
        assert!(err.contains("BFF_WORKERS"), "{bad}: {err}");
    }
}
