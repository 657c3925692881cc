//! Back-channel logout across pods (OIDC Back-Channel Logout 1.0; cases
//! O1–O6, A5): validation, `sid` and `sub` logout, replay, and retries
//! after a store failure.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::harness::{API, Browser, CLIENT_ID, Stack, Store};
use crate::support::http::{self as test_http, TestResponse};
use crate::support::jwt;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn now() -> i64 {
    bff::now_unix()
}

/// A valid logout-token claim set for `idp`, with `extra` merged in
/// (`null` values remove a claim).
pub(crate) fn claims(stack: &Stack, extra: Value) -> Value {
    let mut claims = json!({
        "iss": stack.idp.issuer(), "aud": CLIENT_ID, "iat": now(), "exp": now() + 120,
        "jti": format!("jti-{}", rand::random::<u64>()), "events": { EVENT: {} },
    });
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

/// Posts a fresh logout token (`typ: logout+jwt`) naming the provider
/// session `sid` to `pod`.
pub(crate) async fn log_out_sid(
    stack: &Stack,
    pod: std::net::SocketAddr,
    sid: &str,
) -> TestResponse {
    let token = jwt::sign_rs256(
        json!({ "typ": "logout+jwt" }),
        &claims(stack, json!({ "sid": sid })),
    );
    post_logout_token(pod, &token).await
}

pub(crate) async fn post_logout_token(pod: std::net::SocketAddr, token: &str) -> TestResponse {
    let body = format!(
        "logout_token={}",
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    );
    let url = format!("http://{pod}/auth/backchannel-logout");
    test_http::post(
        &url,
        &[("content-type", "application/x-www-form-urlencoded")],
        body,
    )
    .await
}

pub(crate) async fn alive(stack: &Stack, browser: &mut Browser) -> bool {
    browser
        .get(stack, "/auth/session?slide=false", &API)
        .await
        .status
        == 200
}

#[tokio::test]
async fn o1_sid_logout_on_another_pod_ends_only_that_session() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let pod2 = stack.another_bff(&[]).await;
    let mut ended = stack.logged_in_browser().await;
    stack.idp.set(|b| b.user.sid = "idp-session-other".into());
    let mut kept = stack.logged_in_browser().await;
    let res = log_out_sid(&stack, pod2.public_addr, "idp-session-0001").await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(!alive(&stack, &mut ended).await, "sid session survived");
    assert_eq!(ended.get_at(&pod2, "/app", &API).await.status, 401);
    assert!(
        alive(&stack, &mut kept).await,
        "another provider session was ended"
    );
}

#[tokio::test]
async fn o2_sub_only_logout_ends_every_session_of_the_user_and_leaves_no_keys() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browsers = Vec::new();
    for i in 0..3 {
        stack.idp.set(|b| b.user.sid = format!("idp-session-{i}"));
        browsers.push(stack.logged_in_browser().await);
    }
    let token = jwt::sign_rs256(
        json!({ "typ": "JWT" }),
        &claims(&stack, json!({ "sub": "user-0001" })),
    );
    assert_eq!(
        post_logout_token(stack.bff.public_addr, &token)
            .await
            .status,
        200
    );
    for browser in &mut browsers {
        assert!(!alive(&stack, browser).await);
    }
    let redis = stack.redis.as_ref().unwrap();
    for pattern in ["bff:s:*", "bff:m:*", "bff:sub:*", "bff:sid:*"] {
        assert!(
            redis.raw_keys(pattern).await.is_empty(),
            "{pattern} left behind"
        );
    }
}

async fn assert_refused(stack: &Stack, browser: &mut Browser, label: &str, token: &str) {
    let res = post_logout_token(stack.bff.public_addr, token).await;
    assert_eq!(res.status, 400, "{label}: {}", res.text());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(
        alive(stack, browser).await,
        "{label}: the session was ended"
    );
}

#[tokio::test]
async fn o3_unsigned_wrong_alg_or_bad_signature_is_refused() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let c = claims(&stack, json!({ "sid": "idp-session-0001" }));
    assert_refused(
        &stack,
        &mut browser,
        "alg none",
        &jwt::unsigned_alg_none(&c),
    )
    .await;
    assert_refused(
        &stack,
        &mut browser,
        "HS256",
        &jwt::hs256_with_secret(&c, b"test-secret-0123456789"),
    )
    .await;
    assert_refused(
        &stack,
        &mut browser,
        "other key",
        &jwt::signed_with_other_key(&c),
    )
    .await;
    assert_refused(
        &stack,
        &mut browser,
        "tampered",
        &jwt::tampered_signature(&jwt::sign_rs256(Value::Null, &c)),
    )
    .await;
}

#[tokio::test]
async fn o4_wrong_claims_are_refused() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let cases = [
        (
            "wrong iss",
            json!({ "sid": "idp-session-0001", "iss": "https://evil.example" }),
        ),
        (
            "wrong aud",
            json!({ "sid": "idp-session-0001", "aud": "someone-else" }),
        ),
        (
            // Only `exp` is wrong: `iat` is inside its window (O4).
            "expired",
            json!({ "sid": "idp-session-0001", "iat": now() - 30, "exp": now() - 120 }),
        ),
        (
            "no events",
            json!({ "sid": "idp-session-0001", "events": null }),
        ),
        (
            "wrong event",
            json!({ "sid": "idp-session-0001", "events": { "http://example.com/other": {} } }),
        ),
        ("nonce", json!({ "sid": "idp-session-0001", "nonce": "n" })),
        ("neither sub nor sid", json!({})),
        ("no iat", json!({ "sid": "idp-session-0001", "iat": null })),
    ];
    for (label, extra) in cases {
        let token = jwt::sign_rs256(Value::Null, &claims(&stack, extra));
        assert_refused(&stack, &mut browser, label, &token).await;
    }
    let wrong_typ = jwt::sign_rs256(
        json!({ "typ": "at+jwt" }),
        &claims(&stack, json!({ "sid": "idp-session-0001" })),
    );
    assert_refused(&stack, &mut browser, "typ", &wrong_typ).await;
    let body = test_http::post(
        &stack.url("/auth/backchannel-logout"),
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(body.status, 400);
}

#[tokio::test]
async fn o5_an_id_token_is_not_a_logout_token() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let id_token_claims = json!({
        "iss": stack.idp.issuer(), "aud": [CLIENT_ID], "azp": CLIENT_ID, "sub": "user-0001",
        "sid": "idp-session-0001", "iat": now(), "exp": now() + 300, "nonce": "abc",
    });
    assert_refused(
        &stack,
        &mut browser,
        "ID token",
        &jwt::sign_rs256(Value::Null, &id_token_claims),
    )
    .await;
}

#[tokio::test]
async fn o6_replayed_jti_has_no_effect_and_unknown_sid_is_200() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let unknown = jwt::sign_rs256(Value::Null, &claims(&stack, json!({ "sid": "never-seen" })));
    assert_eq!(
        post_logout_token(stack.bff.public_addr, &unknown)
            .await
            .status,
        200
    );
    let mut browser = stack.logged_in_browser().await;
    // The same jti again (even for a live sid) is refused without effect.
    let replay =
        post_logout_token(stack.bff.public_addr, &unknown.replace("never-seen", "x")).await;
    assert_eq!(replay.status, 400, "tampered replay accepted");
    let replay = post_logout_token(stack.bff.public_addr, &unknown).await;
    assert_eq!(replay.status, 400, "replayed jti accepted");
    assert!(alive(&stack, &mut browser).await);
}

#[tokio::test]
async fn a5_junk_flood_on_the_backchannel_endpoint_is_cheap_and_harmless() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let url = stack.url("/auth/backchannel-logout");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let oversized = format!("logout_token={}", "A".repeat(20 * 1024));
    let long_jwt = format!(
        "logout_token={}.{}.{}",
        "e".repeat(3000),
        "e".repeat(3000),
        "e".repeat(3000)
    );
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (url, oversized, long_jwt) = (url.clone(), oversized.clone(), long_jwt.clone());
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            for j in 0..100 {
                let body = match (i + j) % 4 {
                    0 => format!("logout_token={}", rand::random::<u64>()),
                    1 => oversized.clone(),
                    2 => long_jwt.clone(),
                    _ => "logout_token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".to_owned(),
                };
                statuses.push(test_http::post(&url, &form, body).await.status.as_u16());
            }
            statuses
        });
    }
    let statuses: Vec<u16> = tasks.join_all().await.into_iter().flatten().collect();
    assert_eq!(statuses.len(), 800);
    assert!(
        statuses.iter().all(|s| *s == 400),
        "{:?}",
        statuses.iter().filter(|s| **s != 400).collect::<Vec<_>>()
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "junk flood took {:?}",
        started.elapsed()
    );
    assert!(alive(&stack, &mut browser).await, "junk ended a session");
    let real = jwt::sign_rs256(
        Value::Null,
        &claims(&stack, json!({ "sid": "idp-session-0001" })),
    );
    assert_eq!(
        post_logout_token(stack.bff.public_addr, &real).await.status,
        200,
        "valid logout refused after the flood"
    );
    assert!(!alive(&stack, &mut browser).await);
}

#[tokio::test]
async fn a5_the_backchannel_body_limit_is_16_kib() {
    const LIMIT: usize = 16 * 1024;
    let stack = Stack::start(Store::Memory).await.unwrap();
    let url = stack.url("/auth/backchannel-logout");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let body = |len: usize| format!("logout_token={}", "A".repeat(len - "logout_token=".len()));
    let at_limit = test_http::post(&url, &form, body(LIMIT)).await;
    assert_eq!(at_limit.status, 400);
    assert_eq!(
        at_limit.json()["error_description"],
        "invalid logout token",
        "a {LIMIT}-byte body must reach validation"
    );
    let over = test_http::post(&url, &form, body(LIMIT + 1)).await;
    assert_eq!(over.status, 400);
    assert_eq!(over.json()["error_description"], "body too large or broken");
}

#[tokio::test]
async fn backchannel_logout_still_finds_sessions_kept_alive_past_the_idle_timeout() {
    let Some(stack) = Stack::start_with(Store::Redis, &["--session-idle-timeout", "2s"]).await
    else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
    }
    let token = jwt::sign_rs256(
        Value::Null,
        &claims(&stack, json!({ "sid": "idp-session-0001" })),
    );
    assert_eq!(
        post_logout_token(stack.bff.public_addr, &token)
            .await
            .status,
        200
    );
    assert!(
        !alive(&stack, &mut browser).await,
        "index expired before the session: logout missed it"
    );
}

#[tokio::test]
async fn o4_a_null_nonce_is_a_nonce_and_an_exp_at_the_end_of_time_does_not_overflow() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    // Fuzz regressions (fuzz/regressions/logout_token_signed/).
    let mut null_nonce = claims(&stack, json!({ "sid": "idp-session-0001" }));
    null_nonce["nonce"] = Value::Null;
    let token = jwt::sign_rs256(Value::Null, &null_nonce);
    assert_refused(&stack, &mut browser, "null nonce", &token).await;
    let far = claims(
        &stack,
        json!({ "sid": "idp-session-0001", "exp": i64::MAX }),
    );
    let res = post_logout_token(stack.bff.public_addr, &jwt::sign_rs256(Value::Null, &far)).await;
    assert_eq!(res.status, 200, "a far-future exp: {}", res.text());
    assert!(!alive(&stack, &mut browser).await);
}
