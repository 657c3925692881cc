//! Provider and Redis faults: I5–I9, L11, C3, R2–R4, R8 (password)
//! (security-cases.md). Every fault ends in a clear status, never a 500,
//! and never a partial session.

use std::time::{Duration, Instant};

use serde_json::json;

use super::backchannel::{alive, claims, post_logout_token};
use crate::support::fake_idp::SigningMode;
use crate::support::harness::{self, API, Browser, COOKIE, NAVIGATION, Stack, Store};
use crate::support::harness::{args, start_bff};
use crate::support::http as test_http;
use crate::support::jwt;
use crate::support::redis_server::RedisServer;

#[tokio::test]
async fn i5_jwks_rotation_is_picked_up_once_and_rediscovery_is_rate_limited() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let fetched_at_start = stack.idp.jwks_fetches();
    // The provider rotates in a new key after bff cached the old JWKS.
    stack.idp.set(|b| b.signing = SigningMode::RotatedKey);
    let mut browser = Browser::default();
    let res = stack.login(&mut browser).await;
    assert_eq!(res.status, 302, "rotated key not picked up: {}", res.text());
    assert_eq!(
        stack.idp.jwks_fetches(),
        fetched_at_start + 1,
        "not exactly one re-fetch"
    );
    // A kid that no JWKS publishes, right after: rejected, with no second
    // re-fetch inside the 30 s limit.
    let mut other = Browser::default();
    let started = stack.start_login(&mut other, "/").await;
    let callback = stack.idp_step(&started).await;
    stack.idp.set(|b| b.signing = SigningMode::UnknownKid);
    let res = other.get(&stack, &callback, &NAVIGATION).await;
    assert_eq!(res.status, 400, "unknown kid accepted: {}", res.text());
    assert!(res.set_cookie(COOKIE).is_none());
    assert_eq!(
        stack.idp.jwks_fetches(),
        fetched_at_start + 1,
        "re-fetch not rate-limited"
    );
    assert!(
        !stack.bff.rediscover_on_unknown_key().await,
        "re-discovery not rate-limited"
    );
}

#[tokio::test]
async fn i6_discovery_issuer_mismatch_is_never_used() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    stack
        .idp
        .set(|b| b.discovery_issuer = Some("https://evil.example".into()));
    let args = harness::args(stack.idp.issuer(), &stack.upstream.url(), None, &[]);
    let bff = bff::start(bff::config::Config::load(&args).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!bff.provider_discovered(), "mismatched issuer accepted");
    let ready = test_http::get(&format!("http://{}/readyz", bff.admin_addr), &[]).await;
    assert_eq!(ready.status, 503);
    let login = test_http::get(&format!("http://{}/auth/login", bff.public_addr), &[]).await;
    assert_eq!(login.status, 502);
}

#[tokio::test]
async fn i7_provider_down_at_start_is_not_ready_then_recovers_with_backoff() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    stack
        .idp
        .set(|b| b.discovery_issuer = Some("https://down.example".into()));
    let args = harness::args(stack.idp.issuer(), &stack.upstream.url(), None, &[]);
    let bff = bff::start(bff::config::Config::load(&args).unwrap())
        .await
        .unwrap();
    let readyz = format!("http://{}/readyz", bff.admin_addr);
    assert_eq!(test_http::get(&readyz, &[]).await.status, 503);
    stack.idp.set(|b| b.discovery_issuer = None);
    let started = Instant::now();
    while test_http::get(&readyz, &[]).await.status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed = harness::args("http://127.0.0.1:1", &stack.upstream.url(), None, &[]);
    let orphan = bff::start(bff::config::Config::load(&closed).unwrap())
        .await
        .unwrap();
    assert_eq!(
        test_http::get(&format!("http://{}/readyz", orphan.admin_addr), &[])
            .await
            .status,
        503
    );
}

#[tokio::test]
async fn i8_broken_token_responses_are_502_with_no_session() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let huge = "x".repeat(10 * 1024 * 1024);
    let cases = [
        ("5xx", (500, json!({ "error": "server_error" }))),
        ("malformed", (200, json!({ "unexpected": true }))),
        (
            "10 MB",
            (200, json!({ "access_token": huge, "token_type": "Bearer" })),
        ),
    ];
    for (label, answer) in cases {
        stack.idp.set(|b| b.token_override = Some(answer));
        let mut browser = Browser::default();
        let res = stack.login(&mut browser).await;
        assert_eq!(res.status, 502, "{label}: {}", res.text());
        assert!(res.set_cookie(COOKIE).is_none(), "{label}: session created");
    }
}

#[tokio::test]
async fn i9_slow_token_endpoint_times_out_with_504_and_others_are_served() {
    let stack = Stack::start_with(Store::Memory, &["--provider-timeout", "1s"])
        .await
        .unwrap();
    let mut fast = stack.logged_in_browser().await;
    stack.idp.set(|b| b.token_delay = Duration::from_secs(60));
    let mut slow = Browser::default();
    let started = stack.start_login(&mut slow, "/").await;
    let callback = stack.idp_step(&started).await;
    let begun = Instant::now();
    let (res, other) = tokio::join!(
        slow.get(&stack, &callback, &NAVIGATION),
        fast.get(&stack, "/app", &API)
    );
    assert_eq!(res.status, 504);
    assert!(begun.elapsed() < Duration::from_secs(5));
    assert_eq!(other.status, 200, "other requests starved");
}

#[tokio::test]
async fn l11_five_tabs_logging_in_at_once_all_complete() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    let mut callbacks = Vec::new();
    for _ in 0..5 {
        let started = stack.start_login(&mut browser, "/tab").await;
        callbacks.push(stack.idp_step(&started).await);
    }
    callbacks.reverse();
    for callback in callbacks {
        let res = browser.get(&stack, &callback, &NAVIGATION).await;
        assert_eq!(res.status, 302, "{}", res.text());
    }
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
}

#[tokio::test]
async fn c3_random_session_ids_all_get_401() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = stack.url("/app");
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..250 {
                let id = bff::SessionId::generate().unwrap().encode();
                let cookie = format!("{COOKIE}={id}");
                statuses.push(
                    test_http::get(&url, &[("accept", "application/json"), ("cookie", &cookie)])
                        .await
                        .status,
                );
            }
            statuses
        });
    }
    let statuses: Vec<_> = tasks.join_all().await.into_iter().flatten().collect();
    assert_eq!(statuses.len(), 2000);
    assert!(statuses.iter().all(|s| *s == 401));
    assert_eq!(stack.upstream.request_count(), 0);
    // Alerting: every guess is counted for operators, and a malformed or
    // duplicated cookie separately.
    for cookie in [
        format!("{COOKIE}=not-an-id"),
        format!("{COOKIE}=a; {COOKIE}=b"),
    ] {
        assert_eq!(
            test_http::get(
                &stack.url("/app"),
                &[("accept", "application/json"), ("cookie", &cookie)]
            )
            .await
            .status,
            401
        );
    }
    let metrics = test_http::get(&stack.admin_url("/metrics"), &[])
        .await
        .text();
    assert!(
        metrics.contains("bff_session_rejected_total{reason=\"unknown\"} 2000"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bff_session_rejected_total{reason=\"malformed\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn r2_redis_down_mid_request_fails_closed_and_nothing_is_lost() {
    let Some(mut stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let mut conn = stack.redis.as_ref().unwrap().connection().await;
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(2500)
        .arg("ALL")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let res = browser.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 503, "R2/R4: a stalled Redis must fail closed");
    assert_eq!(res.header("retry-after"), Some("1"));
    assert_eq!(
        stack.upstream.request_count(),
        0,
        "forwarded without a session check"
    );
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(
        browser.get(&stack, "/app", &API).await.status,
        200,
        "session lost after the stall"
    );
    stack.redis.as_mut().unwrap().stop();
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 503);
}

#[tokio::test]
async fn r3_flushed_redis_means_clean_relogin_without_500() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    stack.redis.as_ref().unwrap().flush_all().await;
    let res = browser.get(&stack, "/app", &NAVIGATION).await;
    assert_eq!(res.status, 302);
    assert!(res.location().unwrap().starts_with("/auth/login"));
    assert_eq!(stack.login(&mut browser).await.status, 302);
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
}

#[tokio::test]
async fn r4_slow_redis_times_out_in_bounded_time() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let mut conn = stack.redis.as_ref().unwrap().connection().await;
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(4000)
        .arg("ALL")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let started = Instant::now();
    let res = browser.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 503);
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn r8_wrong_redis_password_refuses_to_start() {
    let Some(redis) = RedisServer::start_with_password("right-password") else {
        return;
    };
    let stack = Stack::start(Store::Memory).await.unwrap();
    for url in [
        format!("redis://:wrong@127.0.0.1:{}/", redis.port()),
        format!("redis://127.0.0.1:{}/", redis.port()),
    ] {
        let args = harness::args(stack.idp.issuer(), &stack.upstream.url(), Some(&url), &[]);
        let started = bff::start(bff::config::Config::load(&args).unwrap()).await;
        let err = started
            .err()
            .expect("bff started with bad Redis credentials");
        assert!(!err.to_string().contains("wrong"), "secret in error: {err}");
    }
    let good = format!("redis://:right-password@127.0.0.1:{}/", redis.port());
    let args = harness::args(stack.idp.issuer(), &stack.upstream.url(), Some(&good), &[]);
    assert!(
        bff::start(bff::config::Config::load(&args).unwrap())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn o6_a_logout_token_that_failed_on_a_store_error_still_works_when_retried() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let redis = stack.redis.as_ref().unwrap();
    let mut admin = redis.connection().await;
    // A pod whose Redis user may read and write keys but not run scripts:
    // finding a session's index fails after the token was validated.
    let acl = |rules: &[&str]| {
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER")
            .arg("pod")
            .arg("on")
            .arg(">pod-password")
            .arg("~*")
            .arg("&*");
        cmd.arg(rules);
        cmd
    };
    let _: () = acl(&["+@all", "-evalsha", "-eval", "-script"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://pod:pod-password@127.0.0.1:{}/", redis.port());
    let pod = start_bff(&args(
        stack.idp.issuer(),
        &stack.upstream.url(),
        Some(&url),
        &[],
    ))
    .await;
    let mut browser = stack.logged_in_browser().await;
    let token = jwt::sign_rs256(
        json!({ "typ": "logout+jwt" }),
        &claims(&stack, json!({ "sid": "idp-session-0001" })),
    );
    let failed = post_logout_token(pod.public_addr, &token).await;
    assert_eq!(
        failed.status,
        503,
        "a store failure is not a refusal: {}",
        failed.text()
    );
    assert!(alive(&stack, &mut browser).await, "nothing ended yet");
    // The store recovers; the provider retries the same token (§2.8).
    let _: () = acl(&["+@all"]).query_async(&mut admin).await.unwrap();
    let retried = post_logout_token(pod.public_addr, &token).await;
    assert_eq!(
        retried.status,
        200,
        "the retry was taken for a replay: {}",
        retried.text()
    );
    assert!(
        !alive(&stack, &mut browser).await,
        "the session survived the retry"
    );
    let replay = post_logout_token(pod.public_addr, &token).await;
    assert_eq!(replay.status, 400, "an accepted token was accepted twice");
}
