//! Connection-level abuse (case A7): idle HTTP/2 connections that answer
//! every PING, a HEADERS frame that never ends, and the cap on open
//! connections (`BFF_MAX_CONNECTIONS`), each against a real h2 client or
//! raw TCP.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::harness::{Stack, Store};
use crate::support::http as test_http;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

async fn stack(extra: &[&str]) -> Stack {
    Stack::start_with(Store::Memory, extra).await.unwrap()
}

/// How long until the server closes `stream` (reading and dropping
/// whatever it sends), if within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let read_until_eof = async { while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {} };
    tokio::time::timeout(limit, read_until_eof)
        .await
        .ok()
        .map(|()| started.elapsed())
}

#[tokio::test]
async fn a7_an_idle_h2_connection_that_answers_pings_is_closed_at_the_idle_timeout() {
    let stack = stack(&["--client-idle-timeout", "500ms"]).await;
    let tcp = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    // A real h2 client that sends a PING every 100 ms and ACKs the server's.
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(100))
        .keep_alive_while_idle(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
        .await
        .unwrap();
    let started = Instant::now();
    let driver = tokio::spawn(conn);
    // One request first: the connection works, then falls idle.
    let req = http::Request::get("/auth/logged-out")
        .body(Empty::new())
        .unwrap();
    assert_eq!(sender.send_request(req).await.unwrap().status(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(5), driver).await;
    assert!(
        ended.is_ok(),
        "an idle h2 connection answering PINGs stayed open 5 s"
    );
    let lived = started.elapsed();
    assert!(
        lived >= Duration::from_millis(400),
        "closed before the idle timeout: {lived:?}"
    );
}

#[tokio::test]
async fn a7_a_headers_frame_that_never_ends_is_closed_at_the_idle_timeout() {
    let stack = stack(&["--client-idle-timeout", "500ms"]).await;
    let mut tcp = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    tcp.write_all(PREFACE).await.unwrap();
    // SETTINGS (empty), then HEADERS on stream 1 without END_HEADERS
    // (flags 0): one HPACK byte, `:method: GET`, and no CONTINUATION ever.
    tcp.write_all(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]).await.unwrap();
    tcp.write_all(&[0, 0, 1, 0x1, 0, 0, 0, 0, 1, 0x82])
        .await
        .unwrap();
    let closed = closed_within(&mut tcp, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "a never-ending HEADERS frame held the connection 5 s"
    );
}

#[tokio::test]
async fn a7_connections_beyond_the_cap_are_closed_at_once_and_counted() {
    let stack = stack(&["--max-connections", "3"]).await;
    let addr = stack.bff.public_addr;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /auth/logged-out HTTP/1.1\r\nHost: a.test\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).await.unwrap();
        assert_eq!(
            &head, b"HTTP/1.1 200",
            "a connection under the cap was refused"
        );
        held.push(tcp);
    }
    let mut beyond = TcpStream::connect(addr).await.unwrap();
    let _sent = beyond
        .write_all(b"GET /auth/logged-out HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), beyond.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok() && buf.is_empty(),
        "the fourth connection was served: {buf:?}"
    );
    let metrics = test_http::get(&stack.admin_url("/metrics"), &[])
        .await
        .text();
    assert!(
        metrics.contains("bff_connections_refused_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("bff_connections_open 3"), "{metrics}");
    // Closing one frees its place.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = test_http::get(&stack.url("/auth/logged-out"), &[]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn a7_a_response_still_streaming_is_never_cut_by_the_idle_timeout() {
    let upstream = crate::support::stream_upstream::StreamUpstream::start().await;
    let toml = format!(
        "[[routes]]\nprefix = \"/big/\"\nupstream = \"{}\"\nauth = \"none\"\n",
        upstream.url()
    );
    let idle = ["--client-idle-timeout", "300ms"];
    let stack = Stack::start_with_config(Store::Memory, &toml, &idle)
        .await
        .unwrap();
    let mut tcp = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    tcp.write_all(b"GET /big/bytes/endless HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .await
        .unwrap();
    // A slow reader: far longer than the idle timeout, always reading.
    let mut buf = vec![0u8; 16 * 1024];
    let until = Instant::now() + Duration::from_secs(2);
    let mut received = 0;
    while Instant::now() < until {
        let n = tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await;
        let n = n.expect("the stream stalled").unwrap();
        assert!(n > 0, "a streaming response was cut after {received} bytes");
        received += n;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(received > 64 * 1024, "{received}");
}
