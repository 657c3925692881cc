//! Cross-site request forgery defence for credentialed requests
//! (BBA §6.1.3.3; ASVS 5 §3.5): state-changing requests that carry a
//! session need the static anti-CSRF header (which a cross-site form or
//! `<img>` cannot send without a CORS preflight), and are refused when the
//! browser says they come from another site: an `Origin` that is neither
//! bff's public origin nor in `BFF_ALLOWED_ORIGINS`, or, without `Origin`,
//! `Sec-Fetch-Site: cross-site` (Fetch Metadata). Cases X1, X3.

use http::{HeaderMap, Method};

use crate::config::AuthMode;
use crate::error::Error;
use crate::http_util::header_str;
use crate::state::AppState;

/// Whether `method` is safe (RFC 9110 §9.2.1): it cannot change state.
pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether `origin` may make credentialed requests: bff's own origin or
/// one listed in `BFF_ALLOWED_ORIGINS` (exact, serialised comparison).
pub(crate) fn is_trusted_origin(state: &AppState, origin: &str) -> bool {
    origin == state.config.public_origin
        || state
            .config
            .proxy
            .allowed_origins
            .iter()
            .any(|o| o == origin)
}

/// The request comes from another site, by `Origin` or, lacking it, by
/// `Sec-Fetch-Site`.
pub(crate) fn is_cross_site(state: &AppState, headers: &HeaderMap) -> bool {
    match headers.get(http::header::ORIGIN) {
        Some(origin) => origin
            .to_str()
            .map_or(true, |o| !is_trusted_origin(state, o)),
        None => header_str(headers, "sec-fetch-site") == Some("cross-site"),
    }
}

/// Checks a request on a route with `auth`; `has_session` says whether a
/// session (and so a bearer) is attached. Anonymous requests carry no
/// credentials, so there is nothing to forge.
pub(crate) fn check(
    state: &AppState,
    auth: AuthMode,
    has_session: bool,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), Error> {
    let credentialed = match auth {
        AuthMode::Required => true,
        AuthMode::Optional => has_session,
        AuthMode::None => false,
    };
    if is_safe(method) || !credentialed {
        return Ok(());
    }
    if header_str(headers, &state.config.proxy.csrf_header) != Some("1") {
        return Err(Error::Forbidden(
            "This request is missing its anti-forgery header.",
        ));
    }
    if is_cross_site(state, headers) {
        return Err(Error::Forbidden("Cross-site requests are not allowed."));
    }
    Ok(())
}
