//! Request metrics on `/metrics` move with a real flow: requests by route
//! (the configured prefix or bff's own endpoint, never the raw path),
//! method and status class; latency histograms for the request and the
//! upstream part; nothing left in flight; build info.

use crate::support::harness::{API, Stack, Store};
use crate::support::metrics::{scrape, value};

#[tokio::test]
async fn a_flow_moves_the_request_counters_and_histograms_by_route() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut alice = stack.logged_in_browser().await;
    for i in 0..3 {
        let path = format!("/app/item-{i}?q=secret-{i}");
        assert_eq!(alice.get(&stack, &path, &API).await.status, 200);
    }
    let mut stranger = crate::support::harness::Browser::default();
    assert_eq!(stranger.get(&stack, "/app/x", &API).await.status, 401);
    let text = scrape(&stack.bff).await;
    eprintln!("{text}");
    let series = |route: &str, method: &str, status: &str| {
        format!(r#"bff_http_requests_total{{route="{route}",method="{method}",status="{status}"}}"#)
    };
    assert_eq!(value(&text, &series("/", "GET", "2xx")), 3.0);
    assert_eq!(value(&text, &series("/", "GET", "4xx")), 1.0);
    assert_eq!(value(&text, &series("/auth/login", "GET", "3xx")), 1.0);
    assert_eq!(value(&text, &series("/auth/callback", "GET", "3xx")), 1.0);
    assert_eq!(
        value(
            &text,
            r#"bff_http_request_duration_seconds_count{route="/"}"#
        ),
        4.0
    );
    // The 401 never reached the upstream.
    assert_eq!(
        value(&text, r#"bff_upstream_duration_seconds_count{route="/"}"#),
        3.0
    );
    assert_eq!(value(&text, "bff_http_requests_in_flight"), 0.0);
    assert!(
        !text.contains("item-") && !text.contains("secret-"),
        "raw paths in labels"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.contains(&format!(
            r#"bff_build_info{{version="{version}",revision=""#
        )),
        "{text}"
    );
}

#[tokio::test]
async fn logins_and_logouts_are_counted_by_outcome_and_kind() {
    let admin = "admin-token-0123456789-abcdefghijkl";
    let stack = Stack::start_with(Store::Memory, &["--admin-token", admin])
        .await
        .unwrap();
    // An operator revokes bob's session (the only one yet).
    let _bob = stack.logged_in_browser().await;
    revoke_the_only_session(&stack, admin).await;
    let mut alice = stack.logged_in_browser().await;
    let _carol = stack.logged_in_browser().await;
    // A callback without `state`: a failed login, and no session.
    let mut stranger = crate::support::harness::Browser::default();
    let bad = stranger.get(&stack, "/auth/callback?code=x", &[]).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    // Alice signs out; the provider ends carol's by back-channel logout.
    assert_eq!(alice.logout(&stack).await.status, 302);
    let token = crate::support::jwt::sign_rs256(
        serde_json::Value::Null,
        &super::backchannel::claims(
            &stack,
            serde_json::json!({ "sid": null, "sub": "user-0001" }),
        ),
    );
    let out = super::backchannel::post_logout_token(stack.bff.public_addr, &token).await;
    assert_eq!(out.status, 200, "{}", out.text());
    let text = scrape(&stack.bff).await;
    assert_eq!(value(&text, "bff_logins_started_total"), 3.0);
    assert_eq!(value(&text, "bff_logins_completed_total"), 3.0);
    assert_eq!(
        value(&text, r#"bff_logins_failed_total{reason="bad_callback"}"#),
        1.0
    );
    assert_eq!(
        value(&text, r#"bff_logouts_total{kind="rp_initiated"}"#),
        1.0
    );
    assert_eq!(value(&text, r#"bff_logouts_total{kind="operator"}"#), 1.0);
    assert_eq!(
        value(&text, r#"bff_logouts_total{kind="back_channel"}"#),
        1.0,
        "carol's"
    );
}

/// An operator lists the user's sessions and revokes the first one.
async fn revoke_the_only_session(stack: &Stack, admin: &str) {
    let bearer = format!("Bearer {admin}");
    let auth = [("authorization", bearer.as_str())];
    let list_url = stack.admin_url("/admin/sessions?sub=user-0001");
    let listed = crate::support::http::get(&list_url, &auth).await.json();
    let bob = listed["sessions"][0]["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke_url = stack.admin_url(&format!("/admin/sessions/{bob}"));
    let revoked = crate::support::http::request(http::Method::DELETE, &revoke_url, &auth, "").await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
}
