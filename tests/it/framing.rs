//! HTTP/1.1 framing on raw sockets (H5: CL+TE, bad Transfer-Encoding,
//! duplicate Content-Length, obs-fold; H6: CR/NUL in values, HTTP/2
//! connection-specific fields) — the smuggled request must never reach the
//! upstream — and HTTP/2 from clients end to end (prior-knowledge h2c).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::harness::{COOKIE, Stack, Store};
use crate::support::http::raw;

const ROUTES: &str =
    "[[routes]]\nprefix = \"/open/\"\nupstream = \"{upstream}\"\nauth = \"none\"\n";

async fn stack() -> Stack {
    Stack::start_with_config(Store::Memory, ROUTES, &[])
        .await
        .unwrap()
}

fn responses(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with("HTTP/1."))
        .map(str::to_owned)
        .collect()
}

fn assert_never_smuggled(stack: &Stack) {
    let paths: Vec<String> = stack
        .upstream
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        paths.iter().all(|p| !p.contains("smuggled")),
        "smuggled request ran: {paths:?}"
    );
}

#[tokio::test]
async fn h5_conflicting_or_malformed_framing_never_smuggles_a_request() {
    let stack = stack().await;
    let addr = stack.bff.public_addr;
    let smuggled = "GET /open/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    // CL.TE and TE.CL: bff uses TE only and closes the connection after
    // the response (RFC 9112 §6.3), so the tail is never parsed.
    for head in [
        "POST /open/a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /open/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n0\r\n\r\n",
    ] {
        let res = raw(addr, format!("{head}{smuggled}").as_bytes()).await;
        let statuses = responses(&res);
        assert!(
            statuses.len() <= 1,
            "{head:?}: more than one response: {statuses:?}"
        );
    }
    for head in [
        "POST /open/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        "POST /open/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        "POST /open/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        "POST /open/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n",
        "POST /open/a HTTP/1.1\r\nHost: x\r\nContent-Length: +0\r\n\r\n",
        "POST /open/a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /open/a HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
        "GET /open/a HTTP/1.1\r\nHost: x\r\n X-Leading: space\r\n\r\n",
    ] {
        let res = raw(addr, format!("{head}{smuggled}").as_bytes()).await;
        assert_eq!(responses(&res), ["HTTP/1.1 400 Bad Request"], "{head:?}");
    }
    assert_never_smuggled(&stack);
}

#[tokio::test]
async fn h6_control_characters_in_header_values_are_rejected() {
    let stack = stack().await;
    let addr = stack.bff.public_addr;
    for value in ["a\rb", "a\0b", "a\x0bb\x7f"] {
        let res = raw(
            addr,
            format!(
                "GET /open/ctl HTTP/1.1\r\nHost: x\r\nX-Bad: {value}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        let statuses = responses(&res);
        assert!(
            statuses.iter().all(|s| s.starts_with("HTTP/1.1 400")),
            "{value:?}: {statuses:?}"
        );
    }
    assert_eq!(stack.upstream.request_count(), 0);
}

// === HTTP/2 ===

fn http2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend(stream.to_be_bytes());
    out.extend(payload);
    out
}

/// A prior-knowledge h2 connection preface plus one GET on stream 1 whose
/// header block is literal HPACK (RFC 7541 §6.2.2, no Huffman).
fn http2_get(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    let base = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "app.example.test"),
    ];
    for (name, value) in base.iter().chain(extra) {
        block.push(0x00);
        block.push(u8::try_from(name.len()).unwrap());
        block.extend(name.as_bytes());
        block.push(u8::try_from(value.len()).unwrap());
        block.extend(value.as_bytes());
    }
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(http2_frame(0x4, 0, 0, &[]));
    out.extend(http2_frame(0x1, 0x5, 1, &block));
    out
}

/// Frame types the server sent on stream 1 (or GOAWAY), within 2 s.
async fn http2_answer(stack: &Stack, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let mut kinds = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut chunk = [0_u8; 4096];
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            kinds.clear();
            let mut at = 0;
            while buf.len() >= at + 9 {
                let len = usize::from(buf[at]) << 16
                    | usize::from(buf[at + 1]) << 8
                    | usize::from(buf[at + 2]);
                let stream_id =
                    u32::from_be_bytes([buf[at + 5], buf[at + 6], buf[at + 7], buf[at + 8]])
                        & 0x7fff_ffff;
                if stream_id == 1 || buf[at + 3] == 0x7 {
                    kinds.push(buf[at + 3]);
                }
                at += 9 + len;
            }
            if kinds.iter().any(|k| matches!(k, 0x1 | 0x3 | 0x7)) {
                return;
            }
        }
    })
    .await;
    kinds
}

#[tokio::test]
async fn h6_http2_connection_specific_fields_are_rejected() {
    let stack = stack().await;
    let ok = http2_answer(
        &stack,
        &http2_get("/open/h2-control", &[("te", "trailers")]),
    )
    .await;
    assert!(
        ok.contains(&0x1),
        "the hand-made h2 request itself works: {ok:?}"
    );
    assert_eq!(
        stack.upstream.last_request().unwrap().path,
        "/open/h2-control"
    );
    for bad in [
        ("connection", "keep-alive"),
        ("te", "gzip"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("keep-alive", "5"),
    ] {
        let kinds = http2_answer(&stack, &http2_get("/open/h2-smuggled", &[bad])).await;
        assert!(
            kinds.iter().any(|k| matches!(k, 0x3 | 0x7)),
            "{bad:?}: no RST_STREAM/GOAWAY, got {kinds:?}"
        );
    }
    assert_never_smuggled(&stack);
}

#[tokio::test]
async fn http2_clients_work_end_to_end() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let browser = stack.logged_in_browser().await;
    let tcp = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let cookie = format!("{COOKIE}={}; theme=dark", browser.cookie(COOKIE).unwrap());
    let req = http::Request::post("http://app.example.test/api/items?x=1")
        .header("cookie", cookie)
        .header("x-csrf", "1")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"name\":\"h2\"}")))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), http::Version::HTTP_2);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(!body.is_empty());
    let seen = stack.upstream.last_request().unwrap();
    assert_eq!(
        (
            seen.method.as_str(),
            seen.path.as_str(),
            seen.text().as_str()
        ),
        ("POST", "/api/items?x=1", "{\"name\":\"h2\"}")
    );
    assert_eq!(seen.version, "HTTP/1.1");
    assert!(
        seen.header("authorization")
            .unwrap()
            .starts_with("Bearer ey")
    );
    assert_eq!(seen.header("cookie"), Some("theme=dark"));
}
