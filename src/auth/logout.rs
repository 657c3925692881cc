//! Logout: `POST /auth/logout` (with the anti-CSRF header) or
//! `GET /auth/logout?sid=<per-session logout token>`, and the signed-out
//! page `GET /auth/logged-out`.
//!
//! The session is deleted from the store first (notifications are
//! unreliable), the cookie is cleared, then the browser goes to the
//! provider's end-session endpoint with `id_token_hint`, `client_id`,
//! `post_logout_redirect_uri` (from config only) and `state`
//! (RP-Initiated Logout 1.0 §2–§3). Without an end-session endpoint the
//! logout is local and lands on the signed-out page.

use http::request::Parts;
use http::{HeaderValue, Method, Response, header};
use openidconnect::{ClientId, CsrfToken, LogoutRequest, PostLogoutRedirectUrl};
use subtle::ConstantTimeEq as _;

use super::authenticate::{self, Authenticated};
use crate::error::Error;
use crate::http_util::{Body, header_str, param, query_pairs, redirect};
use crate::metrics::LogoutKind;
use crate::oidc::revoke;
use crate::oidc::types::BffIdToken;
use crate::pages;
use crate::session::SessionData;
use crate::state::AppState;

/// Where the browser lands after a local-only logout.
pub(crate) const LOGGED_OUT_PATH: &str = "/auth/logged-out";

/// Handles `GET|POST /auth/logout`.
pub(crate) async fn logout(state: &AppState, parts: &Parts) -> Result<Response<Body>, Error> {
    if parts.method == Method::POST
        && header_str(&parts.headers, &state.config.proxy.csrf_header) != Some("1")
    {
        // BBA §6.1.3.3: a static custom header forces a CORS preflight.
        return Err(Error::Forbidden(
            "This request is missing its anti-forgery header.",
        ));
    }
    let Some(Authenticated { id, data, .. }) = authenticate::load(state, &parts.headers).await?
    else {
        // Already logged out (or never logged in): idempotent.
        return Ok(with_cleared_cookie(state, redirect(LOGGED_OUT_PATH)));
    };
    if parts.method == Method::GET {
        // A GET needs the per-session token from /auth/session, so a
        // cross-site <img src=/auth/logout> cannot log anyone out (X4).
        let pairs = query_pairs(parts.uri.query(), &["sid"])
            .ok_or(Error::BadRequest("Duplicate parameters."))?;
        let sid = param(&pairs, "sid").unwrap_or("");
        if !bool::from(sid.as_bytes().ct_eq(data.logout_token.as_bytes())) {
            return Err(Error::BadRequest(
                "This logout link is not valid for your session.",
            ));
        }
    }
    state.vault.end(&id).await?;
    state.metrics.auth.logged_out(LogoutKind::RpInitiated, 1);
    if let Some(refresh_token) = data.refresh_token.clone() {
        revoke::revoke_in_background(&state.provider, refresh_token);
    }
    tracing::info!(session = %id.log_id(), "logged out");
    let target = end_session_url(state, &data).unwrap_or_else(|| LOGGED_OUT_PATH.to_owned());
    let mut res = with_cleared_cookie(state, redirect(&target));
    // Clear Site Data §3.1: the browser drops this origin's cookies and
    // storage too, so nothing a page kept about the user survives.
    res.headers_mut().insert(
        "clear-site-data",
        HeaderValue::from_static("\"cookies\", \"storage\""),
    );
    Ok(res)
}

/// Handles `GET /auth/logged-out` (never needs a session; its `state`
/// parameter, if any, is ignored: nothing is left to change).
pub(crate) fn logged_out(state: &AppState) -> Response<Body> {
    with_cleared_cookie(state, pages::logged_out_page())
}

fn with_cleared_cookie(state: &AppState, mut res: Response<Body>) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&state.cookies.clear_session()) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    res
}

/// The provider's end-session URL for this session, if it has one.
fn end_session_url(state: &AppState, data: &SessionData) -> Option<String> {
    let provider = state.provider.current()?;
    let endpoint = provider.end_session.clone()?;
    let post_logout =
        PostLogoutRedirectUrl::new(state.config.oidc.post_logout_redirect.clone()).ok()?;
    let mut request = LogoutRequest::from(endpoint)
        .set_client_id(ClientId::new(state.config.oidc.client_id.clone()))
        .set_post_logout_redirect_uri(post_logout)
        .set_state(CsrfToken::new_random());
    if let Ok(hint) = data.id_token.parse::<BffIdToken>() {
        request = request.set_id_token_hint(&hint);
    }
    Some(request.http_get_url().to_string())
}
