//! Resource limits: A1 (oversized headers → 431), A2 (oversized bodies →
//! 413, uploads streamed not held), A3 (slowloris headers, slow bodies,
//! idle keep-alive → closed at the timeout), A6 (hanging upstream → 504,
//! endless upstream → bounded buffering), and a 256 MiB each-way transfer
//! whose resident memory stays flat; I8: a 100 MiB JWKS is cut at the
//! provider read limit.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::harness::{self, Browser, COOKIE, Stack, Store};
use crate::support::http as test_http;
use crate::support::http::raw;
use crate::support::stream_upstream::StreamUpstream;

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
const MIB: u64 = 1024 * 1024;

async fn stack(stream: &StreamUpstream) -> Stack {
    let toml = format!(
        "[[routes]]\nprefix = \"/small/\"\nupstream = \"{{upstream}}\"\nauth = \"none\"\nmax_body = \"1KiB\"\n\n\
         [[routes]]\nprefix = \"/big/\"\nupstream = \"{0}\"\nauth = \"none\"\nmax_body = \"1GiB\"\n\n\
         [[routes]]\nprefix = \"/slow/\"\nupstream = \"{0}\"\nauth = \"none\"\ntimeout = \"300ms\"\n",
        stream.url()
    );
    Stack::start_with_config(Store::Memory, &toml, &["--client-idle-timeout", "300ms"])
        .await
        .unwrap()
}

fn status_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Reads until EOF or error; returns what arrived and when the peer closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut chunk = [0_u8; 4096];
    while started.elapsed() < limit {
        match tokio::time::timeout(limit - started.elapsed(), stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return (out, Some(started.elapsed())),
            Ok(Ok(n)) => out.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
    }
    (out, None)
}

#[tokio::test]
async fn a1_oversized_headers_get_431() {
    let up = StreamUpstream::start().await;
    let stack = stack(&up).await;
    let addr = stack.bff.public_addr;
    let big: String = (0..70)
        .map(|i| format!("X-Pad-{i}: {}\r\n", "a".repeat(1000)))
        .collect();
    let many: String = (0..1000).map(|i| format!("X-F{i}: 1\r\n")).collect();
    for headers in [big, many] {
        let res = raw(
            addr,
            format!("GET /small/x HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes(),
        )
        .await;
        assert!(
            status_line(&res).starts_with("HTTP/1.1 431"),
            "{}",
            status_line(&res)
        );
    }
    let mut browser = Browser::default();
    browser.set_cookie(COOKIE, &"c".repeat(16 * 1024));
    assert_eq!(browser.get(&stack, "/small/x", &[]).await.status, 431);
    assert_eq!(stack.upstream.request_count(), 0);
}

#[tokio::test]
async fn a2_bodies_over_the_limit_get_413_before_being_forwarded() {
    let up = StreamUpstream::start().await;
    let stack = stack(&up).await;
    let addr = stack.bff.public_addr;
    // Declared too large: answered from the head alone, nothing read.
    let res = raw(addr, b"POST /small/x HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\nExpect: 100-continue\r\n\r\n").await;
    assert!(
        status_line(&res).starts_with("HTTP/1.1 413"),
        "{}",
        status_line(&res)
    );
    assert!(!String::from_utf8_lossy(&res).contains("100 Continue"));
    // Chunked: counted while streaming and cut.
    let chunk = format!("400\r\n{}\r\n", "a".repeat(1024));
    let res = raw(addr, format!("POST /small/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}0\r\n\r\n").as_bytes()).await;
    assert!(
        status_line(&res).starts_with("HTTP/1.1 413"),
        "{}",
        status_line(&res)
    );
    assert_eq!(
        stack.upstream.request_count(),
        0,
        "an oversized body reached the upstream"
    );
    let ok = raw(addr, format!("POST /small/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}0\r\n\r\n").as_bytes()).await;
    assert!(
        status_line(&ok).starts_with("HTTP/1.1 200"),
        "{}",
        status_line(&ok)
    );
    assert_eq!(stack.upstream.last_request().unwrap().body.len(), 1024);
}

#[tokio::test]
async fn a3_slowloris_headers_slow_bodies_and_idle_connections_are_closed() {
    let up = StreamUpstream::start().await;
    let stack = stack(&up).await;
    let addr = stack.bff.public_addr;
    // Headers dripped one byte every 100 ms never complete.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let drip = tokio::spawn(async move {
        for byte in b"GET /small/x HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    let cut = tokio::time::timeout(Duration::from_secs(5), drip)
        .await
        .unwrap()
        .unwrap();
    assert!(
        cut,
        "slowloris connection survived 4 s of dripping past a 300 ms timeout"
    );

    // A body that stops half-way: 408, connection closed.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /small/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let (res, closed) = read_until_closed(&mut stalled, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "stalled body kept the connection open");
    assert!(
        status_line(&res).starts_with("HTTP/1.1 408"),
        "{}",
        status_line(&res)
    );
    assert_eq!(stack.upstream.request_count(), 0);

    // A kept-alive connection that goes quiet is closed at the timeout.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /small/x HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (res, closed) = read_until_closed(&mut idle, Duration::from_secs(3)).await;
    assert!(
        status_line(&res).starts_with("HTTP/1.1 200"),
        "{}",
        status_line(&res)
    );
    let closed = closed.expect("idle keep-alive connection never closed");
    assert!(
        closed < Duration::from_secs(2),
        "closed only after {closed:?}"
    );
}

#[tokio::test]
async fn a6_hanging_upstream_is_504_and_endless_upstream_is_backpressured() {
    let up = StreamUpstream::start().await;
    let stack = stack(&up).await;
    let started = Instant::now();
    let res = Browser::default().get(&stack, "/slow/hang", &[]).await;
    assert_eq!(res.status, 504);
    assert!(started.elapsed() < Duration::from_secs(2));

    // The client reads 1 MiB of an endless body, then stops reading: the
    // upstream is throttled by backpressure instead of bff buffering.
    let mut tcp = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    tcp.write_all(b"GET /big/bytes/endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0_u8; 64 * 1024];
    let mut read = 0_u64;
    while read < MIB {
        read += tcp.read(&mut buf).await.unwrap() as u64;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = up.produced();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        up.produced(),
        before,
        "upstream kept producing while nobody read"
    );
    assert!(
        before < 64 * MIB,
        "bff buffered {before} bytes for a stalled client"
    );
    drop(tcp);
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 4096
}

#[tokio::test]
async fn a2_streaming_256_mib_each_way_keeps_memory_flat() {
    let up = StreamUpstream::start().await;
    let stack = stack(&up).await;
    let total = 256 * MIB;
    let baseline = rss_bytes();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(baseline));
    let sampler = {
        let peak = std::sync::Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_bytes(), std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let chunks = stream::iter(
        (0..total / ZEROS.len() as u64)
            .map(|_| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(&ZEROS)))),
    );
    let client = Client::builder(TokioExecutor::new()).build_http::<StreamBody<_>>();
    let upload = http::Request::post(stack.url("/big/bytes/0"))
        .body(StreamBody::new(chunks))
        .unwrap();
    let res = client.request(upload).await.unwrap();
    assert_eq!(res.status(), 200);
    res.into_body().collect().await.unwrap();
    assert_eq!(up.received(), total);
    let download =
        Client::builder(TokioExecutor::new()).build_http::<http_body_util::Empty<Bytes>>();
    let res = download
        .get(stack.url(&format!("/big/bytes/{total}")).parse().unwrap())
        .await
        .unwrap();
    let mut body = res.into_body();
    let mut got = 0_u64;
    while let Some(frame) = body.frame().await {
        got += frame.unwrap().data_ref().map_or(0, |d| d.len() as u64);
    }
    assert_eq!(got, total);
    sampler.abort();
    let growth = peak
        .load(std::sync::atomic::Ordering::SeqCst)
        .saturating_sub(baseline);
    eprintln!(
        "streamed {} MiB up and down in {:?}; RSS baseline {} MiB, peak growth {} MiB",
        total / MIB,
        started.elapsed(),
        baseline / MIB,
        growth / MIB
    );
    assert!(
        growth < 96 * MIB,
        "RSS grew by {} MiB while streaming {} MiB",
        growth / MIB,
        total / MIB
    );
}

#[tokio::test]
async fn i8_a_100_mib_jwks_is_cut_at_the_read_limit() {
    const HUNDRED_MIB: u64 = 100 * 1024 * 1024;
    let stack = Stack::start(Store::Memory).await.unwrap();
    let endless = StreamUpstream::start().await;
    let jwks_uri = format!("{}/bytes/{HUNDRED_MIB}", endless.url());
    stack.idp.set(|b| b.jwks_uri = Some(jwks_uri));
    let args = harness::args(stack.idp.issuer(), &stack.upstream.url(), None, &[]);
    let bff = bff::start(bff::config::Config::load(&args).unwrap())
        .await
        .unwrap();
    assert!(
        !bff.discover_provider().await,
        "a 100 MiB JWKS was accepted"
    );
    assert!(!bff.provider_discovered());
    // bff stopped reading at its 1 MiB limit and closed the connection:
    // what the server could write is that plus the loopback socket
    // buffers, never the 100 MiB (nothing was collected beyond the limit).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let produced = endless.produced();
    assert!(produced >= 1024 * 1024, "JWKS never served: {produced}");
    assert!(
        produced < 32 * 1024 * 1024,
        "read not bounded: {produced} bytes"
    );
    let ready = test_http::get(&format!("http://{}/readyz", bff.admin_addr), &[]).await;
    assert_eq!(ready.status, 503);
}
