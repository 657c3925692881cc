//! CORS for the origins in `BFF_ALLOWED_ORIGINS`, and nobody else (BBA
//! §6.1.3.3: CORS must not reflect arbitrary origins with credentials;
//! security case X2). Preflights (`OPTIONS` + `Origin` +
//! `Access-Control-Request-Method`, Fetch §3.2.2) are answered here and
//! never reach an upstream. Actual responses get
//! `Access-Control-Allow-Origin: <that origin>` plus
//! `Access-Control-Allow-Credentials: true` only for a listed origin, never
//! `*`; upstream `Access-Control-*` headers are dropped because bff, which
//! holds the credentials, is the only CORS authority.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::error::Error;
use crate::http_util::{Body, empty};
use crate::state::AppState;

/// How long browsers may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// Whether the request is a CORS preflight.
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The request's `Origin`, if it is listed in `BFF_ALLOWED_ORIGINS`.
pub(crate) fn listed_origin(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    state
        .config
        .proxy
        .allowed_origins
        .iter()
        .any(|o| o == text)
        .then(|| origin.clone())
}

/// Answers a preflight: 204 with the grant for a listed origin, 403
/// without any CORS header otherwise.
pub(crate) fn preflight(state: &AppState, headers: &HeaderMap) -> Result<Response<Body>, Error> {
    let Some(origin) = listed_origin(state, headers) else {
        return Err(Error::Forbidden(
            "Cross-origin requests from this origin are not allowed.",
        ));
    };
    let mut res = Response::new(empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let out = res.headers_mut();
    // Echo only syntactically valid tokens; HeaderValue already excludes CR/LF.
    if let Some(method) = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .filter(|m| Method::from_bytes(m.as_bytes()).is_ok())
    {
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method.clone());
    }
    if let Some(requested) = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .filter(|h| is_token_list(h.as_bytes()))
    {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    grant(out, origin);
    Ok(res)
}

/// Applies bff's CORS policy to any response: upstream `Access-Control-*`
/// fields are removed; a listed request origin gets its grant.
pub(crate) fn decorate(state: &AppState, origin: Option<HeaderValue>, res: &mut Response<Body>) {
    let headers = res.headers_mut();
    let upstream: Vec<_> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in upstream {
        headers.remove(&name);
    }
    if state.config.proxy.allowed_origins.is_empty() {
        return;
    }
    match origin {
        Some(origin) => grant(headers, origin),
        None => {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

fn grant(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// A comma-separated list of RFC 9110 §5.6.2 tokens.
fn is_token_list(bytes: &[u8]) -> bool {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    bytes.split(|b| *b == b',').all(|item| {
        let item = item.trim_ascii();
        !item.is_empty() && item.iter().all(|b| tchar(*b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_lists_are_echoed() {
        assert!(is_token_list(b"x-csrf, content-type"));
        assert!(!is_token_list(b"x-csrf, "));
        assert!(!is_token_list(b"x csrf"));
        assert!(!is_token_list(b"x-csrf;evil"));
    }
}
