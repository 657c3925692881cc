//! Cases P1–P4: what a stolen token, a forged or replayed proof, a bad
//! client assertion and a replayed pushed request get, and that bff's own
//! proofs and assertions are always fresh and correct.

use std::collections::HashSet;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::EncodePrivateKey as _;
use serde_json::{Value, json};

use super::{Fapi2, token_forms};
use crate::support::dpop::Refusal;
use crate::support::dpop_upstream::{DpopUpstream, Outcome};
use crate::support::fake_idp::now;
use crate::support::harness::{API, Browser, CLIENT_ID, Stack, Store};
use crate::support::http as test_http;
use crate::support::jwt;

/// An attacker's (or any) DPoP key and the proofs it signs.
struct ProofKey {
    key: EncodingKey,
    jwk: Jwk,
}

impl ProofKey {
    fn generate() -> Self {
        let secret = p256::SecretKey::try_generate_from_rng(&mut rand::rngs::SysRng).unwrap();
        let key = EncodingKey::from_ec_der(secret.to_pkcs8_der().unwrap().as_bytes());
        let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        Self { key, jwk }
    }

    fn proof(&self, htm: &str, htu: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        let mut claims = json!({ "jti": jwt::b64(&rand::random::<[u8; 16]>()), "htm": htm, "htu": htu, "iat": now() });
        if let Some(token) = token {
            use sha2::Digest as _;
            claims["ath"] = json!(jwt::b64(&sha2::Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

#[tokio::test]
async fn p1_a_bound_token_is_refused_without_bffs_proof_and_bff_never_sends_one_bare() {
    let Some(fapi) = Fapi2::start(Store::Memory, &[]).await else {
        return;
    };
    let mut browser = fapi.stack.logged_in_browser().await;
    for path in ["/a", "/b", "/c"] {
        assert_eq!(browser.get(&fapi.stack, path, &API).await.status, 200);
    }
    assert!(
        fapi.api
            .outcomes()
            .iter()
            .all(|(_, o)| *o == Outcome::Bound)
    );

    // The token leaks (an upstream's log): alone it is worth nothing.
    let (_, data) = fapi.stack.session_of(&browser).await;
    let token = data.access_token.clone();
    let url = format!("{}/a", fapi.api.url());
    let api = &fapi.api;
    assert_eq!(
        api.judge("/a", Some(&format!("Bearer {token}")), None),
        Outcome::NotDpop
    );
    assert_eq!(
        api.judge("/a", Some(&format!("DPoP {token}")), None),
        Outcome::Proof(Refusal::Missing)
    );
    let thief = ProofKey::generate();
    let forged = thief.proof("GET", &url, Some(&token), None);
    assert_eq!(
        api.judge("/a", Some(&format!("DPoP {token}")), Some(&forged)),
        Outcome::OtherKey
    );
}

/// A FAPI 2.0 stack whose access tokens live 1 s, a logged-in browser,
/// and its access token.
async fn short_lived() -> Option<(Fapi2, Browser, String)> {
    let fapi = Fapi2::start(Store::Memory, &[]).await?;
    fapi.stack.idp.set(|b| b.expires_in = 1);
    let browser = fapi.stack.logged_in_browser().await;
    let token = fapi.stack.session_of(&browser).await.1.access_token.clone();
    Some((fapi, browser, token))
}

/// The resource server's verdicts since the `from`-th request.
fn outcomes_since(fapi: &Fapi2, from: usize) -> Vec<Outcome> {
    fapi.api.outcomes()[from..]
        .iter()
        .map(|(_, o)| o.clone())
        .collect()
}

#[tokio::test]
async fn p1_a_session_without_a_dpop_key_gets_401_on_a_dpop_route_and_its_token_stays_home() {
    // Logged in on a pod without DPoP: the session's token is unbound.
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let api = DpopUpstream::start().await;
    let toml = super::dpop_route(&api);
    let config = super::write_temp("dpop.toml", &toml);
    let pod = stack
        .another_bff(&["--config", &config.to_string_lossy()])
        .await;
    let res = browser.get_at(&pod, "/dpop/x", &API).await;
    assert_eq!(res.status, 401, "{}", res.text());
    assert!(
        api.outcomes().is_empty(),
        "no token went upstream without its proof"
    );
    // The SPA is sent to log in again, which gives the session a key.
    assert_eq!(res.json()["login_url"], "/auth/login");
}

#[tokio::test]
async fn p2_proofs_for_another_target_or_token_are_refused() {
    let Some((fapi, _browser, token)) = short_lived().await else {
        return;
    };
    let api = &fapi.api;
    let auth = format!("DPoP {token}");
    let (key, url) = (ProofKey::generate(), format!("{}/r", api.url()));
    let wrong_htu = key.proof("GET", &format!("{}/other", api.url()), Some(&token), None);
    let wrong_htm = key.proof("POST", &url, Some(&token), None);
    let wrong_ath = key.proof("GET", &url, Some("another-token"), None);
    let refused = [wrong_htu, wrong_htm, wrong_ath].map(|p| api.judge("/r", Some(&auth), Some(&p)));
    let [htu, htm, ath] = refused;
    assert_eq!(
        (htu, htm),
        (
            Outcome::Proof(Refusal::WrongTarget),
            Outcome::Proof(Refusal::WrongTarget)
        )
    );
    assert_eq!(ath, Outcome::Proof(Refusal::WrongAth));
    // A proof replayed as is (same jti) is refused too.
    let proof = ProofKey::generate().proof("GET", &url, Some(&token), None);
    let first = api.judge("/r", Some(&auth), Some(&proof));
    assert_eq!(
        first,
        Outcome::OtherKey,
        "a valid proof by a key the token is not bound to"
    );
    assert_eq!(
        api.judge("/r", Some(&auth), Some(&proof)),
        Outcome::Proof(Refusal::Replayed)
    );
}

#[tokio::test]
async fn p2_a_resource_server_nonce_challenge_gets_one_retry_for_idempotent_requests_only() {
    let Some((fapi, mut browser, _token)) = short_lived().await else {
        return;
    };
    let (stack, api) = (&fapi.stack, &fapi.api);
    api.require_nonce("rs-nonce-1");
    let before = api.outcomes().len();
    assert_eq!(browser.get(stack, "/r", &API).await.status, 200);
    assert_eq!(
        outcomes_since(&fapi, before),
        [Outcome::Proof(Refusal::BadNonce), Outcome::Bound]
    );
    // A POST with a body is not replayed: the 401 goes back, and the
    // next request carries the nonce it taught.
    api.require_nonce("rs-nonce-2");
    let before = api.outcomes().len();
    let json_post = [
        API[0],
        API[1],
        ("x-csrf", "1"),
        ("content-type", "application/json"),
    ];
    let post = browser
        .send(stack, http::Method::POST, "/r", &json_post, "{}")
        .await;
    assert_eq!(post.status, 401);
    assert_eq!(browser.get(stack, "/r", &API).await.status, 200);
    assert_eq!(
        outcomes_since(&fapi, before),
        [Outcome::Proof(Refusal::BadNonce), Outcome::Bound]
    );
}

#[tokio::test]
async fn p2_a_stale_provider_nonce_is_refused_and_the_refresh_retries_once_with_the_new_one() {
    let Some((fapi, mut browser, _token)) = short_lived().await else {
        return;
    };
    let stack = &fapi.stack;
    let old = stack.idp.dpop_nonce();
    stack.idp.rotate_dpop_nonce();
    let replayed = ProofKey::generate().proof("POST", &stack.idp.url("/token"), None, Some(&old));
    let headers = [
        ("dpop", replayed.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let res = test_http::post(
        &stack.idp.url("/token"),
        &headers,
        "grant_type=refresh_token",
    )
    .await;
    assert_eq!(
        (res.status.as_u16(), res.json()["error"].clone()),
        (400, json!("use_dpop_nonce"))
    );
    let before = token_forms(&stack.idp, "refresh_token").len();
    // The session's token lives 1 s: its next use refreshes.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(browser.get(stack, "/r", &API).await.status, 200);
    assert_eq!(token_forms(&stack.idp, "refresh_token").len() - before, 2);
    // Of all of bff's proofs, only nonce demands were ever refused.
    let refusals = stack.idp.refusals();
    assert!(
        refusals.iter().all(|r| r == "dpop: BadNonce"),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn p3_every_client_assertion_is_fresh_short_lived_and_names_its_key() {
    let Some(fapi) = Fapi2::start(Store::Memory, &[]).await else {
        return;
    };
    let stack = &fapi.stack;
    let _browser = stack.logged_in_browser().await;
    let mut forms: Vec<Value> = stack
        .idp
        .token_request_log()
        .into_iter()
        .map(|r| json!(r.form))
        .collect();
    forms.extend(stack.idp.par_requests().into_iter().map(|f| json!(f)));
    assert!(
        forms.len() >= 3,
        "PAR, the nonce-refused exchange and its retry"
    );
    let mut jtis = HashSet::new();
    for form in &forms {
        let assertion = form["client_assertion"]
            .as_str()
            .expect("every call carries an assertion");
        let claims = jwt::claims_of(assertion);
        assert!(
            jtis.insert(claims["jti"].as_str().unwrap().to_owned()),
            "a jti was reused"
        );
        assert_eq!(
            (&claims["iss"], &claims["sub"]),
            (&json!(CLIENT_ID), &json!(CLIENT_ID))
        );
        assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 60);
        assert_eq!(jwt::header_of(assertion)["kid"], fapi.signing_kid());
    }
}

#[tokio::test]
async fn p3_expired_wrong_audience_and_replayed_assertions_are_refused() {
    let Some(fapi) = Fapi2::start(Store::Memory, &[]).await else {
        return;
    };
    let stack = &fapi.stack;
    let _browser = stack.logged_in_browser().await;
    let key = EncodingKey::from_ec_pem(fapi.key_pem.as_bytes()).unwrap();
    let sign = |aud: &str, exp: i64| {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(fapi.signing_kid());
        let jti = jwt::b64(&rand::random::<[u8; 16]>());
        let claims = json!({ "iss": CLIENT_ID, "sub": CLIENT_ID, "aud": aud, "exp": exp, "iat": now() - 5, "jti": jti });
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let expired = sign(stack.idp.issuer(), now() - 10);
    let wrong_aud = sign("https://evil.example", now() + 60);
    // An assertion the provider accepted (the pushed request's).
    let replayed = stack.idp.par_requests()[0]["client_assertion"].clone();
    let cases = [
        (expired, "assertion: expired"),
        (wrong_aud, "assertion: wrong aud"),
        (replayed, "assertion: jti replayed"),
    ];
    for (assertion, reason) in cases {
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", CLIENT_ID)
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &assertion)
            .finish();
        let form_type = [("content-type", "application/x-www-form-urlencoded")];
        let res = test_http::post(&stack.idp.url("/par"), &form_type, form).await;
        assert_eq!(res.status, 401, "{reason}");
        assert_eq!(
            stack.idp.refusals().last().map(String::as_str),
            Some(reason)
        );
    }
}

#[tokio::test]
async fn p4_a_replayed_or_unpushed_authorization_request_is_refused_and_the_login_restarts_cleanly()
{
    let Some(fapi) = Fapi2::start(Store::Memory, &[]).await else {
        return;
    };
    let stack = &fapi.stack;
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/app").await;
    let authorize = started.location().unwrap().to_owned();
    let callback = stack.idp_step(&started).await;
    // The request_uri is one-time (RFC 9126 §4).
    let replay = test_http::get(&authorize, &[]).await;
    assert_eq!(replay.status, 400);
    // Without PAR, a provider that requires it refuses the request.
    let mut unpushed = url::Url::parse(&stack.idp.url("/authorize")).unwrap();
    unpushed.query_pairs_mut().extend_pairs(
        stack.idp.par_requests()[0]
            .iter()
            .filter(|(k, _)| !k.starts_with("client_assertion")),
    );
    assert_eq!(test_http::get(unpushed.as_str(), &[]).await.status, 400);
    let refusals = stack.idp.refusals();
    assert!(refusals.contains(&"par: request_uri unknown, used or expired".to_owned()));
    assert!(refusals.contains(&"par: request not pushed".to_owned()));
    // The first login still completes, and a new one starts cleanly.
    assert_eq!(browser.get(stack, &callback, &[]).await.status, 302);
    let again = stack.login(&mut Browser::default()).await;
    assert_eq!(again.status, 302, "{}", again.text());
}
