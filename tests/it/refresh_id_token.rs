//! Refreshed ID tokens (OIDC Core §12.2; cases F5, I5): what ends a
//! session (another `sub` or `iss`, also after a re-discovery found the new
//! signing key) and what never does (a rotated key, a clock-skewed `iat` or
//! `exp`). A key not published yet holds the new tokens unsaved.

use bff::RefreshOutcome;

use super::refresh::login_expired;
use crate::support::fake_idp::SigningMode;
use crate::support::harness::{API, Stack, Store};

const REFRESH: &str = "refresh_token";

#[tokio::test]
async fn f5_refreshed_id_token_with_other_subject_or_issuer_ends_the_session() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut alice = login_expired(&stack).await;
    stack.idp.set(|b| {
        b.id_token_extra.insert("sub".into(), "mallory".into());
    });
    assert_eq!(alice.get(&stack, "/app", &API).await.status, 401);
    stack.idp.set(|b| b.id_token_extra.clear());
    let mut bob = login_expired(&stack).await;
    stack
        .idp
        .set(|b| b.id_token_iss = Some("https://evil.example".into()));
    assert_eq!(bob.get(&stack, "/app", &API).await.status, 401);
    assert!(
        stack
            .redis
            .as_ref()
            .unwrap()
            .raw_keys("bff:s:*")
            .await
            .is_empty()
    );
    assert_eq!(stack.upstream.request_count(), 0);
}

#[tokio::test]
async fn refreshed_id_token_signed_with_a_rotated_key_keeps_the_session() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = login_expired(&stack).await;
    stack.idp.set(|b| {
        b.signing = SigningMode::RotatedKey;
        b.expires_in = 300;
    });
    let res = browser.get(&stack, "/app", &API).await;
    assert_eq!(
        res.status,
        200,
        "key rotation logged the user out: {}",
        res.text()
    );
    assert_eq!(stack.idp.token_requests_for(REFRESH), 1);
    assert_eq!(stack.bff.refresh_count(RefreshOutcome::InvalidGrant), 0);
}

#[tokio::test]
async fn f5_a_new_signing_key_does_not_excuse_another_subject() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut alice = login_expired(&stack).await;
    stack.idp.set(|b| {
        b.signing = SigningMode::RotatedKey;
        b.id_token_extra.insert("sub".into(), "mallory".into());
    });
    let res = alice.get(&stack, "/app", &API).await;
    assert_eq!(
        res.status, 401,
        "a changed sub was accepted after re-discovery"
    );
    assert_eq!(stack.bff.refresh_count(RefreshOutcome::InvalidGrant), 1);
    assert_eq!(stack.upstream.request_count(), 0);
}

#[tokio::test]
async fn a_clock_skewed_refreshed_id_token_keeps_the_session_and_the_previous_id_token() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    for skew in ["expired", "iat_in_future"] {
        let mut browser = login_expired(&stack).await;
        let (id, before) = stack.session_of(&browser).await;
        stack.idp.set(|b| {
            b.expires_in = 300;
            b.expired = skew == "expired";
            b.iat_in_future = skew == "iat_in_future";
        });
        let res = browser.get(&stack, "/app", &API).await;
        assert_eq!(
            res.status,
            200,
            "{skew}: a clock problem ended the session: {}",
            res.text()
        );
        let after = stack.bff.load_session(&id).await.unwrap().unwrap();
        assert_ne!(
            after.access_token, before.access_token,
            "{skew}: tokens not refreshed"
        );
        assert_eq!(
            after.id_token, before.id_token,
            "{skew}: the stale ID token was stored"
        );
        stack.idp.set(|b| {
            b.expired = false;
            b.iat_in_future = false;
            b.expires_in = 1;
        });
    }
    assert_eq!(stack.bff.refresh_count(RefreshOutcome::InvalidGrant), 0);
    assert_eq!(stack.idp.token_requests_for(REFRESH), 2);
}

#[tokio::test]
async fn f5_an_unverifiable_refreshed_id_token_is_held_unsaved_until_its_key_is_published() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut alice = login_expired(&stack).await;
    let (id, before) = stack.session_of(&alice).await;
    stack.idp.set(|b| {
        b.signing = SigningMode::UnpublishedKid;
        b.expires_in = 300;
    });
    let res = alice.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 503, "unverifiable tokens used: {}", res.text());
    assert!(res.header("retry-after").is_some());
    let held = stack.bff.load_session(&id).await.unwrap().unwrap();
    assert_eq!(
        held.access_token, before.access_token,
        "unverified tokens saved"
    );
    assert_eq!(held.refresh_token, before.refresh_token);
    assert_eq!(held.id_token, before.id_token);
    // The provider now publishes the key; the held tokens are checked and
    // saved without a second grant (the old refresh token is spent).
    stack.idp.set(|b| b.signing = SigningMode::RotatedKey);
    assert!(stack.bff.discover_provider().await);
    let res = alice.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 200, "held tokens lost: {}", res.text());
    assert_eq!(stack.idp.token_requests_for(REFRESH), 1);
    let saved = stack.bff.load_session(&id).await.unwrap().unwrap();
    assert_ne!(saved.access_token, before.access_token);
    assert_ne!(saved.id_token, before.id_token, "new ID token not kept");
    assert_eq!(stack.bff.refresh_count(RefreshOutcome::InvalidGrant), 0);
}

#[tokio::test]
async fn f5_held_tokens_for_another_subject_end_the_session_once_verifiable() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    let mut alice = login_expired(&stack).await;
    stack.idp.set(|b| {
        b.signing = SigningMode::UnpublishedKid;
        b.expires_in = 300;
        b.id_token_extra.insert("sub".into(), "mallory".into());
    });
    assert_eq!(alice.get(&stack, "/app", &API).await.status, 503);
    stack.idp.set(|b| b.signing = SigningMode::RotatedKey);
    assert!(stack.bff.discover_provider().await);
    let res = alice.get(&stack, "/app", &API).await;
    assert_eq!(res.status, 401, "another sub accepted: {}", res.text());
    assert_eq!(stack.bff.refresh_count(RefreshOutcome::InvalidGrant), 1);
    assert_eq!(stack.upstream.request_count(), 0);
}
