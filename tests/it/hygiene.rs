//! Header hygiene and routing safety: H2 (forwarding / identity headers),
//! H3 (`Connection`-named fields), H4 (upstream hop-by-hop and bff
//! `Set-Cookie`s), H7 (traversal, absolute-form, bad `Host`; raw sockets),
//! H8 (upstream 401/403 pass through), and the one 401-vs-302 decision.

use crate::support::harness::{API, Browser, NAVIGATION, Stack, Store};
use crate::support::http::raw;

const ROUTES: &str = "[[routes]]\nprefix = \"/api/\"\nupstream = \"{upstream}\"\n\n\
    [[routes]]\nprefix = \"/open/\"\nupstream = \"{upstream}\"\nauth = \"none\"\n";

async fn stack(extra: &[&str]) -> Stack {
    Stack::start_with_config(Store::Memory, ROUTES, extra)
        .await
        .unwrap()
}

fn status_of(response: &[u8]) -> String {
    String::from_utf8_lossy(response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn h2_spoofed_forwarding_and_identity_headers_are_stripped_or_overwritten() {
    let stack = stack(&[]).await;
    let mut browser = stack.logged_in_browser().await;
    let spoofed = [
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "http"),
        ("forwarded", "for=6.6.6.6;host=evil.example"),
        ("x-real-ip", "6.6.6.6"),
        ("x-forwarded-user", "admin"),
        ("x-auth-request-email", "admin@example.test"),
        ("x-auth-request-user", "admin"),
        ("x-remote-user", "admin"),
        ("true-client-ip", "6.6.6.6"),
    ];
    assert_eq!(browser.get(&stack, "/api/me", &spoofed).await.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    assert_eq!(seen.header_all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(seen.header_all("x-forwarded-host"), ["app.example.test"]);
    assert_eq!(seen.header_all("x-forwarded-proto"), ["https"]);
    for name in [
        "forwarded",
        "x-real-ip",
        "x-forwarded-user",
        "x-auth-request-email",
        "x-auth-request-user",
        "x-remote-user",
        "true-client-ip",
    ] {
        assert!(seen.header(name).is_none(), "{name} forwarded");
    }
    // From a trusted proxy the chain is kept and extended.
    let trusted = stack_trusting_loopback().await;
    Browser::default()
        .get(
            &trusted,
            "/open/x",
            &[
                ("x-forwarded-for", "203.0.113.7"),
                ("x-forwarded-proto", "https"),
            ],
        )
        .await;
    let seen = trusted.upstream.last_request().unwrap();
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("203.0.113.7, 127.0.0.1")
    );
}

async fn stack_trusting_loopback() -> Stack {
    stack(&["--trusted-proxies", "127.0.0.0/8"]).await
}

#[tokio::test]
async fn h3_connection_named_fields_are_dropped_and_the_bearer_still_injected() {
    let stack = stack(&[]).await;
    let mut browser = stack.logged_in_browser().await;
    browser.set_cookie("theme", "dark");
    let headers = [
        (
            "connection",
            "Authorization, X-Forwarded-For, Cookie, X-Custom",
        ),
        ("authorization", "Bearer evil"),
        ("x-forwarded-for", "6.6.6.6"),
        ("x-custom", "1"),
        ("keep-alive", "timeout=99"),
        ("te", "trailers"),
        ("proxy-authorization", "Basic eA=="),
    ];
    assert_eq!(browser.get(&stack, "/api/me", &headers).await.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    let auth = seen.header_all("authorization");
    assert_eq!(auth.len(), 1);
    assert!(auth[0].starts_with("Bearer ey"), "{auth:?}");
    assert_eq!(seen.header_all("x-forwarded-for"), ["127.0.0.1"]);
    for name in [
        "cookie",
        "x-custom",
        "keep-alive",
        "te",
        "proxy-authorization",
    ] {
        assert!(
            seen.header(name).is_none(),
            "{name} forwarded: {:?}",
            seen.header(name)
        );
    }
}

#[tokio::test]
async fn h4_upstream_hop_by_hop_headers_and_bff_cookies_are_not_relayed() {
    let stack = stack(&[]).await;
    let mut browser = stack.logged_in_browser().await;
    for (name, value) in [
        ("connection", "x-internal"),
        ("x-internal", "secret"),
        ("keep-alive", "timeout=5"),
        ("proxy-authenticate", "Basic"),
        ("set-cookie", "__Host-bff=evil; Path=/"),
        ("set-cookie", "__Host-bff-login=evil; Path=/"),
        ("set-cookie", "app=ok; Path=/"),
    ] {
        stack.upstream.add_response_header(name, value);
    }
    let res = browser.get(&stack, "/api/me", &API).await;
    assert_eq!(res.status, 200);
    for name in ["x-internal", "keep-alive", "proxy-authenticate"] {
        assert!(res.header(name).is_none(), "{name} relayed");
    }
    assert_eq!(res.set_cookies(), ["app=ok; Path=/"]);
}

#[tokio::test]
async fn h7_traversal_absolute_form_and_bad_host_cannot_escape_the_allow_list() {
    let stack = stack(&[]).await;
    let addr = stack.bff.public_addr;
    for target in [
        "/open/../api/me",
        "/open/%2e%2e/api/me",
        "/open/%2E%2e/api",
        "/open/..;/api/me",
        "/open/..%2fapi",
        "/api%3Bx/me",
        "/open%3b/../api/me",
        "/open/%5c..%5capi",
        "/open/%00",
    ] {
        let res = raw(
            addr,
            format!("GET {target} HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert!(
            status_of(&res).starts_with("HTTP/1.1 400"),
            "{target}: {}",
            status_of(&res)
        );
    }
    for head in [
        "GET /open/x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n",
        "GET /open/x HTTP/1.1\r\nHost: user@evil.test\r\n",
        "GET /open/x HTTP/1.1\r\n",
    ] {
        let res = raw(addr, format!("{head}Connection: close\r\n\r\n").as_bytes()).await;
        assert!(
            status_of(&res).starts_with("HTTP/1.1 400"),
            "{head:?}: {}",
            status_of(&res)
        );
    }
    assert_eq!(stack.upstream.request_count(), 0);

    // Absolute-form to another host: only the path counts, and it goes to
    // the configured upstream, never to the named host.
    let res = raw(addr, b"GET http://169.254.169.254//open/%6Deta?x=1 HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n").await;
    assert!(
        status_of(&res).starts_with("HTTP/1.1 200"),
        "{}",
        status_of(&res)
    );
    let seen = stack.upstream.last_request().unwrap();
    assert_eq!(seen.path, "/open/meta?x=1");
    assert_eq!(
        seen.header("host"),
        Some(stack.upstream.addr().to_string().as_str())
    );
    assert_eq!(seen.header("x-forwarded-host"), Some("app.example.test"));
}

#[tokio::test]
async fn h8_upstream_401_and_403_pass_through_for_navigations_and_api_calls() {
    let stack = stack(&[]).await;
    let mut browser = stack.logged_in_browser().await;
    for status in [401, 403] {
        stack.upstream.set(|b| b.status = status);
        for headers in [&API, &NAVIGATION] {
            let res = browser.get(&stack, "/api/me", headers).await;
            assert_eq!(res.status, status);
            assert!(res.location().is_none(), "turned into a redirect");
        }
    }
    assert!(
        browser.cookie(crate::support::harness::COOKIE).is_some(),
        "session cookie cleared"
    );
}

#[tokio::test]
async fn unauthenticated_is_302_for_navigations_and_401_for_api_calls_on_every_path() {
    let stack = stack(&[]).await;
    let mut anonymous = Browser::default();
    for path in ["/api/me", "/anything", "/api/deep/x?y=1", "//api//me"] {
        let nav = anonymous.get(&stack, path, &NAVIGATION).await;
        assert_eq!(nav.status, 302, "{path}");
        assert!(
            nav.location()
                .unwrap()
                .starts_with("/auth/login?return_to=%2F"),
            "{path}"
        );
        let api = anonymous.get(&stack, path, &API).await;
        assert_eq!(api.status, 401, "{path}");
        assert_eq!(api.json()["login_url"], "/auth/login");
    }
    let probe = anonymous.get(&stack, "/auth/session", &API).await;
    assert_eq!(
        (probe.status.as_u16(), probe.json()["login_url"].as_str()),
        (401, Some("/auth/login"))
    );
    let upgrade = [("sec-fetch-mode", "websocket"), ("accept", "text/html")];
    assert_eq!(
        anonymous.get(&stack, "/api/socket", &upgrade).await.status,
        401
    );
}
