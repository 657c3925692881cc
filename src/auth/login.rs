//! `GET /auth/login?return_to=/path`: starts the authorization code flow
//! with PKCE S256, `state` and `nonce` (RFC 9700 §2.1.1, OIDC Core §3.1.2.1).
//!
//! The pending login (verifier, nonce, return path) is sealed in the store
//! under the hash of `state` for 10 minutes; a `SameSite=Lax` cookie binds
//! it to this browser (login CSRF, security case L2). A browser that
//! already holds a binding cookie keeps it, so several tabs can log in at
//! once (L11).

use std::net::IpAddr;

use http::request::Parts;
use http::{HeaderValue, Response, header};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge, Scope};

use super::{authenticate, return_to};
use crate::error::Error;
use crate::http_util::{Body, param, query_pairs, redirect};
use crate::oidc::par;
use crate::oidc::provider::Provider;
use crate::session::cookie::{Lookup, lookup};
use crate::session::id::ENCODED_LEN;
use crate::session::keys::hash22;
use crate::session::{PendingLogin, SessionId};
use crate::state::AppState;

/// Handles `GET /auth/login`.
pub(crate) async fn start(
    state: &AppState,
    parts: &Parts,
    client: IpAddr,
) -> Result<Response<Body>, Error> {
    let return_to = requested_return_to(parts)?;
    let provider = state
        .provider
        .current()
        .ok_or(Error::ProviderUnavailable("provider not discovered yet"))?;
    let (binding, is_new) = browser_binding(state, parts)?;
    let binding_hash = hash22(binding.as_bytes());
    super::check_login_limits(state, client, (!is_new).then_some(binding_hash.as_str()))?;

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = provider
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in state.config.oidc.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.url();
    let url = pushed_if_configured(state, &provider, url).await?;
    let pending = PendingLogin {
        pkce_verifier: verifier.secret().clone(),
        nonce: nonce.secret().clone(),
        return_to,
        binding_hash,
        previous_session: authenticate::presented(state, &parts.headers)
            .id()
            .map(|id| id.hash()),
    };
    state.vault.put_pending(csrf.secret(), &pending).await?;

    state.metrics.auth.login_started();
    let mut res = redirect(url.as_str());
    if is_new {
        let cookie = HeaderValue::from_str(&state.cookies.login_cookie(&binding))
            .map_err(|_err| Error::Internal("cookie"))?;
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(res)
}

/// RFC 9126 §4: with PAR the browser carries only `client_id` and
/// `request_uri`; the request itself went over the back channel.
async fn pushed_if_configured(
    state: &AppState,
    provider: &Provider,
    url: url::Url,
) -> Result<url::Url, Error> {
    match &provider.par {
        Some(endpoint) => par::push(&state.provider, provider, endpoint, &url).await,
        None => Ok(url),
    }
}

/// The validated `return_to` parameter, or `/`.
fn requested_return_to(parts: &Parts) -> Result<String, Error> {
    let pairs = query_pairs(parts.uri.query(), &["return_to"])
        .ok_or(Error::BadRequest("Duplicate parameters."))?;
    match param(&pairs, "return_to") {
        None => Ok(return_to::DEFAULT.to_owned()),
        Some(raw) => return_to::validate(raw)
            .ok_or(Error::BadRequest("The return address is not a local path.")),
    }
}

/// The browser's binding value: the existing login cookie when it is
/// well-formed, else a fresh 256-bit value.
fn browser_binding(state: &AppState, parts: &Parts) -> Result<(String, bool), Error> {
    if let Lookup::One(value) = lookup(&parts.headers, &state.cookies.login)
        && value.len() == ENCODED_LEN
        && SessionId::parse(&value).is_some()
    {
        return Ok((value, false));
    }
    let fresh = SessionId::generate().map_err(|_err| Error::Internal("no OS randomness"))?;
    Ok((fresh.encode(), true))
}
