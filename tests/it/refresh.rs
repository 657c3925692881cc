//! Token refresh (issue 4) and security cases F1–F6: expiry-driven,
//! single-flight across pods sharing one real Redis, failure semantics.

use std::time::{Duration, Instant};

use bff::RefreshOutcome;
use bff::Running;

use crate::support::harness::{API, Browser, COOKIE, NAVIGATION, Stack, Store};
use crate::support::http as test_http;

const REFRESH: &str = "refresh_token";

/// Logs in with access tokens that live `ttl` seconds.
pub(crate) async fn login_with_token_ttl(stack: &Stack, ttl: u64) -> Browser {
    stack.idp.set(|b| b.expires_in = ttl);
    stack.logged_in_browser().await
}

/// Logs in with a 1-second access token and waits until it has expired.
pub(crate) async fn login_expired(stack: &Stack) -> Browser {
    let browser = login_with_token_ttl(stack, 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    browser
}

async fn get_api(pod: &Running, cookie: &str, path: &str) -> test_http::TestResponse {
    let url = format!("http://{}{path}", pod.public_addr);
    test_http::get(&url, &[("accept", "application/json"), ("cookie", cookie)]).await
}

#[tokio::test]
async fn f1_expired_access_token_is_refreshed_once_and_rotation_is_saved() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = login_expired(&stack).await;
    let first_bearer = {
        stack.idp.set(|b| b.expires_in = 1);
        let res = browser.get(&stack, "/app", &API).await;
        assert_eq!(res.status, 200, "{}", res.text());
        stack
            .upstream
            .last_request()
            .unwrap()
            .header("authorization")
            .unwrap()
            .to_owned()
    };
    assert_eq!(stack.idp.token_requests_for(REFRESH), 1);
    // The new token is again inside the skew: the next call refreshes with
    // the rotated refresh token. Reusing the old one would revoke the grant.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack.idp.set(|b| b.expires_in = 300);
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
    assert_eq!(stack.idp.token_requests_for(REFRESH), 2);
    let second_bearer = stack
        .upstream
        .last_request()
        .unwrap()
        .header("authorization")
        .unwrap()
        .to_owned();
    assert_ne!(first_bearer, second_bearer);
    // Comfortably valid now: no more refreshes.
    for _ in 0..5 {
        assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
    }
    assert_eq!(stack.idp.token_requests_for(REFRESH), 2);
    assert_eq!(stack.bff.refresh_count(RefreshOutcome::Success), 2);
}

#[tokio::test]
async fn f2_revoked_refresh_token_ends_the_session_with_401_json() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = login_expired(&stack).await;
    stack.idp.revoke_all_grants();
    let res = browser.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 401, "{}", res.text());
    assert_eq!(res.json()["error"], "unauthenticated");
    assert!(
        res.set_cookie(COOKIE)
            .is_some_and(|c| c.contains("Max-Age=0")),
        "cookie not cleared"
    );
    assert!(
        stack
            .redis
            .as_ref()
            .unwrap()
            .raw_keys("bff:s:*")
            .await
            .is_empty(),
        "session not deleted"
    );
    assert_eq!(stack.upstream.request_count(), 0);
    assert_eq!(stack.bff.refresh_count(RefreshOutcome::InvalidGrant), 1);
}

#[tokio::test]
async fn f2_navigation_after_revocation_goes_to_login_and_session_endpoint_says_401() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = login_expired(&stack).await;
    stack.idp.revoke_all_grants();
    assert_eq!(
        browser.get(&stack, "/auth/session", &API).await.status,
        401,
        "UI still looks logged in"
    );
    let mut other = login_expired(&stack).await;
    stack.idp.revoke_all_grants();
    let nav = other.get(&stack, "/app", &NAVIGATION).await;
    assert_eq!(nav.status, 302);
    assert!(
        nav.location()
            .unwrap()
            .starts_with("/auth/login?return_to=")
    );
}

/// Fires `n` concurrent API calls spread round-robin over `pods`.
async fn burst(pods: &[&Running], cookie: &str, n: usize) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let addr = pods[i % pods.len()].public_addr;
        let cookie = cookie.to_owned();
        tasks.spawn(async move {
            let url = format!("http://{addr}/app/{i}");
            test_http::get(&url, &[("accept", "application/json"), ("cookie", &cookie)])
                .await
                .status
                .as_u16()
        });
    }
    tasks.join_all().await
}

#[tokio::test]
async fn f3_fifty_concurrent_calls_on_three_pods_make_exactly_one_refresh_per_cycle() {
    let extra = ["--refresh-skew", "1s"];
    let Some(stack) = Stack::start_with(Store::Redis, &extra).await else {
        return;
    };
    let pod2 = stack.another_bff(&extra).await;
    let pod3 = stack.another_bff(&extra).await;
    let browser = login_with_token_ttl(&stack, 3).await;
    let cookie = browser.cookie_header();
    for cycle in 1..=2 {
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let statuses = burst(&[&stack.bff, &pod2, &pod3], &cookie, 50).await;
        assert!(
            statuses.iter().all(|s| *s == 200),
            "cycle {cycle}: {statuses:?}"
        );
        assert_eq!(
            stack.idp.token_requests_for(REFRESH),
            cycle,
            "cycle {cycle}: token requests"
        );
    }
    let upstream_bearers: std::collections::BTreeSet<String> = stack
        .upstream
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(
        upstream_bearers.len(),
        2,
        "each cycle's 50 calls share one new token"
    );
}

#[tokio::test]
async fn f4_lock_left_by_a_dead_pod_blocks_only_for_its_lease() {
    let extra = ["--refresh-skew", "0s"];
    let Some(stack) = Stack::start_with(Store::Redis, &extra).await else {
        return;
    };
    let browser = login_with_token_ttl(&stack, 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // A pod took the lock and died: the key stays until its lease ends.
    let redis = stack.redis.as_ref().unwrap();
    let session_key = redis.raw_keys("bff:s:*").await.remove(0);
    let lock_key = session_key.replacen("bff:s:", "bff:lock:", 1);
    let mut conn = redis.connection().await;
    redis::cmd("SET")
        .arg(&lock_key)
        .arg("dead-pod")
        .arg("PX")
        .arg(1500)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let started = Instant::now();
    let res = get_api(&stack.bff, &browser.cookie_header(), "/app").await;
    let waited = started.elapsed();
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(stack.idp.token_requests_for(REFRESH), 1);
    // No stale-token loop: the next call uses the new token as is.
    stack.idp.set(|b| b.expires_in = 300);
    assert_eq!(
        get_api(&stack.bff, &browser.cookie_header(), "/app")
            .await
            .status,
        200
    );
    assert_eq!(stack.idp.token_requests_for(REFRESH), 1);
}

#[tokio::test]
async fn f6_provider_failure_during_refresh_is_503_and_keeps_the_session() {
    let extra = ["--refresh-skew", "30s"];
    let Some(stack) = Stack::start_with(Store::Redis, &extra).await else {
        return;
    };
    // 4 s tokens: the skew shrinks to 2 s; after 2.2 s the token is still
    // valid but inside the skew, so the failed refresh falls back to it.
    let mut browser = login_with_token_ttl(&stack, 4).await;
    let mut expired = login_with_token_ttl(&stack, 1).await;
    stack
        .idp
        .set(|b| b.token_override = Some((500, serde_json::json!({ "error": "server_error" }))));
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        browser.get(&stack, "/app", &API).await.status,
        200,
        "old valid token not used"
    );
    // Expired: 503 + Retry-After, session kept.
    let res = expired.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 503, "{}", res.text());
    assert_eq!(res.header("retry-after"), Some("1"));
    assert!(
        res.set_cookie(COOKIE).is_none(),
        "cookie cleared on a transient failure"
    );
    stack.idp.set(|b| b.token_override = None);
    assert_eq!(
        expired.get(&stack, "/app", &API).await.status,
        200,
        "session lost after the outage"
    );
    assert!(stack.bff.refresh_count(RefreshOutcome::TransientFailure) >= 2);
}

#[tokio::test]
async fn f6_provider_timeout_during_refresh_is_503_not_a_hang() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = login_with_token_ttl(&stack, 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack.idp.set(|b| b.token_delay = Duration::from_secs(15));
    let started = Instant::now();
    let res = browser.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(13),
        "{:?}",
        started.elapsed()
    );
    stack.idp.set(|b| b.token_delay = Duration::ZERO);
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
}

#[tokio::test]
async fn redis_outage_during_refresh_is_503_and_the_session_survives() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = login_with_token_ttl(&stack, 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The token request takes 500 ms; Redis stops answering meanwhile.
    stack
        .idp
        .set(|b| b.token_delay = Duration::from_millis(500));
    let pause = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut conn = stack.redis.as_ref().unwrap().connection().await;
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(3000)
            .arg("ALL")
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    };
    let (res, ()) = tokio::join!(browser.get(&stack, "/app", &API), pause);
    assert_eq!(res.status, 503, "{}", res.text());
    tokio::time::sleep(Duration::from_millis(3200)).await;
    stack.idp.set(|b| b.token_delay = Duration::ZERO);
    let after = browser.get(&stack, "/auth/session", &API).await;
    assert_eq!(after.status, 200, "session lost: {}", after.text());
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
    assert_eq!(stack.bff.refresh_count(RefreshOutcome::InvalidGrant), 0);
}

#[tokio::test]
async fn short_lived_tokens_are_not_refreshed_on_every_request() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    // 20 s tokens with the default 60 s skew: refresh only after ~10 s.
    let mut browser = login_with_token_ttl(&stack, 20).await;
    for _ in 0..10 {
        assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
    }
    assert_eq!(stack.idp.token_requests_for(REFRESH), 0);
}

#[tokio::test]
async fn an_activity_touch_racing_a_refresh_does_not_lose_the_rotated_refresh_token() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = login_expired(&stack).await;
    stack
        .idp
        .set(|b| b.token_delay = Duration::from_millis(600));
    let (id, data) = stack.session_of(&browser).await;
    let touch = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            stack.bff.touch_session(&id, &data).await.unwrap().is_some(),
            "touch did not land"
        );
    };
    let (res, ()) = tokio::join!(browser.get(&stack, "/app", &API), touch);
    assert_eq!(res.status, 200);
    // The next refresh must use the rotated refresh token, else the
    // provider sees reuse, revokes the grant, and the user is logged out.
    stack.idp.set(|b| b.token_delay = Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        browser.get(&stack, "/app", &API).await.status,
        200,
        "rotated refresh token was lost"
    );
    assert_eq!(stack.idp.token_requests_for(REFRESH), 2);
}

#[tokio::test]
async fn a_client_disconnecting_mid_refresh_neither_loses_tokens_nor_leaves_the_lock() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = login_expired(&stack).await;
    stack.idp.set(|b| {
        b.token_delay = Duration::from_millis(500);
        b.expires_in = 300;
    });
    let aborted = tokio::time::timeout(
        Duration::from_millis(100),
        browser.get(&stack, "/app", &API),
    )
    .await;
    assert!(aborted.is_err(), "request finished before the abort");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let redis = stack.redis.as_ref().unwrap();
    assert!(
        redis.raw_keys("bff:lock:*").await.is_empty(),
        "refresh lock left held"
    );
    stack.idp.set(|b| b.token_delay = Duration::ZERO);
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
    assert_eq!(
        stack.idp.token_requests_for(REFRESH),
        1,
        "the aborted refresh was not completed and saved"
    );
}
