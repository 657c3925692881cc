//! RP-initiated logout (O7), absolute and idle lifetimes (C5), the
//! CSRF-safe logout link (X4) and session fixation at login (C4).

use std::time::Duration;

use super::backchannel::alive;
use crate::support::harness::{API, Browser, COOKIE, NAVIGATION, Stack, Store};

#[tokio::test]
async fn o7_rp_logout_deletes_first_and_redirects_with_hint_uri_and_state() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let info = browser.get(&stack, "/auth/session", &API).await.json();
    let out = browser
        .get(&stack, info["logout_url"].as_str().unwrap(), &NAVIGATION)
        .await;
    assert_eq!(out.status, 302);
    assert!(
        stack
            .redis
            .as_ref()
            .unwrap()
            .raw_keys("bff:s:*")
            .await
            .is_empty(),
        "deleted only later"
    );
    assert!(out.set_cookie(COOKIE).unwrap().contains("Max-Age=0"));
    let location = url::Url::parse(out.location().unwrap()).unwrap();
    let q: std::collections::BTreeMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert!(q["id_token_hint"].starts_with("ey"));
    assert_eq!(
        q["post_logout_redirect_uri"],
        "https://app.example.test/auth/logged-out"
    );
    assert!(q["state"].len() >= 16);
    // The provider comes back with a state of its choosing: nothing changes.
    let back = browser
        .get(&stack, "/auth/logged-out?state=forged", &NAVIGATION)
        .await;
    assert_eq!(back.status, 200);
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 401);
}

#[tokio::test]
async fn o7_without_end_session_endpoint_logout_is_local() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    stack.idp.set(|b| b.end_session_endpoint = false);
    assert!(stack.bff.discover_provider().await, "discovery failed");
    let mut browser = stack.logged_in_browser().await;
    let out = browser.logout(&stack).await;
    assert_eq!(out.location(), Some("/auth/logged-out"));
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 401);
}

#[tokio::test]
async fn c5_absolute_lifetime_is_never_extended_by_activity() {
    let Some(stack) = Stack::start_with(Store::Redis, &["--session-ttl", "3s"]).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    for _ in 0..4 {
        assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        browser.get(&stack, "/app", &API).await.status,
        401,
        "activity extended the absolute lifetime"
    );
}

#[tokio::test]
async fn c5_idle_timeout_ends_unused_sessions_and_slide_false_does_not_touch() {
    let Some(stack) = Stack::start_with(Store::Redis, &["--session-idle-timeout", "2s"]).await
    else {
        return;
    };
    let mut active = stack.logged_in_browser().await;
    let mut idle = stack.logged_in_browser().await;
    let info = active
        .get(&stack, "/auth/session?slide=false", &API)
        .await
        .json();
    assert!(info["idle_expires_at"].as_i64().unwrap() <= bff::now_unix() + 2);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            active.get(&stack, "/app", &API).await.status,
            200,
            "active session ended"
        );
        assert!(
            idle.get(&stack, "/auth/session?slide=false", &API)
                .await
                .status
                != 500
        );
    }
    assert_eq!(
        idle.get(&stack, "/app", &API).await.status,
        401,
        "idle session survived"
    );
    let key = stack.redis.as_ref().unwrap().raw_keys("bff:s:*").await;
    assert_eq!(key.len(), 1);
    assert!(stack.redis.as_ref().unwrap().ttl(&key[0]).await <= 2);
}

#[tokio::test]
async fn x4_cross_site_logout_link_without_the_session_token_does_nothing() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = stack.logged_in_browser().await;
    for path in ["/auth/logout", "/auth/logout?sid=guess"] {
        let res = browser
            .get(
                &stack,
                path,
                &[
                    ("accept", "image/avif,image/*"),
                    ("sec-fetch-site", "cross-site"),
                ],
            )
            .await;
        assert_eq!(res.status, 400, "{path}");
        assert!(
            alive(&stack, &mut browser).await,
            "{path} logged the user out"
        );
    }
}

#[tokio::test]
async fn c4_session_held_when_login_started_is_ended_even_if_the_callback_lacks_the_cookie() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = stack.logged_in_browser().await;
    let old = browser.cookie(COOKIE).unwrap().to_owned();
    let started = stack.start_login(&mut browser, "/").await;
    let callback = stack.idp_step(&started).await;
    // SameSite=Strict: the cross-site redirect back carries no session cookie.
    browser.forget(COOKIE);
    assert_eq!(
        browser.get(&stack, &callback, &NAVIGATION).await.status,
        302
    );
    let mut replay = Browser::default();
    replay.set_cookie(COOKIE, &old);
    assert_eq!(
        replay.get(&stack, "/app", &API).await.status,
        401,
        "previous session survived the new login"
    );
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_without_waiting_and_clears_site_data() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = stack.logged_in_browser().await;
    // A slow provider never holds up the local logout.
    stack
        .idp
        .set(|b| b.revocation_delay = Duration::from_secs(5));
    let started = std::time::Instant::now();
    let res = browser.logout(&stack).await;
    assert_eq!(res.status, 302);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "logout waited for the revocation"
    );
    assert_eq!(
        res.header("clear-site-data"),
        Some("\"cookies\", \"storage\"")
    );
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 401);
    // RFC 7009 §2.1: the refresh token, with its type hint and client auth.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let revoked = loop {
        if let Some(form) = stack.idp.revocations().pop() {
            break form;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no revocation request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        revoked.get("token_type_hint").map(String::as_str),
        Some("refresh_token")
    );
    let token = revoked.get("token").expect("a token").clone();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !stack.idp.refresh_token_active(&token),
        "the refresh token is still active"
    );
}

#[tokio::test]
async fn logout_without_a_revocation_endpoint_is_still_complete() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    stack.idp.set(|b| b.revocation_endpoint = false);
    assert!(stack.bff.discover_provider().await);
    let mut browser = stack.logged_in_browser().await;
    let res = browser.logout(&stack).await;
    assert_eq!(res.status, 302);
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(stack.idp.revocations().is_empty());
}
