//! A resource server that accepts only DPoP-bound access tokens (RFC 9449
//! §7): `Authorization: DPoP <token>`, a valid proof for this very request
//! whose key is the one the token is bound to (`cnf.jkt`, §6.1), the
//! token's signature by the fake IdP, and, when [`DpopUpstream::require_nonce`]
//! is on, its current nonce (§9: 401 with `use_dpop_nonce` otherwise).
//! It answers 200 `{"dpop":"bound","sub":…,"method":…}` or 401 with the
//! refusal, and records each outcome.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::dpop::{self, Expect, Refusal};
use super::http::{self as test_http, TestServer, json_response, response};
use super::jwt;

/// What the resource server decided about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Served: the token was bound to the proof's key.
    Bound,
    /// No `Authorization: DPoP` (a bearer, or nothing).
    NotDpop,
    /// The token is not the IdP's, or not bound.
    BadToken,
    /// The proof was refused.
    Proof(Refusal),
    /// The proof's key is not the token's (`cnf.jkt`).
    OtherKey,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<HashSet<String>>,
    nonce: Mutex<Option<String>>,
    outcomes: Mutex<Vec<(String, Outcome)>>,
}

/// A running DPoP resource server; stops when dropped.
pub struct DpopUpstream {
    server: TestServer,
    shared: Arc<Shared>,
}

impl DpopUpstream {
    /// Starts the resource server.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let handler = Arc::clone(&shared);
        let base = Arc::new(Mutex::new(String::new()));
        let base_for_handler = Arc::clone(&base);
        let server = test_http::serve(move |req| {
            let (shared, base) = (Arc::clone(&handler), Arc::clone(&base_for_handler));
            async move {
                let base = lock(&base).clone();
                handle(&shared, &base, &req)
            }
        })
        .await;
        *lock(&base) = server.base_url();
        Self { server, shared }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.server.base_url()
    }

    /// Demands `nonce` in every proof from now on.
    pub fn require_nonce(&self, nonce: &str) {
        *lock(&self.shared.nonce) = Some(nonce.to_owned());
    }

    /// Every (path, outcome) so far.
    pub fn outcomes(&self) -> Vec<(String, Outcome)> {
        lock(&self.shared.outcomes).clone()
    }

    /// Verifies a request as this server would, without sending it: the
    /// verdict on an `Authorization` value and proof for `GET <path>`.
    pub fn judge(&self, path: &str, authorization: Option<&str>, proof: Option<&str>) -> Outcome {
        let mut headers = vec![];
        headers.extend(authorization.map(|a| ("authorization", a)));
        headers.extend(proof.map(|p| ("dpop", p)));
        let mut req = Request::get(path);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req.body(Bytes::new()).expect("request");
        verdict(&self.shared, &self.url(), &req).0
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn handle(shared: &Shared, base: &str, req: &Request<Bytes>) -> http::Response<Full<Bytes>> {
    let (outcome, sub) = verdict(shared, base, req);
    let path = req.uri().path().to_owned();
    lock(&shared.outcomes).push((path, outcome.clone()));
    let nonce = lock(&shared.nonce).clone();
    match (outcome, nonce) {
        (Outcome::Bound, _) => json_response(
            200,
            &json!({ "dpop": "bound", "sub": sub, "method": req.method().as_str() }),
        ),
        (Outcome::Proof(Refusal::BadNonce), Some(nonce)) => response(
            401,
            &[
                (
                    "www-authenticate",
                    "DPoP error=\"use_dpop_nonce\", algs=\"ES256\"",
                ),
                ("dpop-nonce", &nonce),
            ],
            "{\"error\":\"use_dpop_nonce\"}",
        ),
        (other, _) => response(
            401,
            &[(
                "www-authenticate",
                "DPoP error=\"invalid_token\", algs=\"ES256\"",
            )],
            format!("{{\"error\":\"{other:?}\"}}"),
        ),
    }
}

fn verdict(shared: &Shared, base: &str, req: &Request<Bytes>) -> (Outcome, Value) {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let Some(token) = header("authorization").and_then(|a| a.strip_prefix("DPoP ")) else {
        return (Outcome::NotDpop, Value::Null);
    };
    let Some(claims) = token_claims(token) else {
        return (Outcome::BadToken, Value::Null);
    };
    let Some(bound) = claims["cnf"]["jkt"].as_str() else {
        return (Outcome::BadToken, Value::Null);
    };
    let uri = format!("{base}{}", req.uri().path());
    let nonce = lock(&shared.nonce).clone();
    let expect = Expect {
        method: req.method().as_str(),
        uri: &uri,
        access_token: Some(token),
        nonce: nonce.as_deref(),
    };
    match dpop::verify(header("dpop"), &expect, &mut lock(&shared.seen)) {
        Ok(jkt) if jkt == bound => (Outcome::Bound, claims["sub"].clone()),
        Ok(_) => (Outcome::OtherKey, Value::Null),
        Err(refusal) => (Outcome::Proof(refusal), Value::Null),
    }
}

/// The claims of an access token the fake IdP signed (RS256, primary key).
fn token_claims(token: &str) -> Option<Value> {
    let key = DecodingKey::from_rsa_pem(jwt::primary().public_pem().as_bytes()).ok()?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .ok()
        .map(|d| d.claims)
}
