//! The operator session API and `bff sessions` CLI (issue 6), and the
//! admin listener's health, readiness and metrics endpoints.

use std::process::Command;

use crate::support::harness::{API, Stack, Store};
use crate::support::http as test_http;

const TOKEN: &str = "admin-token-0123456789-abcdefghijkl";

async fn admin(
    stack: &Stack,
    method: http::Method,
    path: &str,
    token: &str,
) -> test_http::TestResponse {
    let bearer = format!("Bearer {token}");
    test_http::request(
        method,
        &stack.admin_url(path),
        &[("authorization", bearer.as_str())],
        "",
    )
    .await
}

#[tokio::test]
async fn operators_list_and_revoke_sessions_and_no_user_keys_remain() {
    let Some(stack) = Stack::start_with(Store::Redis, &["--admin-token", TOKEN]).await else {
        return;
    };
    let mut browsers = Vec::new();
    for _ in 0..3 {
        browsers.push(stack.logged_in_browser().await);
    }
    assert_eq!(
        admin(
            &stack,
            http::Method::GET,
            "/admin/sessions?sub=user-0001",
            "wrong"
        )
        .await
        .status,
        401
    );
    assert_eq!(
        admin(&stack, http::Method::GET, "/admin/sessions/count", TOKEN)
            .await
            .json()["active"],
        3
    );
    let listed = admin(
        &stack,
        http::Method::GET,
        "/admin/sessions?sub=user-0001",
        TOKEN,
    )
    .await;
    let sessions = listed.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    for browser in &browsers {
        let cookie = browser.cookie("__Host-bff").unwrap();
        assert!(!listed.text().contains(cookie), "cookie value listed");
    }
    assert!(!listed.text().contains("eyJ"), "token listed");
    let one = sessions[0]["session"].as_str().unwrap();
    assert_eq!(
        admin(
            &stack,
            http::Method::DELETE,
            &format!("/admin/sessions/{one}"),
            TOKEN
        )
        .await
        .status,
        200
    );
    assert_eq!(
        admin(
            &stack,
            http::Method::DELETE,
            &format!("/admin/sessions/{one}"),
            TOKEN
        )
        .await
        .status,
        404
    );
    let all = admin(
        &stack,
        http::Method::DELETE,
        "/admin/sessions?sub=user-0001",
        TOKEN,
    )
    .await;
    assert_eq!(all.json()["revoked"], 2);
    for browser in &mut browsers {
        assert_eq!(browser.get(&stack, "/app", &API).await.status, 401);
    }
    let redis = stack.redis.as_ref().unwrap();
    for pattern in ["bff:s:*", "bff:m:*", "bff:sub:*", "bff:sid:*"] {
        assert!(
            redis.raw_keys(pattern).await.is_empty(),
            "{pattern} left behind"
        );
    }
}

#[tokio::test]
async fn admin_api_rejects_odd_paths_without_panicking() {
    let stack = Stack::start_with(Store::Memory, &["--admin-token", TOKEN])
        .await
        .unwrap();
    for path in [
        "/admin/sessions/%C3%A9aaaaaaaaaaaaaaaaaaaa",
        "/admin/sessions/é",
        "/admin/sessionsé123456789012345678901",
        "/admin/sessions/../x",
    ] {
        let res = admin(&stack, http::Method::DELETE, path, TOKEN).await;
        assert!(
            res.status == 400 || res.status == 404,
            "{path}: {}",
            res.status
        );
    }
    assert_eq!(
        test_http::get(&stack.admin_url("/healthz"), &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn admin_api_is_off_without_a_token() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    assert_eq!(
        admin(&stack, http::Method::GET, "/admin/sessions/count", "")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn cli_lists_and_revokes_through_the_admin_api() {
    let stack = Stack::start_with(Store::Memory, &["--admin-token", TOKEN])
        .await
        .unwrap();
    let mut browser = stack.logged_in_browser().await;
    let admin_addr = stack.bff.admin_addr.to_string();
    let bff = move |args: &[&str]| {
        let mut all = vec![
            "--admin-listen",
            admin_addr.as_str(),
            "--admin-token",
            TOKEN,
        ];
        all.extend_from_slice(args);
        Command::new(env!("CARGO_BIN_EXE_bff"))
            .env_clear()
            .args(&all)
            .output()
            .unwrap()
    };
    let out = tokio::task::spawn_blocking(move || {
        let listed = bff(&["sessions", "list", "--sub", "user-0001"]);
        let revoked = bff(&["sessions", "revoke", "--sub", "user-0001"]);
        let count = bff(&["sessions", "count"]);
        (listed, revoked, count)
    })
    .await
    .unwrap();
    assert!(
        out.0.status.success(),
        "{}",
        String::from_utf8_lossy(&out.0.stderr)
    );
    assert!(String::from_utf8_lossy(&out.0.stdout).contains("\"sessions\":[{"));
    assert!(String::from_utf8_lossy(&out.1.stdout).contains("\"revoked\":1"));
    assert!(String::from_utf8_lossy(&out.2.stdout).contains("\"active\":0"));
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 401);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    assert_eq!(
        test_http::get(&stack.admin_url("/healthz"), &[])
            .await
            .status,
        200
    );
    let ready = test_http::get(&stack.admin_url("/readyz"), &[]).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["provider"], true);
    let metrics = test_http::get(&stack.admin_url("/metrics"), &[]).await;
    assert!(
        metrics.text().contains("bff_token_refresh"),
        "{}",
        metrics.text()
    );
}

#[tokio::test]
async fn r1_redis_down_means_not_ready_and_recovery_needs_no_restart() {
    let Some(mut stack) = Stack::start(Store::Redis).await else {
        return;
    };
    stack.redis.as_mut().unwrap().stop();
    let down = test_http::get(&stack.admin_url("/readyz"), &[]).await;
    assert_eq!(down.status, 503);
    assert_eq!(down.json()["store"], false);
    let mut browser = crate::support::harness::Browser::default();
    browser.set_cookie("__Host-bff", &bff::SessionId::generate().unwrap().encode());
    let r2 = browser.get(&stack, "/app", &API).await;
    assert_eq!(
        r2.status, 503,
        "R2: store outage must fail closed, not anonymous"
    );
    stack.redis.as_mut().unwrap().restart();
    let mut ready = false;
    for _ in 0..50 {
        if test_http::get(&stack.admin_url("/readyz"), &[])
            .await
            .status
            == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "not ready again after Redis came back");
    // R3: the restart emptied Redis: the old cookie is a clean 401, no 500.
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 401);
}

#[tokio::test]
async fn r1_redis_down_at_start_up_is_not_ready_until_it_comes() {
    let Some(mut redis) = crate::support::redis_server::RedisServer::start() else {
        return;
    };
    redis.stop();
    let stack = Stack::start(Store::Memory).await.unwrap();
    let args = crate::support::harness::args(
        stack.idp.issuer(),
        &stack.upstream.url(),
        Some(&redis.url()),
        &[],
    );
    // Starts without Redis: no crash loop, just not ready.
    let bff = crate::support::harness::start_bff(&args).await;
    let readyz = format!("http://{}/readyz", bff.admin_addr);
    let down = test_http::get(&readyz, &[]).await;
    assert_eq!(down.status, 503);
    assert_eq!(down.json()["store"], false);
    redis.restart();
    let mut status = http::StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = test_http::get(&readyz, &[]).await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "not ready once Redis came, without a restart");
    let login = test_http::get(&format!("http://{}/auth/login", bff.public_addr), &[]).await;
    assert_eq!(login.status, 302, "store still unusable: {}", login.text());
    assert_eq!(redis.raw_keys("bff:login:*").await.len(), 1);
}

#[tokio::test]
async fn healthcheck_subcommand_probes_the_admin_listener() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let up = stack.bff.admin_addr.to_string();
    let (ok, down) = tokio::task::spawn_blocking(move || {
        let run = |addr: &str| {
            Command::new(env!("CARGO_BIN_EXE_bff"))
                .env_clear()
                .args(["--admin-listen", addr, "healthcheck"])
                .status()
                .unwrap()
        };
        (run(&up), run("127.0.0.1:1"))
    })
    .await
    .unwrap();
    assert!(ok.success());
    assert!(!down.success());
}

#[tokio::test]
async fn store_latency_and_errors_are_exported_by_operation() {
    let Some(mut stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
    let metrics = test_http::get(&stack.admin_url("/metrics"), &[])
        .await
        .text();
    let gets = metric(
        &metrics,
        "bff_store_operation_duration_seconds_count{op=\"get\"}",
    );
    assert!(gets >= 1.0, "{metrics}");
    let buckets: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("bff_store_operation_duration_seconds_bucket") && l.contains("op=\"get\"")
        })
        .collect();
    assert_eq!(buckets.len(), 15, "14 bounds and +Inf: {buckets:?}");
    stack.redis.as_mut().unwrap().stop();
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 503);
    let metrics = test_http::get(&stack.admin_url("/metrics"), &[])
        .await
        .text();
    assert!(
        metric(&metrics, "bff_store_errors_total{op=\"get\"}") >= 1.0,
        "{metrics}"
    );
}

/// The value of the sample named exactly `name` (with its labels).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}
