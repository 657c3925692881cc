//! `POST /auth/backchannel-logout` (OIDC Back-Channel Logout 1.0 §2.5–§2.8).
//!
//! The provider posts a form with one `logout_token`. After validation
//! ([`crate::oidc::logout_token`]) the sessions of that `sid` (or, with `sub`
//! alone, all of that user's sessions) are deleted from the shared store,
//! so it works whichever pod receives it. 200 on success, also when there
//! was nothing left to end; 400 for any invalid request; always
//! `Cache-Control: no-store` (§2.8). A replayed `jti` is refused (§2.6).

use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::error::Error;
use crate::http_util::{Body, header_str, json, response};
use crate::metrics::{BackchannelRejection as Rejection, LogoutKind};
use crate::oidc::logout_token::{self, LogoutToken, LogoutTokenError};
use crate::session::keys;
use crate::session::now_unix;
use crate::state::AppState;

/// Largest request body accepted (security case A5).
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Handles `POST /auth/backchannel-logout`.
pub(crate) async fn handle(
    state: &AppState,
    parts: &Parts,
    body: Incoming,
) -> Result<Response<Body>, Error> {
    let read = tokio::time::timeout(state.config.client_idle_timeout, read_token(parts, body));
    let token = match read.await {
        Ok(Ok(token)) => token,
        Ok(Err(reason)) => return Ok(rejected(state, Rejection::MalformedRequest, reason)),
        Err(_elapsed) => {
            let reason = "body not received in time";
            return Ok(rejected(state, Rejection::MalformedRequest, reason));
        }
    };
    let logout = match validate(state, &token).await? {
        Ok(logout) => logout,
        Err(()) => {
            let reason = "invalid logout token";
            return Ok(rejected(state, Rejection::InvalidToken, reason));
        }
    };
    if already_used(state, &logout).await? {
        tracing::info!("back-channel logout token replayed");
        let reason = "logout token already used";
        return Ok(rejected(state, Rejection::Replayed, reason));
    }
    let ended = end_sessions(state, &logout).await?;
    let count = u64::try_from(ended).unwrap_or(u64::MAX);
    state
        .metrics
        .auth
        .logged_out(LogoutKind::BackChannel, count);
    // Recorded only once its sessions are gone: after a store failure the
    // provider's retry of the same token must still work (§2.6 forbids
    // replays of *accepted* tokens, not retries of failed ones).
    record_used(state, &logout).await?;
    tracing::info!(ended, by_sid = logout.sid.is_some(), "back-channel logout");
    Ok(response(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        Bytes::new(),
    ))
}

/// The validated logout token, or `Err(())` when it is refused (logged).
async fn validate(state: &AppState, token: &str) -> Result<Result<LogoutToken, ()>, Error> {
    let provider = state
        .provider
        .current()
        .ok_or(Error::ProviderUnavailable("provider not discovered yet"))?;
    let client_id = state.config.oidc.client_id.as_str();
    let validated = state
        .provider
        .check_with_rediscovery(
            provider,
            |p| logout_token::validate(p, client_id, token, now_unix()),
            |e| matches!(e, LogoutTokenError::UnknownKey),
        )
        .await;
    Ok(validated.map_err(|err| {
        tracing::info!(error = %err, "back-channel logout refused");
    }))
}

/// Ends the sessions the token names: those of its `sid` (only of its
/// `sub` when both are given), or with `sub` alone all of that user's.
async fn end_sessions(state: &AppState, logout: &LogoutToken) -> Result<usize, Error> {
    Ok(match (&logout.sid, &logout.sub) {
        (Some(sid), sub) => {
            state
                .vault
                .end_provider_session(sid, sub.as_deref())
                .await?
        }
        (None, Some(sub)) => state.vault.end_subject(sub).await?,
        (None, None) => 0,
    })
}

async fn read_token(parts: &Parts, body: Incoming) -> Result<String, &'static str> {
    let form = header_str(&parts.headers, header::CONTENT_TYPE).is_some_and(|ct| {
        ct.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form {
        return Err("expected a form body");
    }
    let bytes = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|_err| "body too large or broken")?
        .to_bytes();
    let mut tokens = url::form_urlencoded::parse(&bytes)
        .filter(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    match (tokens.next(), tokens.next()) {
        (Some(token), None) if !token.is_empty() => Ok(token),
        _ => Err("expected exactly one logout_token"),
    }
}

/// Whether the token's `jti` was already accepted (OIDC Back-Channel
/// Logout §2.6: a logout token is used once).
async fn already_used(state: &AppState, logout: &LogoutToken) -> Result<bool, Error> {
    let Some(jti) = &logout.jti else {
        return Ok(false);
    };
    Ok(state
        .vault
        .store()
        .get(&keys::logout_jti(jti))
        .await?
        .is_some())
}

/// Records the token's `jti` until shortly after it expires.
async fn record_used(state: &AppState, logout: &LogoutToken) -> Result<(), Error> {
    let Some(jti) = &logout.jti else {
        return Ok(());
    };
    // Until shortly after it expires, but no longer than a token may be old
    // when it arrives (its `iat` window): older ones are refused anyway.
    let left = logout.exp.saturating_sub(now_unix()).saturating_add(120);
    let ttl = u64::try_from(left).unwrap_or(120).clamp(60, 2 * 3600);
    let key = keys::logout_jti(jti);
    state
        .vault
        .store()
        .put(&key, b"seen".to_vec(), Duration::from_secs(ttl))
        .await?;
    Ok(())
}

/// The 400 for a refused request, counted by `why`.
fn rejected(state: &AppState, why: Rejection, reason: &'static str) -> Response<Body> {
    state.metrics.auth.backchannel_rejected(why);
    bad_request(reason)
}

fn bad_request(reason: &'static str) -> Response<Body> {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": "invalid_request", "error_description": reason }),
    )
}
