//! Login-flow attacks L1–L10 (security-cases.md, "Login flow").

use crate::support::fake_idp::{IssParam, NonceMode};
use crate::support::harness::{Browser, COOKIE, LOGIN_COOKIE, NAVIGATION, Stack, Store};

fn assert_rejected(res: &crate::support::http::TestResponse) {
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(res.set_cookie(COOKIE).is_none(), "a session cookie was set");
}

#[tokio::test]
async fn l1_callback_without_or_with_unknown_state_is_rejected() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/").await;
    let _ = stack.idp_step(&started).await;
    for path in [
        "/auth/callback?code=abc",
        "/auth/callback?code=abc&state=",
        "/auth/callback?code=abc&state=forged",
    ] {
        assert_rejected(&browser.get(&stack, path, &NAVIGATION).await);
    }
    assert_eq!(stack.idp.token_requests(), 0, "a token call was made");
}

#[tokio::test]
async fn l2_callback_from_another_browser_is_rejected() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut victim = Browser::default();
    let started = stack.start_login(&mut victim, "/").await;
    let callback = stack.idp_step(&started).await;
    let mut attacker = Browser::default();
    assert_rejected(&attacker.get(&stack, &callback, &NAVIGATION).await);
    attacker.set_cookie(LOGIN_COOKIE, &bff::SessionId::generate().unwrap().encode());
    let wrong_binding = attacker.get(&stack, &callback, &NAVIGATION).await;
    assert_rejected(&wrong_binding);
    assert!(
        wrong_binding.text().contains("started in another browser"),
        "the binding comparison was not reached: {}",
        wrong_binding.text()
    );
    assert_eq!(stack.idp.token_requests(), 0);
    // The stranger's attempts did not burn the victim's login.
    let done = victim.get(&stack, &callback, &NAVIGATION).await;
    assert_eq!(
        done.status,
        302,
        "the victim's login was burnt: {}",
        done.text()
    );
    assert!(victim.cookie(COOKIE).is_some());
}

#[tokio::test]
async fn l3_replayed_code_and_state_are_rejected() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/").await;
    let callback = stack.idp_step(&started).await;
    assert_eq!(
        browser.get(&stack, &callback, &NAVIGATION).await.status,
        302
    );
    assert_rejected(&browser.get(&stack, &callback, &NAVIGATION).await);
    assert_eq!(stack.idp.token_requests(), 1);
}

#[tokio::test]
async fn l4_missing_or_wrong_nonce_is_rejected() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    for mode in [NonceMode::Missing, NonceMode::Wrong] {
        stack.idp.set(|b| b.nonce = mode);
        let mut browser = Browser::default();
        let res = stack.login(&mut browser).await;
        assert_rejected(&res);
        assert!(browser.cookie(COOKIE).is_none());
    }
}

#[tokio::test]
async fn l5_authorization_request_uses_s256_and_fresh_values() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    for _ in 0..2 {
        let started = stack.start_login(&mut browser, "/").await;
        let _ = stack.idp_step(&started).await;
    }
    let queries = stack.idp.authorize_queries();
    assert_eq!(queries.len(), 2);
    for q in &queries {
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(q["redirect_uri"], "https://app.example.test/auth/callback");
        assert!(q["scope"].split(' ').any(|s| s == "openid"));
        assert!(q["state"].len() >= 22 && q["nonce"].len() >= 22);
    }
    for field in ["state", "nonce", "code_challenge"] {
        assert_ne!(queries[0][field], queries[1][field], "{field} was reused");
    }
}

#[tokio::test]
async fn l6_injected_code_from_another_transaction_fails_the_exchange() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut attacker = Browser::default();
    let attacker_started = stack.start_login(&mut attacker, "/").await;
    let attacker_callback = stack.idp_step(&attacker_started).await;
    let attacker_code = query_value(&attacker_callback, "code");

    let mut victim = Browser::default();
    let victim_started = stack.start_login(&mut victim, "/").await;
    let victim_callback = stack.idp_step(&victim_started).await;
    let victim_code = query_value(&victim_callback, "code");
    let injected = victim_callback.replace(&victim_code, &attacker_code);
    assert_rejected(&victim.get(&stack, &injected, &NAVIGATION).await);
    assert!(victim.cookie(COOKIE).is_none());
}

#[tokio::test]
async fn l7_missing_or_foreign_iss_parameter_is_rejected_before_token_call() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    for mode in [IssParam::Missing, IssParam::Wrong] {
        stack.idp.set(|b| b.iss_param = mode);
        let mut browser = Browser::default();
        assert_rejected(&stack.login(&mut browser).await);
    }
    assert_eq!(stack.idp.token_requests(), 0);
}

#[tokio::test]
async fn l8_return_to_never_leaves_the_origin() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let payloads = [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/%09/evil.example",
        "javascript:alert(1)",
        "/\r\nSet-Cookie: x=1",
        "\\\\evil.example",
        "/%2F%2Fevil.example",
        "http:evil.example",
        "/%5Cevil",
    ];
    for payload in payloads {
        let mut browser = Browser::default();
        let res = stack.start_login(&mut browser, payload).await;
        assert_eq!(res.status, 400, "{payload:?} accepted");
        assert!(res.location().is_none());
    }
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/deep/link?x=1").await;
    let callback = stack.idp_step(&started).await;
    let done = browser.get(&stack, &callback, &NAVIGATION).await;
    assert_eq!(done.location(), Some("/deep/link?x=1"));
}

#[tokio::test]
async fn l9_provider_error_is_shown_escaped_without_session() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/").await;
    let callback = stack.idp_step(&started).await;
    let state = query_value(&callback, "state");
    let xss = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let path = format!("/auth/callback?error=access_denied&error_description={xss}&state={state}");
    let res = browser.get(&stack, &path, &NAVIGATION).await;
    assert_rejected(&res);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(
        !res.text().contains("<script>alert"),
        "unescaped provider text"
    );
    assert_eq!(stack.idp.token_requests(), 0);
}

#[tokio::test]
async fn l10_duplicate_parameters_and_expired_state_are_rejected() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let redis = stack.redis.as_ref().unwrap();
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/").await;
    let pending = redis.raw_keys("bff:login:*").await;
    assert_eq!(pending.len(), 1);
    let ttl = redis.ttl(&pending[0]).await;
    assert!((590..=600).contains(&ttl), "pending login TTL {ttl}");
    let callback = stack.idp_step(&started).await;
    let state = query_value(&callback, "state");
    assert_rejected(
        &browser
            .get(&stack, &format!("{callback}&state={state}"), &NAVIGATION)
            .await,
    );
    assert_rejected(
        &browser
            .get(&stack, &format!("{callback}&code=other"), &NAVIGATION)
            .await,
    );
    // The duplicate attempts consumed nothing; expiry (simulated by the
    // key vanishing, as a TTL does) makes the callback fail.
    redis.flush_all().await;
    assert_rejected(&browser.get(&stack, &callback, &NAVIGATION).await);
    assert_eq!(stack.idp.token_requests(), 0);
}

fn query_value(path_and_query: &str, name: &str) -> String {
    let url = url::Url::parse(&format!("http://x{path_and_query}")).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test]
async fn l2_a_custom_cookie_name_still_gets_a_host_prefixed_binding_cookie() {
    let stack = Stack::start_with(Store::Memory, &["--cookie-name", "session"])
        .await
        .unwrap();
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/").await;
    assert!(
        browser.cookie("__Host-session-login").is_some(),
        "binding cookie not __Host-"
    );
    assert!(
        browser.cookie("session-login").is_none(),
        "a plantable binding cookie was set"
    );
    let callback = stack.idp_step(&started).await;
    let done = browser.get(&stack, &callback, &NAVIGATION).await;
    assert_eq!(done.status, 302, "{}", done.text());
    assert!(browser.cookie("session").is_some());
    // A binding cookie planted under the unprefixed name is ignored.
    let mut victim = Browser::default();
    victim.set_cookie(
        "session-login",
        &bff::SessionId::generate().unwrap().encode(),
    );
    assert_eq!(stack.start_login(&mut victim, "/").await.status, 302);
    assert!(
        victim.cookie("__Host-session-login").is_some(),
        "the planted cookie was adopted"
    );
}
