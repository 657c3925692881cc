//! The front door of the public listener. Every request is screened
//! ([`screen`]: size limits, `Host`, the canonical path of [`path`]), then
//! classified: CORS preflights are answered ([`cors`]), `/auth/*` goes to
//! the auth handlers, everything else to the proxy. Errors become
//! responses here (the 401-vs-302 decision, the same for every path), the
//! CORS policy is applied to every answer, and one log line is written per
//! request (never a query string, cookie or token).

pub(crate) mod cors;
pub(crate) mod path;
pub(crate) mod screen;

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response, header};
use hyper::body::Incoming;
use tracing::Instrument as _;

use crate::access_note::{self, AccessNote};
use crate::auth::{LOGIN_PATH, backchannel, callback, login, logout, session_info};
use crate::error::Error;
use crate::forwarded;
use crate::http_util::{Body, is_navigation, redirect};
use crate::proxy;
use crate::request_id::{self, REQUEST_ID};
use crate::state::AppState;
use crate::telemetry::access_line::{self, AccessLine};
use crate::trace_context;

/// Handles one request on the public listener: assigns its request id,
/// which names every log line of the request (a span) and its response.
pub(crate) async fn handle(
    state: &AppState,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let trusted = forwarded::is_trusted(&state.config.proxy.trusted_proxies, peer.ip());
    let request_id = request_id::assign(req.headers_mut(), trusted);
    let span = tracing::info_span!("request", id = request_id.to_str().unwrap_or_default());
    trace_context::adopt(&span, req.headers(), trusted);
    let rid = request_id.to_str().unwrap_or_default();
    let in_flight = state.metrics.http.in_flight();
    let mut response = serve(state, peer, req, rid).instrument(span).await;
    drop(in_flight);
    response.headers_mut().insert(REQUEST_ID, request_id);
    response
}

/// Screens, routes and answers one request.
async fn serve(
    state: &AppState,
    peer: SocketAddr,
    mut req: Request<Incoming>,
    request_id: &str,
) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let navigation = is_navigation(&method, req.headers());
    let had_cookie = mentions_cookie(req.headers(), &state.cookies.session);
    let origin = cors::listed_origin(state, req.headers());
    let client = client_address(state, peer, req.headers());
    let screened = screen::screen(&mut req);
    // Screened, the URI is canonical: safe to log and to use as `return_to`.
    let path = screened
        .as_ref()
        .map_or("<refused>", |()| req.uri().path())
        .to_owned();
    // Kept (a cheap refcounted clone) for the error path only.
    let uri = req.uri().clone();
    let preflight = screened.is_ok() && cors::is_preflight(&method, req.headers());
    let result = match screened {
        Err(err) => Err(err),
        Ok(()) if preflight => cors::preflight(state, req.headers()),
        Ok(()) if path == "/auth" || path.starts_with("/auth/") => {
            let (parts, body) = req.into_parts();
            auth_endpoint(state, &parts, body, client).await
        }
        Ok(()) => proxy::handle(state, peer, req).await,
    };
    let mut response = match result {
        Ok(res) => res,
        Err(err) => {
            err.log("request");
            error_response(state, err, (navigation, had_cookie), &uri, request_id)
        }
    };
    if !preflight {
        // A preflight answer is complete; everything else gets the policy.
        cors::decorate(state, origin, &mut response);
    }
    let seen = (&method, path.as_str(), client, request_id);
    record(state, seen, &mut response, started);
    response
}

/// The client's address as resolved through `BFF_TRUSTED_PROXIES`.
fn client_address(state: &AppState, peer: SocketAddr, headers: &http::HeaderMap) -> IpAddr {
    forwarded::client_ip(peer.ip(), headers, &state.config.proxy.trusted_proxies)
}

/// The request's metrics and its access log line: one JSON object per
/// request with `BFF_LOG_FORMAT=json` (the path never has its query; the
/// session is its 8-character log id, never the cookie; `bytes` is the
/// body length when known from the response head).
fn record(
    state: &AppState,
    (method, path, client, request_id): (&Method, &str, IpAddr, &str),
    response: &mut Response<Body>,
    started: Instant,
) {
    let elapsed = started.elapsed();
    let route = route_label(state, path);
    let status = response.status().as_u16();
    state
        .metrics
        .http
        .answered(route, method, status, elapsed.as_secs_f64());
    if !access_note::wanted() {
        return;
    }
    let note = response.extensions_mut().remove::<AccessNote>();
    let note = note.unwrap_or_default();
    let bytes = hyper::body::Body::size_hint(response.body()).exact();
    let line = AccessLine {
        request_id,
        method: method.as_str(),
        path,
        route,
        status,
        bytes,
        client,
        latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        upstream_us: note.upstream_us,
        session: note.session.as_deref(),
        refreshed: note.refreshed,
    };
    if access_line::write(&line) {
        return;
    }
    tracing::info!(
        target: "bff::access",
        request_id, %method, path, route, status, bytes, %client,
        latency_us = elapsed.as_micros() as u64,
        upstream_us = note.upstream_us,
        session = note.session.as_deref(),
        refreshed = note.refreshed,
        "request"
    );
}

/// The `route` label of a request: the configured prefix it matched, or
/// one of bff's own endpoints; never the raw path (bounded cardinality).
fn route_label<'a>(state: &'a AppState, path: &str) -> &'a str {
    const OWN: [&str; 6] = [
        "/auth/login",
        "/auth/callback",
        "/auth/session",
        "/auth/logout",
        "/auth/logged-out",
        "/auth/backchannel-logout",
    ];
    if path == "<refused>" {
        return "refused";
    }
    if path == "/auth" || path.starts_with("/auth/") {
        return OWN
            .iter()
            .find(|own| **own == path)
            .copied()
            .unwrap_or("/auth/other");
    }
    state
        .routes
        .classify(path)
        .map_or("unmatched", |route| route.config.prefix.as_str())
}

/// The `/auth/*` endpoints; only back-channel logout reads a body.
async fn auth_endpoint(
    state: &AppState,
    parts: &http::request::Parts,
    body: Incoming,
    client: IpAddr,
) -> Result<Response<Body>, Error> {
    match (parts.method.clone(), parts.uri.path()) {
        (Method::GET, "/auth/login") => login::start(state, parts, client).await,
        (Method::GET, "/auth/callback") => callback::finish(state, parts, client).await,
        (Method::GET, "/auth/session") => session_info::show(state, parts).await,
        (Method::GET | Method::POST, "/auth/logout") => logout::logout(state, parts).await,
        (Method::GET, "/auth/logged-out") => Ok(logout::logged_out(state)),
        (Method::POST, "/auth/backchannel-logout") => backchannel::handle(state, parts, body).await,
        (
            _,
            "/auth/login"
            | "/auth/callback"
            | "/auth/session"
            | "/auth/logout"
            | "/auth/logged-out"
            | "/auth/backchannel-logout",
        ) => Err(Error::MethodNotAllowed),
        _ => Err(Error::NotFound),
    }
}

/// The single 401-vs-302 decision: navigations without a session go to
/// login (returning here afterwards); API calls get 401 JSON with a
/// `login_url`. A stale session cookie is cleared either way.
fn error_response(
    state: &AppState,
    err: Error,
    (navigation, had_cookie): (bool, bool),
    uri: &http::Uri,
    request_id: &str,
) -> Response<Body> {
    let unauthenticated = matches!(err, Error::Unauthenticated);
    let mut res = if unauthenticated && navigation {
        let return_to = uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        redirect(&format!("{LOGIN_PATH}?return_to={encoded}"))
    } else {
        err.into_response(navigation, LOGIN_PATH, request_id)
    };
    if unauthenticated
        && had_cookie
        && let Ok(clear) = HeaderValue::from_str(&state.cookies.clear_session())
    {
        res.headers_mut().append(header::SET_COOKIE, clear);
    }
    res
}

/// Whether a `Cookie` header mentions `name=`: decides only whether a 401
/// also clears the cookie, so a byte scan (no parsing or allocation on
/// the hot path) is enough; a false positive just adds a harmless clear.
fn mentions_cookie(headers: &http::HeaderMap, name: &str) -> bool {
    let name = name.as_bytes();
    headers.get_all(header::COOKIE).iter().any(|value| {
        let bytes = value.as_bytes();
        bytes
            .windows(name.len())
            .enumerate()
            .any(|(at, w)| w == name && bytes.get(at + name.len()) == Some(&b'='))
    })
}

#[cfg(test)]
mod tests {
    use super::mentions_cookie;
    use http::{HeaderMap, HeaderValue, header::COOKIE};

    #[test]
    fn cookie_mention_needs_the_name_followed_by_equals() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; __Host-bff-login=x"),
        );
        assert!(!mentions_cookie(&headers, "__Host-bff"));
        headers.append(COOKIE, HeaderValue::from_static("__Host-bff=abc"));
        assert!(mentions_cookie(&headers, "__Host-bff"));
        assert!(!mentions_cookie(&HeaderMap::new(), "__Host-bff"));
    }
}
