//! CSRF and CORS: X1–X5 (security-cases.md). A logged-in browser is
//! attacked from other sites; the echo upstream proves what got through.

use http::Method;

use crate::support::harness::{API, Browser, PUBLIC_URL, Stack, Store};

const PARTNER: &str = "https://spa.partner.test";
const ROUTES: &str = "[[routes]]\nprefix = \"/api/\"\nupstream = \"{upstream}\"\n\n\
    [[routes]]\nprefix = \"/ro/\"\nupstream = \"{upstream}\"\nmethods = [\"GET\", \"HEAD\"]\n\n\
    [[routes]]\nprefix = \"/open/\"\nupstream = \"{upstream}\"\nauth = \"none\"\n";

async fn stack() -> Stack {
    Stack::start_with_config(Store::Memory, ROUTES, &["--allowed-origins", PARTNER])
        .await
        .unwrap()
}

#[tokio::test]
async fn x1_state_changing_calls_without_the_csrf_header_are_not_forwarded() {
    let stack = stack().await;
    let mut browser = stack.logged_in_browser().await;
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let res = browser
            .send(&stack, method.clone(), "/api/items", &API, "{}")
            .await;
        assert_eq!(res.status, 403, "{method}");
        assert_eq!(res.json()["error"], "forbidden");
        let wrong = browser
            .send(
                &stack,
                method.clone(),
                "/api/items",
                &[("x-csrf", "0")],
                "{}",
            )
            .await;
        assert_eq!(wrong.status, 403, "{method} with X-CSRF: 0");
    }
    let mut anonymous = Browser::default();
    assert_eq!(
        anonymous
            .send(&stack, Method::POST, "/api/items", &API, "{}")
            .await
            .status,
        401
    );
    assert_eq!(stack.upstream.request_count(), 0);
    let ok = browser
        .send(
            &stack,
            Method::POST,
            "/api/items",
            &[("x-csrf", "1"), ("origin", PUBLIC_URL)],
            "{}",
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(stack.upstream.request_count(), 1);
}

#[tokio::test]
async fn x2_preflights_grant_only_listed_origins_and_never_a_wildcard() {
    let stack = stack().await;
    let url = stack.url("/api/items");
    let preflight = |origin: &'static str| {
        let url = url.clone();
        async move {
            let headers = [
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "x-csrf, content-type"),
            ];
            crate::support::http::request(Method::OPTIONS, &url, &headers, "").await
        }
    };
    for origin in [
        "https://evil.example",
        "null",
        "https://app.example.test.evil.example",
        "https://sib.example.test",
    ] {
        let res = preflight(origin).await;
        assert_eq!(res.status, 403, "{origin}");
        assert!(
            res.headers
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-")),
            "{origin}: {:?}",
            res.headers
        );
    }
    let granted = preflight(PARTNER).await;
    assert_eq!(granted.status, 204);
    assert_eq!(granted.header("access-control-allow-origin"), Some(PARTNER));
    assert_eq!(
        granted.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        granted.header("access-control-allow-headers"),
        Some("x-csrf, content-type")
    );
    assert!(
        granted
            .header_all("vary")
            .iter()
            .any(|v| v.contains("Origin"))
    );
    assert_eq!(
        stack.upstream.request_count(),
        0,
        "a preflight reached the upstream"
    );

    // Actual responses: upstream CORS headers are never relayed; only a
    // listed origin gets a grant.
    stack
        .upstream
        .add_response_header("access-control-allow-origin", "*");
    let mut browser = stack.logged_in_browser().await;
    let foreign = browser
        .get(&stack, "/api/items", &[("origin", "https://evil.example")])
        .await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    let partner = browser
        .get(&stack, "/api/items", &[("origin", PARTNER)])
        .await;
    assert_eq!(partner.header("access-control-allow-origin"), Some(PARTNER));
    assert_eq!(partner.header_all("access-control-allow-origin").len(), 1);
}

#[tokio::test]
async fn x3_cross_site_form_posts_and_bodyless_posts_are_rejected() {
    let stack = stack().await;
    let mut browser = stack.logged_in_browser().await;
    let form = [
        ("content-type", "text/plain"),
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        browser
            .send(&stack, Method::POST, "/api/transfer", &form, "amount=1000")
            .await
            .status,
        403
    );
    let bodyless = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        browser
            .send(&stack, Method::POST, "/api/transfer", &bodyless, "")
            .await
            .status,
        403
    );
    // Even with the header (e.g. a misconfigured CORS elsewhere), a foreign
    // or sibling origin, or Fetch Metadata saying cross-site, is refused.
    for headers in [
        [("x-csrf", "1"), ("origin", "https://evil.example")],
        [("x-csrf", "1"), ("origin", "https://sib.example.test")],
        [("x-csrf", "1"), ("sec-fetch-site", "cross-site")],
        [("x-csrf", "1"), ("origin", "null")],
    ] {
        assert_eq!(
            browser
                .send(&stack, Method::POST, "/api/transfer", &headers, "")
                .await
                .status,
            403,
            "{headers:?}"
        );
    }
    assert_eq!(stack.upstream.request_count(), 0);
    let partner = [
        ("x-csrf", "1"),
        ("origin", PARTNER),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        browser
            .send(&stack, Method::POST, "/api/transfer", &partner, "")
            .await
            .status,
        200
    );
    let same_origin = [("x-csrf", "1"), ("sec-fetch-site", "same-origin")];
    assert_eq!(
        browser
            .send(&stack, Method::POST, "/api/transfer", &same_origin, "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn x4_cross_site_image_to_logout_leaves_the_session_alive() {
    let stack = stack().await;
    let mut browser = stack.logged_in_browser().await;
    let img = [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-dest", "image"),
        ("sec-fetch-mode", "no-cors"),
    ];
    let res = browser.get(&stack, "/auth/logout", &img).await;
    assert_ne!(res.status, 302, "logout ran");
    let post = browser
        .send(
            &stack,
            Method::POST,
            "/auth/logout",
            &[("content-type", "text/plain")],
            "",
        )
        .await;
    assert_eq!(post.status, 403);
    assert_eq!(
        browser.get(&stack, "/api/me", &API).await.status,
        200,
        "session did not survive"
    );
}

#[tokio::test]
async fn x5_disallowed_methods_get_405_with_allow_and_overrides_are_dropped() {
    let stack = stack().await;
    let mut browser = stack.logged_in_browser().await;
    for method in [
        Method::POST,
        Method::DELETE,
        Method::from_bytes(b"PROPFIND").unwrap(),
    ] {
        let res = browser
            .send(&stack, method.clone(), "/ro/thing", &[("x-csrf", "1")], "")
            .await;
        assert_eq!(res.status, 405, "{method}");
        assert_eq!(res.header("allow"), Some("GET, HEAD"));
    }
    assert_eq!(stack.upstream.request_count(), 0);
    let overridden = [
        ("x-http-method-override", "DELETE"),
        ("x-original-url", "/admin"),
        ("x-rewrite-url", "/admin"),
    ];
    assert_eq!(
        browser.get(&stack, "/ro/thing", &overridden).await.status,
        200
    );
    let seen = stack.upstream.last_request().unwrap();
    assert_eq!(seen.method, "GET");
    for name in ["x-http-method-override", "x-original-url", "x-rewrite-url"] {
        assert!(seen.header(name).is_none(), "{name} forwarded");
    }
}
