//! The FAPI 2.0 client profile against the fake IdP with PAR,
//! `private_key_jwt` and DPoP (nonces on), and a resource server that only
//! accepts DPoP-bound tokens: login through a pushed request, tokens bound
//! to the session's key, refresh on another pod, logout revocation with a
//! client assertion (cases P1–P5 in `refusals.rs` and `profile.rs`).

use std::path::PathBuf;

use bff::Running;
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
use serde_json::{Value, json};

use crate::support::dpop_upstream::{DpopUpstream, Outcome};
use crate::support::fake_idp::{ClientAuth, FakeIdp, Fapi};
use crate::support::harness::{self, API, Browser, CLIENT_ID, CLIENT_SECRET, Stack, Store};
use crate::support::http as test_http;
use crate::support::jwt;
use crate::support::redis_server::RedisServer;
use crate::support::upstream::Upstream;

mod profile;
mod refusals;

/// A P-256 client key as PKCS#8 PEM, written to a temp file.
pub(crate) fn ec_key_file() -> (PathBuf, String) {
    let key = p256::SecretKey::try_generate_from_rng(&mut rand::rngs::SysRng).unwrap();
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    (write_temp("ec.pem", &pem), pem)
}

/// The suite's second RSA key (PKCS#1 PEM) as a client key file.
pub(crate) fn rsa_key_file() -> PathBuf {
    write_temp("rsa.pem", jwt::other().pem())
}

pub(crate) fn write_temp(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("bff-fapi-{}-{name}", rand::random::<u64>()));
    std::fs::write(&path, text).unwrap();
    path
}

/// A FAPI 2.0 stack: the fake IdP with `fapi`, the DPoP resource server
/// as bff's upstream, and bff started with `BFF_SECURITY_PROFILE=fapi2`,
/// an EC client key, and `extra`. The client JWKS is registered with the
/// IdP from bff's admin `/client-jwks.json`, as an operator would.
pub(crate) struct Fapi2 {
    pub(crate) stack: Stack,
    pub(crate) api: DpopUpstream,
    pub(crate) key_pem: String,
    pub(crate) argv: Vec<String>,
    kid: String,
}

impl Fapi2 {
    pub(crate) async fn start(store: Store, extra: &[&str]) -> Option<Self> {
        let redis = match store {
            Store::Memory => None,
            Store::Redis => Some(RedisServer::start()?),
        };
        let idp = FakeIdp::start(CLIENT_ID, CLIENT_SECRET).await;
        // Registered for real below; discovery only needs the method offered.
        idp.set(|b| b.fapi = Some(Fapi::full(json!({ "keys": [] }))));
        let api = DpopUpstream::start().await;
        let (key, key_pem) = ec_key_file();
        let key = key.to_string_lossy().into_owned();
        let mut flags = vec!["--security-profile", "fapi2", "--client-key-file", &key];
        flags.extend_from_slice(extra);
        let url = redis.as_ref().map(RedisServer::url);
        let argv = harness::argv(idp.issuer(), &api.url(), url.as_deref(), &flags);
        let bff = harness::start_bff(&harness::args(
            idp.issuer(),
            &api.url(),
            url.as_deref(),
            &flags,
        ))
        .await;
        let jwks =
            test_http::get(&format!("http://{}/client-jwks.json", bff.admin_addr), &[]).await;
        assert_eq!(jwks.status, 200);
        let jwks = jwks.json();
        let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
        idp.set(|b| b.fapi = Some(Fapi::full(jwks)));
        let upstream = Upstream::start().await;
        let stack = Stack {
            idp,
            upstream,
            redis,
            bff,
        };
        Some(Self {
            stack,
            api,
            key_pem,
            argv,
            kid,
        })
    }

    /// The `kid` bff signs client assertions with.
    pub(crate) fn signing_kid(&self) -> String {
        self.kid.clone()
    }

    /// Another pod with the same configuration (a second replica).
    pub(crate) async fn another_pod(&self) -> Running {
        use clap::Parser as _;
        harness::start_bff(&bff::config::Args::try_parse_from(&self.argv).unwrap()).await
    }
}

/// The `/token` forms bff sent, by grant.
fn token_forms(idp: &FakeIdp, grant: &str) -> Vec<Value> {
    idp.token_request_log()
        .into_iter()
        .filter(|r| r.grant_type == grant)
        .map(|r| json!(r.form))
        .collect()
}

#[tokio::test]
async fn fapi2_login_is_pushed_authenticated_by_assertion_and_tokens_are_dpop_bound() {
    let Some(fapi) = Fapi2::start(Store::Memory, &[]).await else {
        return;
    };
    let stack = &fapi.stack;
    let mut browser = Browser::default();
    let started = stack.start_login(&mut browser, "/app").await;
    let location = url::Url::parse(started.location().unwrap()).unwrap();
    // RFC 9126 §4: the browser carries only client_id and request_uri.
    let names: Vec<String> = location
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(names, ["client_id", "request_uri"]);
    let pushed = stack.idp.par_requests();
    assert_eq!(pushed.len(), 1);
    let par = &pushed[0];
    assert_eq!(par["code_challenge_method"], "S256");
    assert!(par.contains_key("state") && par.contains_key("nonce"));
    assert!(!par.contains_key("client_secret"));
    let assertion = &par["client_assertion"];
    assert_eq!(jwt::claims_of(assertion)["aud"], stack.idp.issuer());

    let callback = stack.idp_step(&started).await;
    let res = browser.get(stack, &callback, &[]).await;
    assert_eq!(res.status, 302, "callback: {}", res.text());
    // The first token request met the provider's nonce demand and was
    // retried once with the nonce (RFC 9449 §8).
    let codes = token_forms(&stack.idp, "authorization_code");
    assert_eq!(codes.len(), 2, "one use_dpop_nonce refusal, one retry");
    assert_eq!(stack.idp.refusals(), ["dpop: BadNonce"]);
    let (_, data) = stack.session_of(&browser).await;
    let token_claims = jwt::claims_of(&data.access_token);
    assert!(
        token_claims["cnf"]["jkt"].is_string(),
        "token bound to a key"
    );
    assert!(data.dpop.is_some());

    let res = browser.get(stack, "/v1/items", &API).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["dpop"], "bound");
    assert_eq!(
        fapi.api.outcomes(),
        [("/v1/items".to_owned(), Outcome::Bound)]
    );
}

#[tokio::test]
async fn dpop_refresh_runs_on_another_pod_and_logout_revokes_with_an_assertion() {
    let extra = ["--refresh-skew", "60s"];
    let Some(fapi) = Fapi2::start(Store::Redis, &extra).await else {
        return;
    };
    let stack = &fapi.stack;
    stack.idp.set(|b| b.expires_in = 1);
    let mut browser = stack.logged_in_browser().await;
    let (_, first) = stack.session_of(&browser).await;
    let pod_b = fapi.another_pod().await;
    // The token lives 1 s: its first use after that refreshes.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Pod B refreshes the session pod A created, with the session's key.
    let res = browser.get_at(&pod_b, "/v1/refreshed", &API).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let refreshes = token_forms(&stack.idp, "refresh_token");
    assert!(!refreshes.is_empty(), "pod B refreshed");
    let (_, after) = stack.session_of(&browser).await;
    assert_ne!(after.access_token, first.access_token);
    assert_eq!(
        jwt::claims_of(&after.access_token)["cnf"],
        jwt::claims_of(&first.access_token)["cnf"],
        "the refreshed token is bound to the same session key"
    );
    assert!(
        fapi.api
            .outcomes()
            .iter()
            .all(|(_, o)| *o == Outcome::Bound)
    );
    // FAPI 2.0 §5.3.2.1: the assertion's audience is the issuer.
    let assertion = refreshes[0]["client_assertion"].as_str().unwrap();
    assert_eq!(jwt::claims_of(assertion)["aud"], stack.idp.issuer());

    let refresh_token = after.refresh_token.clone().unwrap();
    assert_eq!(browser.logout(stack).await.status, 302);
    let revocation = revocation_of(&stack.idp).await;
    assert!(revocation.contains_key("client_assertion"));
    assert!(!revocation.contains_key("client_secret"));
    assert!(!stack.idp.refresh_token_active(&refresh_token));
    drop(pod_b);
}

#[tokio::test]
async fn a_dpop_route_sends_dpop_while_other_routes_keep_bearer_with_a_client_secret() {
    let Some((api, stack)) = dpop_stack().await else {
        return;
    };
    // DPoP and PAR at the provider, the client still on its secret.
    stack.idp.set(|b| {
        b.fapi = Some(Fapi {
            par: true,
            dpop: true,
            dpop_nonce: true,
            ..Fapi::default()
        });
    });
    let pod = harness::start_bff(&harness::args(
        stack.idp.issuer(),
        &stack.upstream.url(),
        None,
        &["--config", &config_file(&dpop_route(&api))],
    ))
    .await;
    let mut browser = Browser::default();
    let started = browser
        .get_at(&pod, "/auth/login?return_to=/app", &[])
        .await;
    let location = stack
        .idp
        .authorize_redirect(started.location().unwrap())
        .await;
    let callback = harness::path_and_query(&location);
    assert_eq!(browser.get_at(&pod, &callback, &[]).await.status, 302);
    // PAR and the token endpoint authenticated with the secret (Basic).
    assert_eq!(stack.idp.par_requests().len(), 1);
    let log = stack.idp.token_request_log();
    assert!(log.iter().all(|r| r.client_auth == ClientAuth::Basic));

    let res = browser.get_at(&pod, "/dpop/x", &API).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["dpop"], "bound");
    // A client's own DPoP header never reaches an upstream (RFC 9449 §7.1:
    // only bff's proof goes with bff's token).
    let forged = [API[0], API[1], ("dpop", "eyJhbGciOiJub25lIn0.e30.")];
    let res = browser.get_at(&pod, "/plain", &forged).await;
    assert_eq!(res.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    assert!(seen.header("authorization").unwrap().starts_with("Bearer "));
    assert_eq!(seen.header("dpop"), None);
    let res = browser.get_at(&pod, "/dpop/y", &forged).await;
    assert_eq!(
        res.json()["dpop"],
        "bound",
        "bff's proof replaced the client's"
    );
}

#[tokio::test]
async fn a_provider_that_ignores_dpop_fails_the_login_instead_of_binding_nothing() {
    // The fake IdP without DPoP answers a proof with `token_type: Bearer`.
    let Some((api, stack)) = dpop_stack().await else {
        return;
    };
    let mut browser = Browser::default();
    let res = stack.login(&mut browser).await;
    assert!(
        res.status.is_server_error(),
        "{}: {}",
        res.status,
        res.text()
    );
    assert!(
        browser.cookie(harness::COOKIE).is_none(),
        "no session without a bound token"
    );
    let proofs = stack.idp.token_request_log();
    assert_eq!(proofs.len(), 1, "the code was exchanged once, with a proof");
    assert!(api.outcomes().is_empty());
}

/// The revocation form bff posts after a logout (in the background).
async fn revocation_of(idp: &FakeIdp) -> crate::support::fake_idp::Params {
    for _ in 0..200 {
        if !idp.revocations().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    idp.revocations().pop().expect("a revocation within 2 s")
}

/// A config file body with a `/dpop/` route to `api`, `dpop = true`.
/// A DPoP-checking resource server and a standard-profile stack (memory
/// store) with its `/dpop/` route; `None` when the stack cannot start.
async fn dpop_stack() -> Option<(DpopUpstream, Stack)> {
    let api = DpopUpstream::start().await;
    let stack = Stack::start_with_config(Store::Memory, &dpop_route(&api), &[]).await?;
    Some((api, stack))
}

pub(crate) fn dpop_route(api: &DpopUpstream) -> String {
    format!(
        "[[routes]]\nprefix = \"/dpop/\"\nupstream = \"{}\"\ndpop = true\n",
        api.url()
    )
}

fn config_file(toml: &str) -> String {
    write_temp("bff.toml", toml).to_string_lossy().into_owned()
}
