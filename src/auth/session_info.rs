//! `GET /auth/session`: what the SPA may know about its session (BBA
//! §6.1.2.1): subject, display claims, absolute and idle expiry, and a
//! CSRF-safe logout URL (carrying a per-session logout token, so a
//! cross-site `<img src=/auth/logout>` cannot end the session: case X4).
//! Never a token. `?slide=false` reads without touching the idle timer.

use http::request::Parts;
use http::{Response, StatusCode};

use super::authenticate;
use crate::error::Error;
use crate::http_util::{Body, json, param, query_pairs};
use crate::state::AppState;

/// Handles `GET /auth/session`.
pub(crate) async fn show(state: &AppState, parts: &Parts) -> Result<Response<Body>, Error> {
    let pairs = query_pairs(parts.uri.query(), &["slide"])
        .ok_or(Error::BadRequest("Duplicate parameters."))?;
    let slide = param(&pairs, "slide") != Some("false");
    let session = authenticate::load(state, &parts.headers).await?;
    let session = authenticate::refresh_if_needed(state, session.ok_or(Error::Unauthenticated)?);
    let session = session.await?.ok_or(Error::Unauthenticated)?;
    let data = if slide {
        authenticate::record_activity(state, session).await
    } else {
        session
    }
    .data;
    let idle_expires_at = state.vault.idle_timeout().map(|idle| {
        (data.last_seen + i64::try_from(idle.as_secs()).unwrap_or(i64::MAX))
            .min(data.absolute_expires_at)
    });
    let body = serde_json::json!({
        "sub": data.sub,
        "name": data.claims.name,
        "email": data.claims.email,
        "preferred_username": data.claims.preferred_username,
        "created_at": data.created_at,
        "expires_at": data.absolute_expires_at,
        "idle_expires_at": idle_expires_at,
        "logout_url": format!("/auth/logout?sid={}", data.logout_token),
    });
    Ok(json(StatusCode::OK, &body))
}
