//! The operational metrics move with what really happens (issue 14):
//! provider calls and their errors by endpoint, store errors by operation,
//! back-channel rejections by reason, readiness, the approximate session
//! count, and connections by protocol. Each failure path is provoked for
//! real: a provider answering 500, Redis stopped, bad logout tokens.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::backchannel::{claims, post_logout_token};
use crate::support::harness::{API, Browser, Stack, Store};
use crate::support::http as test_http;
use crate::support::jwt;
use crate::support::metrics::{scrape, value};

fn counter(text: &str, name: &str, label: &str, v: &str) -> f64 {
    value(text, &format!(r#"{name}{{{label}="{v}"}}"#))
}

#[tokio::test]
async fn provider_calls_and_errors_are_counted_by_endpoint() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let _alice = stack.logged_in_browser().await;
    let text = scrape(&stack.bff).await;
    let calls = "bff_provider_request_duration_seconds_count";
    assert!(
        counter(&text, calls, "endpoint", "discovery") >= 1.0,
        "{text}"
    );
    assert!(counter(&text, calls, "endpoint", "jwks") >= 1.0);
    assert_eq!(counter(&text, calls, "endpoint", "token"), 1.0);
    assert_eq!(
        counter(&text, "bff_provider_errors_total", "endpoint", "token"),
        0.0
    );
    stack
        .idp
        .set(|b| b.token_override = Some((500, json!({ "error": "server_error" }))));
    let mut bob = Browser::default();
    let failed = stack.login(&mut bob).await;
    assert!(failed.status.is_server_error(), "{}", failed.status);
    let text = scrape(&stack.bff).await;
    assert_eq!(
        counter(&text, "bff_provider_errors_total", "endpoint", "token"),
        1.0
    );
    assert_eq!(counter(&text, calls, "endpoint", "token"), 2.0);
    let reason = r#"bff_logins_failed_total{reason="provider_unavailable"}"#;
    assert_eq!(value(&text, reason), 1.0);
}

#[tokio::test]
async fn back_channel_rejections_are_counted_by_reason() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let pod = stack.bff.public_addr;
    assert_eq!(post_logout_token(pod, "not-a-jwt").await.status, 400);
    let url = format!("http://{pod}/auth/backchannel-logout");
    let json_body = [("content-type", "application/json")];
    assert_eq!(test_http::post(&url, &json_body, "{}").await.status, 400);
    let token = jwt::sign_rs256(Value::Null, &claims(&stack, json!({ "sid": "s-1" })));
    assert_eq!(post_logout_token(pod, &token).await.status, 200);
    assert_eq!(post_logout_token(pod, &token).await.status, 400);
    let text = scrape(&stack.bff).await;
    let name = "bff_backchannel_rejected_total";
    assert_eq!(counter(&text, name, "reason", "invalid_token"), 1.0);
    assert_eq!(counter(&text, name, "reason", "malformed_request"), 1.0);
    assert_eq!(counter(&text, name, "reason", "replayed"), 1.0);
}

#[tokio::test]
async fn store_errors_and_readiness_follow_a_stopped_redis() {
    let Some(mut stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut alice = stack.logged_in_browser().await;
    let ready = test_http::get(&stack.admin_url("/readyz"), &[]).await;
    assert_eq!(ready.status, 200);
    assert_eq!(value(&scrape(&stack.bff).await, "bff_ready"), 1.0);
    stack.redis.as_mut().unwrap().stop();
    assert_eq!(alice.get(&stack, "/app", &API).await.status, 503);
    let ready = test_http::get(&stack.admin_url("/readyz"), &[]).await;
    assert_eq!(ready.status, 503);
    let text = scrape(&stack.bff).await;
    assert_eq!(value(&text, "bff_ready"), 0.0);
    assert!(
        counter(&text, "bff_store_errors_total", "op", "get") >= 1.0,
        "{text}"
    );
    assert!(counter(&text, "bff_store_errors_total", "op", "ping") >= 1.0);
}

#[tokio::test]
async fn active_sessions_are_estimated_without_a_scan() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browsers = Vec::new();
    for _ in 0..5 {
        browsers.push(stack.logged_in_browser().await);
    }
    assert_eq!(browsers[0].logout(&stack).await.status, 302);
    // A pod estimates at start, then every 30 s.
    let pod = stack.another_bff(&[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(value(&scrape(&pod).await, "bff_sessions_active"), 4.0);
}

#[tokio::test]
async fn open_connections_are_counted_by_protocol() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut http1 = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    let head = "GET /auth/session HTTP/1.1\r\nHost: app.example.test\r\n\r\n";
    http1.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 512];
    assert!(http1.read(&mut buf).await.unwrap() > 0);
    let tcp = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("http://app.example.test/auth/session")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(h2.send_request(req).await.unwrap().status(), 401);
    let text = scrape(&stack.bff).await;
    let open = "bff_http_connections_open";
    assert_eq!(counter(&text, open, "protocol", "http1"), 1.0, "{text}");
    assert_eq!(counter(&text, open, "protocol", "h2"), 1.0);
    assert_eq!(value(&text, "bff_connections_open"), 2.0);
    drop((http1, h2));
}
