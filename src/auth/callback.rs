//! `GET /auth/callback`: completes the login.
//!
//! Order matters (RFC 9700 §2.1, §4.7.1; RFC 9207 §2.4): reject duplicate
//! parameters, find the one-time `state`, check the browser binding in
//! constant time, only then use the `state` up, check `iss`, and only then exchange the code (with the
//! PKCE verifier) and validate the ID token. A new session ID is issued
//! and any session the browser already had is destroyed (ASVS 5 §7.2.4,
//! security case C4).

use std::net::IpAddr;

use http::request::Parts;
use http::{HeaderValue, Response, header};
use openidconnect::{
    AuthorizationCode, Nonce, OAuth2TokenResponse, PkceCodeVerifier, TokenResponse as _,
};
use subtle::ConstantTimeEq as _;

use super::authenticate;
use crate::error::Error;
use crate::http_util::{Body, param, query_pairs, redirect};
use crate::metrics::Endpoint;
use crate::oidc::OidcError;
use crate::oidc::id_token;
use crate::oidc::provider::Provider;
use crate::oidc::token_call::{self, TokenCall};
use crate::oidc::types::{BffIdTokenClaims, BffTokenResponse};
use crate::session::cookie::{Lookup, lookup};
use crate::session::keys::hash22;
use crate::session::{DisplayClaims, DpopMaterial, PendingLogin, SessionData, SessionId, now_unix};
use crate::signing::dpop_key::DpopKey;
use crate::state::AppState;

const UNIQUE: [&str; 5] = ["code", "state", "iss", "error", "error_description"];

/// Handles `GET /auth/callback`.
pub(crate) async fn finish(
    state: &AppState,
    parts: &Parts,
    client: IpAddr,
) -> Result<Response<Body>, Error> {
    let result = complete(state, parts, client).await;
    let failure = result.as_ref().err().map(failure_reason);
    state.metrics.auth.login_finished(failure);
    result
}

/// The `reason` label of a failed callback (`bff_logins_failed_total`).
fn failure_reason(err: &Error) -> &'static str {
    match err {
        Error::TooManyRequests(_) => "throttled",
        Error::BadRequest(_) => "bad_callback",
        Error::Forbidden(_) => "forbidden",
        Error::ProviderUnavailable(_) | Error::ProviderTimeout => "provider_unavailable",
        Error::StoreUnavailable => "store_unavailable",
        _ => "other",
    }
}

/// Checks the callback, exchanges the code and creates the session.
async fn complete(
    state: &AppState,
    parts: &Parts,
    client: IpAddr,
) -> Result<Response<Body>, Error> {
    super::check_login_limits(state, client, None)?;
    let pairs = query_pairs(parts.uri.query(), &UNIQUE)
        .ok_or(Error::BadRequest("Duplicate parameters."))?;
    let csrf = param(&pairs, "state")
        .filter(|s| !s.is_empty())
        .ok_or(Error::BadRequest("The sign-in response has no state."))?;
    let pending = one_time_login(state, parts, csrf).await?;
    if param(&pairs, "error").is_some() {
        // The provider's error text is never reflected (security case L9).
        return Err(Error::BadRequest(
            "Sign-in was cancelled or refused by the identity provider.",
        ));
    }
    let provider = state
        .provider
        .current()
        .ok_or(Error::ProviderUnavailable("provider not discovered yet"))?;
    check_issuer(&provider, param(&pairs, "iss"))?;
    let code = param(&pairs, "code")
        .filter(|c| !c.is_empty())
        .ok_or(Error::BadRequest("The sign-in response has no code."))?;

    let dpop = session_dpop_key(state)?;
    let tokens = exchange(state, &provider, code, &pending, dpop.as_ref()).await?;
    let claims = verify_id_token(state, provider, &tokens, &pending).await?;
    let data = new_session(state, &tokens, &claims, &pending.nonce, dpop.as_ref())?;
    let id = state.vault.create(&data).await?;
    destroy_previous_session(state, parts, pending.previous_session.as_deref()).await;
    tracing::info!(session = %id.log_id(), "login completed");

    let mut res = redirect(&pending.return_to);
    let cookie = state
        .cookies
        .session_cookie(&id.encode(), state.config.session.ttl.as_secs());
    let cookie = HeaderValue::from_str(&cookie).map_err(|_err| Error::Internal("cookie"))?;
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// RFC 9449 §5: a DPoP-bound session gets its own key before the code is
/// exchanged, and keeps it in its sealed bundle (see `signing::dpop_key`).
fn session_dpop_key(state: &AppState) -> Result<Option<DpopKey>, Error> {
    state
        .provider
        .dpop()
        .then(DpopKey::generate)
        .transpose()
        .map_err(|_err| Error::Internal("DPoP key"))
}

/// The pending login of `csrf`, used up. The browser binding is checked
/// on a read first (RFC 9700 §4.7.1, case L2) and the record deleted only
/// then: a stranger who learns the `state` cannot burn the login.
async fn one_time_login(
    state: &AppState,
    parts: &Parts,
    csrf: &str,
) -> Result<PendingLogin, Error> {
    const UNKNOWN: &str = "This sign-in attempt is unknown, expired or already used.";
    let peeked = state
        .vault
        .peek_pending(csrf)
        .await?
        .ok_or(Error::BadRequest(UNKNOWN))?;
    check_binding(state, parts, &peeked)?;
    // GETDEL: of two concurrent callbacks only one gets it (L3).
    state
        .vault
        .take_pending(csrf)
        .await?
        .ok_or(Error::BadRequest(UNKNOWN))
}

/// The callback must come from the browser that started the login (L2).
fn check_binding(state: &AppState, parts: &Parts, pending: &PendingLogin) -> Result<(), Error> {
    let Lookup::One(binding) = lookup(&parts.headers, &state.cookies.login) else {
        return Err(Error::BadRequest(
            "This sign-in was started in another browser.",
        ));
    };
    if bool::from(
        hash22(binding.as_bytes())
            .as_bytes()
            .ct_eq(pending.binding_hash.as_bytes()),
    ) {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "This sign-in was started in another browser.",
        ))
    }
}

/// RFC 9207 §2.4: compare `iss` by simple string comparison; require it
/// when the provider advertises support (mix-up defence, case L7).
fn check_issuer(provider: &Provider, iss: Option<&str>) -> Result<(), Error> {
    match iss {
        Some(iss) if iss == provider.issuer => Ok(()),
        Some(_) => Err(Error::BadRequest(
            "The sign-in response came from an unexpected issuer.",
        )),
        None if provider.iss_parameter_supported => {
            Err(Error::BadRequest("The sign-in response has no issuer."))
        }
        None => Ok(()),
    }
}

async fn exchange(
    state: &AppState,
    provider: &Provider,
    code: &str,
    pending: &PendingLogin,
    dpop: Option<&DpopKey>,
) -> Result<BffTokenResponse, Error> {
    let call = TokenCall::new(&state.provider, &provider.issuer, Endpoint::Token, dpop);
    let request = provider
        .client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_err| Error::ProviderUnavailable("provider has no token endpoint"))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
    let tokens = request.request_async(&call).await.map_err(|err| {
        let err = OidcError::from_token_error(&err);
        tracing::warn!(error = %err, "code exchange failed");
        err.into_login_error()
    })?;
    if dpop.is_some() && !token_call::is_dpop_bound(&tokens) {
        tracing::warn!("the provider answered a DPoP token request with an unbound token");
        return Err(Error::ProviderUnavailable(
            "the provider did not bind the token to its DPoP key",
        ));
    }
    Ok(tokens)
}

/// Validates the ID token; on an unknown `kid`, re-discovers once (I5).
async fn verify_id_token(
    state: &AppState,
    provider: std::sync::Arc<Provider>,
    tokens: &BffTokenResponse,
    pending: &PendingLogin,
) -> Result<BffIdTokenClaims, Error> {
    let nonce = Nonce::new(pending.nonce.clone());
    let result = state
        .provider
        .check_with_rediscovery(
            provider,
            |p| id_token::verify_login(p, tokens, &nonce),
            |e| matches!(e, OidcError::UnknownSigningKey),
        )
        .await;
    result.map_err(|err| {
        tracing::warn!(error = %err, "ID token rejected");
        err.into_login_error()
    })
}

fn new_session(
    state: &AppState,
    tokens: &BffTokenResponse,
    claims: &BffIdTokenClaims,
    nonce: &str,
    dpop: Option<&DpopKey>,
) -> Result<SessionData, Error> {
    let now = now_unix();
    let ttl = i64::try_from(state.config.session.ttl.as_secs()).unwrap_or(i64::MAX);
    let logout_token = SessionId::generate()
        .map_err(|_err| Error::Internal("no OS randomness"))?
        .encode();
    Ok(SessionData {
        access_token: tokens.access_token().secret().clone(),
        access_expires_at: crate::refresh::exchange::access_expiry(tokens, now),
        access_issued_at: now,
        refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        id_token: tokens
            .id_token()
            .map(ToString::to_string)
            .unwrap_or_default(),
        sub: claims.subject().as_str().to_owned(),
        sid: claims.additional_claims().sid.clone(),
        claims: DisplayClaims {
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            email: claims.email().map(|e| e.as_str().to_owned()),
            preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
        },
        created_at: now,
        absolute_expires_at: now.saturating_add(ttl),
        last_seen: now,
        version: 1,
        logout_token,
        nonce: nonce.to_owned(),
        dpop: dpop.map(|key| DpopMaterial {
            key: key.encoded_der().to_string(),
            header: key.header().to_owned(),
        }),
    })
}

/// Session fixation defence: a session the browser had at login start or
/// brings to the callback is ended.
async fn destroy_previous_session(state: &AppState, parts: &Parts, at_login_start: Option<&str>) {
    let at_callback = authenticate::presented(state, &parts.headers)
        .id()
        .map(|id| id.hash());
    for hash in at_callback.iter().map(String::as_str).chain(at_login_start) {
        if let Err(err) = state.vault.end_by_hash(hash).await {
            tracing::warn!(error = %err, "could not delete the previous session");
        }
    }
}
