//! The whole walking skeleton: login → proxied API call → session info →
//! logout, on the memory store and on a real Redis.

use http::Method;

use crate::support::harness::{API, Browser, COOKIE, NAVIGATION, Stack, Store, path_and_query};
use crate::support::jwt;

async fn full_flow(stack: &Stack) {
    let mut browser = stack.logged_in_browser().await;

    // Proxied API call: the upstream sees the bearer, not the cookie.
    let res = browser.get(stack, "/app/data?x=1", &API).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let seen = stack.upstream.last_request().expect("upstream was called");
    assert_eq!(seen.path, "/app/data?x=1");
    let bearer = seen.header("authorization").expect("bearer injected");
    let token = bearer.strip_prefix("Bearer ").expect("Bearer scheme");
    assert_eq!(jwt::claims_of(token)["sub"], "user-0001");
    assert!(seen.header("cookie").is_none_or(|c| !c.contains(COOKIE)));

    // Session info: claims only, never a token.
    let info = browser.get(stack, "/auth/session", &API).await;
    assert_eq!(info.status, 200);
    let body = info.json();
    assert_eq!(body["sub"], "user-0001");
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["preferred_username"], "ada");
    assert!(body["expires_at"].as_i64().unwrap() > bff::now_unix() + 7 * 3600);
    assert!(
        !info.text().contains("eyJ"),
        "a JWT leaked into /auth/session"
    );

    // Logout via the link from /auth/session.
    let logout_url = body["logout_url"].as_str().unwrap().to_owned();
    let out = browser.get(stack, &logout_url, &NAVIGATION).await;
    assert_eq!(out.status, 302);
    let location = out.location().unwrap();
    assert!(
        location.starts_with(&stack.idp.url("/logout")),
        "{location}"
    );
    assert!(browser.cookie(COOKIE).is_none(), "cookie not cleared");
    let query: std::collections::BTreeMap<String, String> = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(query.contains_key("id_token_hint") && query.contains_key("state"));
    assert_eq!(query["client_id"], "bff-test");
    assert_eq!(
        query["post_logout_redirect_uri"],
        "https://app.example.test/auth/logged-out"
    );

    let after = browser.get(stack, "/app/data", &API).await;
    assert_eq!(after.status, 401);
}

#[tokio::test]
async fn login_proxy_logout_with_memory_store() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    full_flow(&stack).await;
}

#[tokio::test]
async fn login_proxy_logout_with_redis_store() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    full_flow(&stack).await;
}

#[tokio::test]
async fn redis_holds_only_ciphertext_under_hashed_keys_with_8h_ttl() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let browser = stack.logged_in_browser().await;
    let cookie = browser.cookie(COOKIE).unwrap().to_owned();
    let redis = stack.redis.as_ref().unwrap();
    let keys = redis.raw_keys("bff:s:*").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = &keys[0];
    assert!(
        !key.contains(&cookie) && !key.contains(&cookie[..16]),
        "raw session ID in the key"
    );
    let ttl = redis.ttl(key).await;
    assert!((8 * 3600 - 60..=8 * 3600).contains(&ttl), "ttl {ttl}");
    let value = redis.get_raw(key).await.unwrap();
    let text = String::from_utf8_lossy(&value);
    for plaintext in ["eyJ", "user-0001", "Ada", "access_token", "refresh"] {
        assert!(!text.contains(plaintext), "{plaintext} visible in Redis");
    }
    // Using the session does not extend the absolute TTL.
    let mut browser = browser;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    browser.get(&stack, "/app", &API).await;
    assert!(redis.ttl(key).await <= ttl, "TTL was extended by use");
}

#[tokio::test]
async fn navigation_without_session_redirects_to_login_and_returns_after() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    let res = browser.get(&stack, "/app/page?tab=2", &NAVIGATION).await;
    assert_eq!(res.status, 302);
    assert_eq!(
        res.location(),
        Some("/auth/login?return_to=%2Fapp%2Fpage%3Ftab%3D2")
    );
    let login = browser
        .get(&stack, res.location().unwrap(), &NAVIGATION)
        .await;
    let callback = stack.idp_step(&login).await;
    let done = browser.get(&stack, &callback, &NAVIGATION).await;
    assert_eq!(done.location(), Some("/app/page?tab=2"));
    assert_eq!(stack.upstream.request_count(), 0);
}

#[tokio::test]
async fn api_call_without_session_gets_401_json_with_login_url() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    for headers in [
        &API[..],
        &[("x-requested-with", "XMLHttpRequest")][..],
        &[][..],
    ] {
        let res = browser.get(&stack, "/app/data", headers).await;
        assert_eq!(res.status, 401, "{headers:?}");
        assert_eq!(res.json()["login_url"], "/auth/login");
        assert_eq!(res.header("cache-control"), Some("no-store"));
    }
    assert_eq!(stack.upstream.request_count(), 0);
}

#[tokio::test]
async fn post_logout_needs_csrf_header_and_ends_session_first() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = stack.logged_in_browser().await;
    let refused = browser
        .send(&stack, Method::POST, "/auth/logout", &API, "")
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        browser.get(&stack, "/app", &API).await.status,
        200,
        "refused logout ended the session"
    );
    let out = browser.logout(&stack).await;
    assert_eq!(out.status, 302);
    assert!(out.set_cookie(COOKIE).unwrap().contains("Max-Age=0"));
    assert_eq!(browser.get(&stack, "/app", &API).await.status, 401);
    // Logging out twice is fine.
    let again = browser.logout(&stack).await;
    assert_eq!(again.location(), Some("/auth/logged-out"));
}

#[tokio::test]
async fn logged_out_page_needs_no_session_and_ignores_state() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    let res = browser
        .get(&stack, "/auth/logged-out?state=whatever", &NAVIGATION)
        .await;
    assert_eq!(res.status, 200);
    assert!(res.text().contains("signed out"));
    assert_eq!(path_and_query("http://x/a?b=c"), "/a?b=c");
}

#[tokio::test]
async fn l8_deep_links_with_encoded_characters_survive_the_login() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    for deep_link in [
        "/search?q=a%20b",
        "/search?q=a%5Cb%0A",
        "/s?q=caf%E9&x=%C3%A9",
    ] {
        let mut browser = Browser::default();
        let res = browser.get(&stack, deep_link, &NAVIGATION).await;
        assert_eq!(res.status, 302, "{deep_link}");
        let login = browser
            .get(&stack, res.location().unwrap(), &NAVIGATION)
            .await;
        assert_eq!(
            login.status,
            302,
            "{deep_link}: login refused: {}",
            login.text()
        );
        let callback = stack.idp_step(&login).await;
        let done = browser.get(&stack, &callback, &NAVIGATION).await;
        assert_eq!(done.location(), Some(deep_link), "{deep_link}");
    }
    // A non-ASCII return path is refused cleanly, never a 302 without Location.
    let mut browser = Browser::default();
    let res = stack.start_login(&mut browser, "/caf\u{e9}").await;
    assert_eq!(res.status, 400);
}
