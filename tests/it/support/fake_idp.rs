//! An in-process OpenID provider on `127.0.0.1:0` for driving bff's login,
//! refresh and logout flows.
//!
//! Owns discovery, JWKS, `/authorize` (logs the configured [`User`] in at once
//! and redirects back with a one-time code), `/token` (code + PKCE and
//! rotating refresh tokens with reuse detection, see `fake_idp/token.rs`) and
//! `/logout` (end session). Every misbehaviour the security tests need is a
//! field of [`Behaviour`]; every request the tests assert on is recorded.
//! State lives behind `std::sync::Mutex`es that are never held across an await.

mod behaviour;
mod discovery;
mod fapi;
mod revoke;
mod token;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;

pub use self::behaviour::{AudMode, Behaviour, IssParam, NonceMode, SigningMode, User};
pub use self::fapi::Fapi;
use super::http::{self as test_http, TestServer, json_response, response};
use super::jwt;

/// Decoded query or form parameters (last value wins on duplicates).
pub type Params = BTreeMap<String, String>;

/// How a `/token` request authenticated the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (RFC 6749 §2.3.1).
    Basic,
    /// `client_id` + `client_secret` form parameters.
    Post,
    /// Neither.
    None,
}

/// One recorded `/token` request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The `grant_type` form parameter ("" if absent).
    pub grant_type: String,
    /// All form parameters.
    pub form: Params,
    /// How the client authenticated.
    pub client_auth: ClientAuth,
}

/// A running fake IdP; stops when dropped.
pub struct FakeIdp {
    server: TestServer,
    shared: Arc<Shared>,
}

/// State shared with the request handlers.
struct Shared {
    issuer: String,
    client_id: String,
    client_secret: String,
    behaviour: Mutex<Behaviour>,
    state: Mutex<State>,
}

/// Issued codes and tokens, plus the request log.
#[derive(Default)]
struct State {
    codes: HashMap<String, PendingCode>,
    refresh_tokens: HashMap<String, RefreshToken>,
    grants: Vec<Grant>,
    authorize_queries: Vec<Params>,
    end_session_queries: Vec<Params>,
    revocations: Vec<Params>,
    jwks_fetches: usize,
    token_requests: Vec<TokenRequest>,
    /// Pushed requests by `request_uri`, with their expiry (RFC 9126).
    pushed: HashMap<String, (Params, i64)>,
    /// Every form posted to `/par`.
    par_requests: Vec<Params>,
    /// `jti`s of accepted client assertions (replay detection).
    assertion_jtis: HashSet<String>,
    /// `jti`s of accepted DPoP proofs at `/token`.
    dpop_jtis: HashSet<String>,
    /// The DPoP nonce `/token` currently demands.
    dpop_nonce: String,
    /// Why FAPI checks refused a request, in order.
    refusals: Vec<String>,
}

/// An authorization code waiting for its one redemption.
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    grant: usize,
}

/// A refresh token; `active` is false once rotated or revoked.
struct RefreshToken {
    grant: usize,
    active: bool,
}

/// One login (an offline "session" at the IdP); the index in `State::grants` is its id.
struct Grant {
    user: User,
    auth_time: i64,
    revoked: bool,
}

// === impl FakeIdp ===

impl FakeIdp {
    /// Starts a provider that accepts exactly this confidential client.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let listener = test_http::bind().await;
        let addr = listener.local_addr().expect("fake IdP addr");
        let shared = Arc::new(Shared {
            issuer: format!("http://{addr}"),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            behaviour: Mutex::new(Behaviour::default()),
            state: Mutex::new(State {
                dpop_nonce: "as-nonce-1".into(),
                ..State::default()
            }),
        });
        let handler_state = Arc::clone(&shared);
        let server =
            test_http::serve_on(listener, move |req| route(Arc::clone(&handler_state), req));
        Self { server, shared }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `issuer + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.issuer)
    }

    /// The client id this IdP accepts.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The client secret this IdP accepts.
    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// Changes the behaviour, e.g. `idp.set(|b| b.nonce = NonceMode::Wrong)`.
    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.shared.behaviour());
    }

    /// A copy of the current behaviour.
    pub fn behaviour(&self) -> Behaviour {
        self.shared.behaviour().clone()
    }

    /// Number of `/token` requests so far.
    pub fn token_requests(&self) -> usize {
        self.shared.state().token_requests.len()
    }

    /// Number of `/token` requests with this `grant_type`.
    pub fn token_requests_for(&self, grant_type: &str) -> usize {
        let state = self.shared.state();
        state
            .token_requests
            .iter()
            .filter(|r| r.grant_type == grant_type)
            .count()
    }

    /// Every `/token` request so far.
    pub fn token_request_log(&self) -> Vec<TokenRequest> {
        self.shared.state().token_requests.clone()
    }

    /// The form of the last `/token` request.
    pub fn last_token_form(&self) -> Option<Params> {
        self.shared
            .state()
            .token_requests
            .last()
            .map(|r| r.form.clone())
    }

    /// Every `/authorize` query so far (valid or not).
    pub fn authorize_queries(&self) -> Vec<Params> {
        self.shared.state().authorize_queries.clone()
    }

    /// Every `/logout` query so far.
    pub fn end_session_queries(&self) -> Vec<Params> {
        self.shared.state().end_session_queries.clone()
    }

    /// Whether `refresh_token` would currently be accepted.
    pub fn refresh_token_active(&self, refresh_token: &str) -> bool {
        let state = self.shared.state();
        state
            .refresh_tokens
            .get(refresh_token)
            .is_some_and(|t| t.active && !state.grants[t.grant].revoked)
    }

    /// Number of JWKS downloads so far (bff re-fetches on an unknown `kid`).
    pub fn jwks_fetches(&self) -> usize {
        self.shared.state().jwks_fetches
    }

    /// The forms posted to the revocation endpoint, in order.
    pub fn revocations(&self) -> Vec<Params> {
        self.shared.state().revocations.clone()
    }

    /// Revokes every grant and refresh token (an admin or IdP-side logout).
    pub fn revoke_all_grants(&self) {
        let mut state = self.shared.state();
        state.grants.iter_mut().for_each(|g| g.revoked = true);
        state
            .refresh_tokens
            .values_mut()
            .for_each(|t| t.active = false);
    }

    /// GETs `authorize_url` (bff's login redirect) and returns the IdP's
    /// `Location` (the callback URL with `code`, `state` and `iss`).
    pub async fn authorize_redirect(&self, authorize_url: &str) -> String {
        let res = test_http::get(authorize_url, &[]).await;
        assert_eq!(res.status, 302, "IdP /authorize refused: {}", res.text());
        res.location().expect("IdP /authorize Location").to_owned()
    }
}

// === impl Shared ===

impl Shared {
    fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        self.behaviour
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

// === endpoints ===

async fn route(shared: Arc<Shared>, req: Request<Bytes>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/.well-known/openid-configuration") => discovery::document(&shared),
        (&Method::GET, "/jwks") => discovery::jwks(&shared),
        (&Method::GET, "/authorize") => authorize(&shared, &query(&req)),
        (&Method::POST, "/token") => token::handle(&shared, &req).await,
        (&Method::POST, "/par") => fapi::push(&shared, &req),
        (&Method::POST, "/revoke") => revoke::handle(&shared, &req).await,
        (&Method::GET, "/logout") => end_session(&shared, query(&req)),
        _ => response(404, &[], "not found"),
    }
}

fn authorize(shared: &Shared, q: &Params) -> Response<Full<Bytes>> {
    shared.state().authorize_queries.push(q.clone());
    let pushed = match fapi::take_pushed(shared, q) {
        Ok(pushed) => pushed,
        Err(reason) => return response(400, &[], reason),
    };
    let q = pushed.as_ref().unwrap_or(q);
    if let Err(reason) = check_authorize(shared, q) {
        return response(400, &[], reason);
    }
    let b = shared.behaviour().clone();
    let code = random_token();
    let mut state = shared.state();
    let grant = state.grants.len();
    state.grants.push(Grant {
        user: b.user.clone(),
        auth_time: now(),
        revoked: false,
    });
    let pending = PendingCode {
        client_id: q["client_id"].clone(),
        redirect_uri: q["redirect_uri"].clone(),
        code_challenge: q["code_challenge"].clone(),
        nonce: q.get("nonce").cloned(),
        grant,
    };
    state.codes.insert(code.clone(), pending);
    drop(state);
    let mut params = vec![("code", code)];
    params.extend(q.get("state").map(|s| ("state", s.clone())));
    match (b.iss_param_supported, b.iss_param) {
        (true, IssParam::Correct) => params.push(("iss", shared.issuer.clone())),
        (true, IssParam::Wrong) => params.push(("iss", "https://evil.example".to_owned())),
        _ => {}
    }
    redirect(&with_query(&q["redirect_uri"], &params))
}

/// Checks the authorization request (`Err` carries the 400 body).
fn check_authorize(shared: &Shared, q: &Params) -> Result<(), &'static str> {
    let has = |k: &str| q.get(k).is_some_and(|v| !v.is_empty());
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err("unsupported response_type");
    }
    if q.get("client_id") != Some(&shared.client_id) {
        return Err("unknown client_id");
    }
    if !has("redirect_uri") || url::Url::parse(&q["redirect_uri"]).is_err() {
        return Err("missing or invalid redirect_uri");
    }
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") || !has("code_challenge")
    {
        return Err("PKCE S256 required");
    }
    Ok(())
}

fn end_session(shared: &Shared, q: Params) -> Response<Full<Bytes>> {
    shared.state().end_session_queries.push(q.clone());
    match q.get("post_logout_redirect_uri") {
        Some(target) => {
            let state: Vec<_> = q
                .get("state")
                .map(|s| ("state", s.clone()))
                .into_iter()
                .collect();
            redirect(&with_query(target, &state))
        }
        None => response(200, &[("content-type", "text/plain")], "signed out"),
    }
}

// === helpers ===

fn query(req: &Request<Bytes>) -> Params {
    parse_params(req.uri().query().unwrap_or_default().as_bytes())
}

/// Parses `application/x-www-form-urlencoded` bytes.
fn parse_params(bytes: &[u8]) -> Params {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// Appends `params` to the query of `base` (an absolute URL).
fn with_query(base: &str, params: &[(&str, String)]) -> String {
    let mut url = url::Url::parse(base).expect("absolute redirect target");
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    url.into()
}

fn redirect(location: &str) -> Response<Full<Bytes>> {
    response(
        302,
        &[("location", location), ("cache-control", "no-store")],
        Bytes::new(),
    )
}

/// 32 random bytes, base64url.
fn random_token() -> String {
    jwt::b64(&rand::random::<[u8; 32]>())
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.expect("clock after 1970").as_secs()).expect("time fits i64")
}
