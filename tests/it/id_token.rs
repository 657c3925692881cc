//! ID-token attacks I1–I4 (security-cases.md, "ID token / IdP faults"):
//! every forged or invalid ID token ends the login with 400 and no session.

use crate::support::fake_idp::{AudMode, Behaviour, SigningMode};
use crate::support::harness::{Browser, COOKIE, Stack, Store};

/// Logs in with the IdP misbehaving as `change` says; asserts rejection.
async fn assert_login_rejected(stack: &Stack, label: &str, change: impl FnOnce(&mut Behaviour)) {
    assert_login_fails_with(stack, label, 400, change).await;
}

/// Like [`assert_login_rejected`] with an expected status: a token
/// response whose ID token lacks a required claim does not even parse, so
/// it is a bad provider answer (502, as security case I8), not a 400.
async fn assert_login_fails_with(
    stack: &Stack,
    label: &str,
    status: u16,
    change: impl FnOnce(&mut Behaviour),
) {
    stack.idp.set(|b| *b = Behaviour::default());
    stack.idp.set(change);
    let mut browser = Browser::default();
    let res = stack.login(&mut browser).await;
    assert_eq!(res.status, status, "{label}: {}", res.text());
    assert!(res.set_cookie(COOKIE).is_none(), "{label}: session created");
    assert!(
        !res.text().contains("eyJ"),
        "{label}: token material in the error page"
    );
}

#[tokio::test]
async fn i1_alg_none_and_hmac_confusion_are_rejected() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    assert_login_rejected(&stack, "alg none", |b| b.signing = SigningMode::AlgNone).await;
    assert_login_rejected(&stack, "HS256 client secret", |b| {
        b.signing = SigningMode::Hs256ClientSecret
    })
    .await;
    assert_login_rejected(&stack, "HS256 public key", |b| {
        b.signing = SigningMode::Hs256PublicKey
    })
    .await;
}

#[tokio::test]
async fn i2_bad_signatures_are_rejected() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    assert_login_rejected(&stack, "tampered", |b| {
        b.signing = SigningMode::TamperedSignature
    })
    .await;
    assert_login_rejected(&stack, "unpublished key", |b| {
        b.signing = SigningMode::OtherKey
    })
    .await;
}

#[tokio::test]
async fn i3_wrong_issuer_audience_azp_and_missing_claims_are_rejected() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    assert_login_rejected(&stack, "wrong iss", |b| {
        b.id_token_iss = Some("https://evil.example".into())
    })
    .await;
    assert_login_rejected(&stack, "wrong aud", |b| b.aud = AudMode::Wrong).await;
    assert_login_rejected(&stack, "missing aud", |b| b.aud = AudMode::Missing).await;
    assert_login_rejected(&stack, "untrusted extra aud", |b| {
        b.aud = AudMode::ExtraUntrusted
    })
    .await;
    assert_login_rejected(&stack, "wrong azp", |b| b.azp = Some("someone-else".into())).await;
    assert_login_fails_with(&stack, "missing sub", 502, |b| b.omit_sub = true).await;
    assert_login_fails_with(&stack, "missing iat", 502, |b| b.omit_iat = true).await;
}

#[tokio::test]
async fn i4_expired_or_future_tokens_are_rejected() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    assert_login_rejected(&stack, "expired", |b| b.expired = true).await;
    assert_login_rejected(&stack, "iat in the future", |b| b.iat_in_future = true).await;
}

#[tokio::test]
async fn a_correct_provider_still_logs_in_after_the_attacks() {
    let stack = Stack::start(Store::Memory).await.unwrap();
    assert_login_rejected(&stack, "alg none", |b| b.signing = SigningMode::AlgNone).await;
    stack.idp.set(|b| *b = Behaviour::default());
    let browser = stack.logged_in_browser().await;
    assert!(browser.cookie(COOKIE).is_some());
}
