//! Proxy behaviour of the skeleton: H1 (client `Authorization` never
//! reaches the upstream), hop-by-hop and forwarding-header hygiene, the
//! route table from the TOML file, and upstream 401/403 pass-through.

use crate::support::harness::{API, Browser, CLIENT_ID, Stack, Store};

/// Writes a TOML config with an `optional` and a `none` route to the
/// upstream, and returns its path.
fn routes_file(upstream: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("bff-routes-{}.toml", rand::random::<u64>()));
    let toml = format!(
        "[[routes]]\nprefix = \"/public/\"\nupstream = \"{upstream}\"\nauth = \"optional\"\n\n\
         [[routes]]\nprefix = \"/static\"\nupstream = \"{upstream}/assets\"\nauth = \"none\"\nstrip_prefix = true\n\n\
         [[routes]]\nprefix = \"/ro/\"\nupstream = \"{upstream}\"\nmethods = [\"GET\"]\n"
    );
    std::fs::write(&path, toml).unwrap();
    path
}

async fn stack_with_routes() -> Stack {
    // The upstream must exist before the file names it: start a stack to
    // learn the upstream URL, then a second bff with the file.
    let stack = Stack::start(Store::Memory).await.unwrap();
    let file = routes_file(&stack.upstream.url());
    let args = crate::support::harness::args(
        stack.idp.issuer(),
        &stack.upstream.url(),
        None,
        &["--config", file.to_str().unwrap()],
    );
    let bff = crate::support::harness::start_bff(&args).await;
    Stack { bff, ..stack }
}

#[tokio::test]
async fn h1_client_authorization_is_replaced_or_stripped() {
    let stack = stack_with_routes().await;
    let mut anonymous = Browser::default();
    let res = anonymous
        .get(&stack, "/public/x", &[("authorization", "Bearer evil")])
        .await;
    assert_eq!(res.status, 200);
    assert!(
        stack
            .upstream
            .last_request()
            .unwrap()
            .header("authorization")
            .is_none(),
        "evil bearer forwarded"
    );

    let mut browser = stack.logged_in_browser().await;
    browser
        .get(&stack, "/public/x", &[("authorization", "Bearer evil")])
        .await;
    let seen = stack.upstream.last_request().unwrap();
    let auth = seen.header_all("authorization");
    assert_eq!(auth.len(), 1);
    assert!(auth[0].starts_with("Bearer ey"), "{auth:?}");
    let claims = crate::support::jwt::claims_of(auth[0].trim_start_matches("Bearer "));
    assert_eq!(
        claims["azp"].as_str().or(claims["client_id"].as_str()),
        Some(CLIENT_ID)
    );
}

#[tokio::test]
async fn route_table_strips_prefix_and_enforces_methods() {
    let stack = stack_with_routes().await;
    let mut anonymous = Browser::default();
    let res = anonymous.get(&stack, "/static/app.js?v=3", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        stack.upstream.last_request().unwrap().path,
        "/assets/app.js?v=3"
    );
    let mut browser = stack.logged_in_browser().await;
    let post = browser
        .send(
            &stack,
            http::Method::POST,
            "/ro/thing",
            &[("x-csrf", "1")],
            "{}",
        )
        .await;
    assert_eq!(post.status, 405);
    // Segment parameters cannot move a request to a looser route.
    let smuggled = browser
        .send(
            &stack,
            http::Method::POST,
            "/ro;jsessionid=x/thing",
            &[("x-csrf", "1")],
            "{}",
        )
        .await;
    assert_eq!(smuggled.status, 405);
}

#[tokio::test]
async fn trace_and_connect_are_never_proxied_with_the_bearer() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = stack.logged_in_browser().await;
    let before = stack.upstream.request_count();
    let trace = browser
        .send(&stack, http::Method::TRACE, "/app", &[("x-csrf", "1")], "")
        .await;
    assert_eq!(
        trace.status, 405,
        "TRACE on a route that allows every method"
    );
    let allow = trace.header("allow").unwrap_or_default().to_owned();
    assert!(
        allow.contains("GET") && !allow.contains("TRACE"),
        "Allow: {allow}"
    );
    let addr = stack.bff.public_addr;
    let connect = crate::support::http::raw(
        addr,
        b"CONNECT /app HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    let status = String::from_utf8_lossy(&connect)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        status.contains(" 405") || status.contains(" 400"),
        "CONNECT: {status}"
    );
    assert_eq!(
        stack.upstream.request_count(),
        before,
        "TRACE or CONNECT reached the upstream"
    );
}

#[tokio::test]
async fn forwarding_and_hop_by_hop_headers_are_rewritten() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = stack.logged_in_browser().await;
    let headers = [
        ("accept", "application/json"),
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-host", "evil.example"),
        ("forwarded", "for=6.6.6.6"),
        ("x-real-ip", "6.6.6.6"),
        ("x-auth-request-user", "admin"),
        ("connection", "x-drop-me"),
        ("x-drop-me", "1"),
        ("host", "app.example.test"),
    ];
    assert_eq!(browser.get(&stack, "/app", &headers).await.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-host"), Some("app.example.test"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    for dropped in ["forwarded", "x-real-ip", "x-auth-request-user", "x-drop-me"] {
        assert!(seen.header(dropped).is_none(), "{dropped} forwarded");
    }
}

#[tokio::test]
async fn upstream_401_and_403_pass_through_and_bff_cookies_are_not_relayed() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = stack.logged_in_browser().await;
    stack
        .upstream
        .add_response_header("set-cookie", "__Host-bff=evil; Path=/");
    stack
        .upstream
        .add_response_header("set-cookie", "upstream=ok; Path=/");
    for status in [401, 403] {
        stack.upstream.set(|b| b.status = status);
        let res = browser.get(&stack, "/app", &API).await;
        assert_eq!(res.status, status);
        assert!(res.location().is_none());
        let cookies = res.set_cookies();
        assert!(
            cookies.iter().all(|c| !c.starts_with("__Host-bff=")),
            "{cookies:?}"
        );
        assert!(cookies.iter().any(|c| c.starts_with("upstream=ok")));
    }
}

#[tokio::test]
async fn unreachable_upstream_is_502_and_no_500() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let args = crate::support::harness::args(stack.idp.issuer(), "http://127.0.0.1:9", None, &[]);
    let bff = crate::support::harness::start_bff(&args).await;
    let dead = Stack { bff, ..stack };
    let mut browser = dead.logged_in_browser().await;
    let res = browser.get(&dead, "/app", &API).await;
    assert_eq!(res.status, 502);
    assert_eq!(res.json()["error"], "upstream_unavailable");
}
