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
