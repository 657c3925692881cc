//! Cookie and session cases C1, C2, C4, C6, C8, C9 and the Redis
//! integrity cases R5, R6 (security-cases.md).

use crate::support::harness::{API, Browser, COOKIE, Stack, Store};

#[tokio::test]
async fn c1_every_set_cookie_is_hardened_and_not_cached() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/").await;
    let login_cookie = started
        .set_cookie("__Host-bff-login")
        .expect("binding cookie");
    assert_eq!(started.header("cache-control"), Some("no-store"));
    let callback = stack.idp_step(&started).await;
    let done = browser.get(&stack, &callback, &API).await;
    assert_eq!(done.header("cache-control"), Some("no-store"));
    let session_cookie = done.set_cookie(COOKIE).expect("session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            session_cookie.contains(attr),
            "{session_cookie} lacks {attr}"
        );
    }
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(login_cookie.contains(attr), "{login_cookie} lacks {attr}");
    }
    for cookie in [&session_cookie, &login_cookie] {
        assert!(
            !cookie.to_ascii_lowercase().contains("domain"),
            "{cookie} has a Domain"
        );
        assert!(cookie.len() < 4096);
    }
    let value = browser.cookie(COOKIE).unwrap();
    assert_eq!(value.len(), 43, "256-bit base64url session ID");
}

#[tokio::test]
async fn c2_tampered_cookies_get_one_uniform_401() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let browser = stack.logged_in_browser().await;
    let good = browser.cookie(COOKIE).unwrap().to_owned();
    let flipped = {
        let mut chars: Vec<char> = good.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let variants = [
        flipped,
        good[..40].to_owned(),
        "not base64 at all!!".to_owned(),
        "A".repeat(10 * 1024),
    ];
    let mut bodies = Vec::new();
    for value in &variants {
        let mut attacker = Browser::default();
        attacker.set_cookie(COOKIE, value);
        let res = attacker.get(&stack, "/app", &API).await;
        assert!(res.status == 401 || res.status == 431, "{}", res.status);
        if res.status == 401 {
            // Uniform but for the request id, which differs by design.
            let mut body = res.json();
            assert!(body["request_id"].is_string());
            body.as_object_mut().unwrap().remove("request_id");
            bodies.push(body);
        }
    }
    assert!(bodies.len() >= 3);
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "responses differ: {bodies:?}"
    );
    assert_eq!(stack.upstream.request_count(), 0);
}

#[tokio::test]
async fn c4_login_issues_a_new_id_and_kills_the_planted_one() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let attacker = stack.logged_in_browser().await;
    let planted = attacker.cookie(COOKIE).unwrap().to_owned();
    let mut victim = Browser::default();
    victim.set_cookie(COOKIE, &planted);
    let res = stack.login(&mut victim).await;
    assert_eq!(res.status, 302);
    let fresh = victim.cookie(COOKIE).unwrap().to_owned();
    assert_ne!(fresh, planted);
    let mut replay = Browser::default();
    replay.set_cookie(COOKIE, &planted);
    assert_eq!(
        replay.get(&stack, "/app", &API).await.status,
        401,
        "planted session still alive"
    );
}

#[tokio::test]
async fn c6_cookie_copied_before_logout_is_dead_after_it() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let copy = browser.clone();
    let out = browser.logout(&stack).await;
    assert_eq!(out.status, 302);
    let mut thief = copy;
    assert_eq!(thief.get(&stack, "/app", &API).await.status, 401);
    assert!(
        stack
            .redis
            .as_ref()
            .unwrap()
            .raw_keys("bff:s:*")
            .await
            .is_empty(),
        "session left in Redis"
    );
}

#[tokio::test]
async fn c8_session_id_outside_the_cookie_is_ignored() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let browser = stack.logged_in_browser().await;
    let id = browser.cookie(COOKIE).unwrap().to_owned();
    let mut stranger = Browser::default();
    let in_query = stranger
        .get(&stack, &format!("/app?{COOKIE}={id}&session={id}"), &API)
        .await;
    assert_eq!(in_query.status, 401);
    let bearer = format!("Bearer {id}");
    let headers = [
        ("accept", "application/json"),
        ("x-session-id", id.as_str()),
        ("authorization", bearer.as_str()),
    ];
    assert_eq!(stranger.get(&stack, "/app", &headers).await.status, 401);
    assert_eq!(stack.upstream.request_count(), 0);
}

#[tokio::test]
async fn c9_upstream_sees_no_bff_cookie_and_exactly_one_authorization() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = stack.logged_in_browser().await;
    browser.set_cookie("theme", "dark");
    let res = browser
        .get(
            &stack,
            "/app",
            &[
                ("accept", "application/json"),
                ("authorization", "Bearer evil"),
            ],
        )
        .await;
    assert_eq!(res.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    let cookies = seen.header_all("cookie").join("; ");
    assert!(
        !cookies.contains("__Host-bff"),
        "bff cookie forwarded: {cookies}"
    );
    assert!(
        cookies.contains("theme=dark"),
        "other cookies dropped: {cookies}"
    );
    let auth = seen.header_all("authorization");
    assert_eq!(auth.len(), 1, "{auth:?}");
    assert_ne!(auth[0], "Bearer evil");
}

#[tokio::test]
async fn r5_bit_flipped_record_is_no_session_and_no_panic() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let redis = stack.redis.as_ref().unwrap();
    let key = redis.raw_keys("bff:s:*").await.remove(0);
    let mut value = redis.get_raw(&key).await.unwrap();
    let mid = value.len() / 2;
    value[mid] ^= 0x01;
    let mut conn = redis.connection().await;
    redis::cmd("SET")
        .arg(&key)
        .arg(value)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    crate::support::logs::capture();
    let cookie = browser.cookie(COOKIE).unwrap().to_owned();
    let res = browser.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 401);
    assert_eq!(stack.upstream.request_count(), 0);
    assert_eq!(browser.get(&stack, "/auth/session", &API).await.status, 401);
    // The integrity event names the session by its hash prefix only.
    let log_id = &key["bff:s:".len()..]["{".len()..][..8];
    let logged = crate::support::logs::lines_with(&["failed integrity check", log_id]);
    assert!(!logged.is_empty(), "no integrity log line for {log_id}");
    assert!(
        logged.iter().all(|line| !line.contains(&cookie)),
        "{logged:?}"
    );
}

#[tokio::test]
async fn r6_record_copied_under_another_key_does_not_open() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut alice = stack.logged_in_browser().await;
    let redis = stack.redis.as_ref().unwrap();
    let alice_key = redis.raw_keys("bff:s:*").await.remove(0);
    stack.idp.set(|b| b.user.sub = "user-0002".into());
    let mut bob = stack.logged_in_browser().await;
    let bob_key = redis
        .raw_keys("bff:s:*")
        .await
        .into_iter()
        .find(|k| *k != alice_key)
        .unwrap();
    let alice_value = redis.get_raw(&alice_key).await.unwrap();
    let mut conn = redis.connection().await;
    redis::cmd("SET")
        .arg(&bob_key)
        .arg(alice_value)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        bob.get(&stack, "/auth/session", &API).await.status,
        401,
        "bob became alice"
    );
    let still_alice = alice.get(&stack, "/auth/session", &API).await;
    assert_eq!(still_alice.json()["sub"], "user-0001");
}
