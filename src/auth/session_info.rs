//! `GET /auth/session`: what the SPA may know about its session (BBA
//! §6.1.2.1): subject, display claims, expiry, and a CSRF-safe logout URL.
//! Never a token.

use http::request::Parts;
use http::{Response, StatusCode};

use crate::app::AppState;
use crate::error::Error;
use crate::http_util::{Body, json};

/// Handles `GET /auth/session`.
pub async fn show(state: &AppState, parts: &Parts) -> Result<Response<Body>, Error> {
    let (_, data) = state.fresh_session(&parts.headers).await?.ok_or(Error::Unauthenticated)?;
    let body = serde_json::json!({
        "sub": data.sub,
        "name": data.claims.name,
        "email": data.claims.email,
        "preferred_username": data.claims.preferred_username,
        "created_at": data.created_at,
        "expires_at": data.absolute_expires_at,
        "logout_url": format!("/auth/logout?sid={}", data.logout_token),
    });
    Ok(json(StatusCode::OK, &body))
}
