//! The reverse proxy, as ordered phases (pingora style). A proxied request
//! with a session reads as one straight line through [`handle`]:
//!
//! `route → load → csrf → refresh_if_needed → rewrite → forward →
//! rewrite_response`
//!
//! - **route**: the route table's longest prefix ([`crate::route_table`]),
//!   its methods and declared body size;
//! - **load**: the session named by the cookie, as the route's `auth`
//!   requires ([`crate::auth::authenticate::load`]; reads only);
//! - **csrf**: [`csrf::check`], before anything is written to the store;
//! - **refresh_if_needed**: the access token refreshed if about to expire,
//!   and the idle timer touched ([`crate::auth::authenticate`]);
//! - **rewrite**: [`headers`] cleans the request and injects the token,
//!   as a bearer or DPoP-bound with a fresh proof ([`dpop`]);
//! - **forward**: the pooled client, per-route timeout, bodies streamed
//!   both ways ([`body`]), never buffered;
//! - **rewrite_response**: bff's cookies and hop-by-hop fields removed.
//!
//! WebSocket upgrades branch off after `route` ([`websocket`]). The request
//! reaching [`handle`] has already been screened by the front door: its URI
//! is the canonical origin-form path.

pub(crate) mod body;
pub(crate) mod csrf;
pub(crate) mod dpop;
pub(crate) mod headers;
pub(crate) mod websocket;

use std::net::SocketAddr;

use http::{HeaderMap, HeaderValue, Method, Request, Response, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tracing::Instrument as _;

use crate::access_note::{self, AccessNote};
use crate::auth::LOGIN_PATH;
use crate::auth::authenticate::{self, Authenticated};
use crate::config::AuthMode;
use crate::error::Error;
use crate::forwarded;
use crate::http_util::{Body, empty, is_navigation};
use crate::route_table::{self, Route};
use crate::session::SessionData;
use crate::state::AppState;
use crate::trace_context;
use body::RequestBody;
use headers::RequestContext;
use websocket::SessionWatch;

/// Proxies one request.
pub(crate) async fn handle(
    state: &AppState,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Error> {
    let route = state.routes.classify(req.uri().path())?;
    if !route.allows(req.method()) || is_never_proxied(req.method()) {
        return Ok(method_not_allowed(route, &req));
    }
    if route.config.websocket && websocket::is_upgrade(&req) {
        return upgrade(state, route, peer, req).await;
    }
    body::check_declared_length(req.headers(), route.config.max_body)?;
    let (parts, body) = req.into_parts();
    let auth = route.config.auth;
    let session = load(state, auth, &parts.headers).await?;
    let mut note = AccessNote {
        session: session
            .as_ref()
            .filter(|_| access_note::wanted())
            .map(|s| s.id.log_id()),
        ..AccessNote::default()
    };
    let version = session.as_ref().map(|s| s.data.version);
    csrf::check(
        state,
        auth,
        session.is_some(),
        &parts.method,
        &parts.headers,
    )?;
    let session = refresh_if_needed(state, auth, session).await?;
    note.refreshed = session
        .as_ref()
        .is_some_and(|s| Some(s.data.version) != version);
    let body = RequestBody::new(
        body,
        route.config.max_body,
        state.config.client_idle_timeout,
    );
    let response = send(state, route, peer, &parts, session, body.boxed(), &mut note).await?;
    let mut response = rewrite_response(state, response);
    response.extensions_mut().insert(note);
    Ok(response)
}

/// Builds the upstream request and forwards it. On a `dpop` route, a
/// nonce challenge to an idempotent bodyless request is answered with one
/// retry carrying the nonce (RFC 9449 §9, see [`dpop`]).
async fn send(
    state: &AppState,
    route: &Route,
    peer: SocketAddr,
    parts: &http::request::Parts,
    session: Option<Authenticated>,
    body: Body,
    note: &mut AccessNote,
) -> Result<Response<Incoming>, Error> {
    // Known before the body is handed on: it is at its end already (no
    // bytes will ever come, HTTP/1.1 or HTTP/2), so a retry sends the same.
    let bodyless = hyper::body::Body::is_end_stream(&body);
    let data = session.as_ref().map(|s| &s.data);
    let upstream = upstream_request(state, route, peer, parts, data, body)?;
    let retry = route.config.dpop && bodyless && dpop::idempotent(&parts.method);
    // The session's tokens are kept no longer than needed.
    let session = session.filter(|_| retry);
    let response = forward(state, route, upstream, note).await?;
    if !route.config.dpop || !dpop::learn_nonce(route, &response) {
        return Ok(response);
    }
    let Some(session) = session else {
        return Ok(response);
    };
    drop(response);
    tracing::debug!(route = %route.config.prefix, "upstream demands a DPoP nonce; retrying once");
    let again = upstream_request(state, route, peer, parts, Some(&session.data), empty())?;
    drop(session);
    forward(state, route, again, note).await
}

/// The session as the route's `auth` requires it: none looked up for
/// `none`, any for `optional`, a live one for `required` (else 401).
async fn load(
    state: &AppState,
    auth: AuthMode,
    headers: &HeaderMap,
) -> Result<Option<Authenticated>, Error> {
    match auth {
        AuthMode::None => Ok(None),
        AuthMode::Optional => authenticate::load(state, headers).await,
        AuthMode::Required => {
            let session = authenticate::load(state, headers).await?;
            session.ok_or(Error::Unauthenticated).map(Some)
        }
    }
}

/// Refreshes the access token if needed and records activity. A session
/// the provider ended is anonymous on an `optional` route, 401 otherwise.
async fn refresh_if_needed(
    state: &AppState,
    auth: AuthMode,
    session: Option<Authenticated>,
) -> Result<Option<Authenticated>, Error> {
    let Some(session) = session else {
        return Ok(None);
    };
    match authenticate::refresh_if_needed(state, session).await? {
        Some(fresh) => Ok(Some(authenticate::record_activity(state, fresh).await)),
        None if auth == AuthMode::Optional => Ok(None),
        None => Err(Error::Unauthenticated),
    }
}

/// What `Allow` lists for a route that takes every method.
const ANY_METHOD: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// `TRACE` would echo the injected bearer back to the caller (RFC 9110
/// §9.3.8 warns against sensitive fields in it) and `CONNECT` would turn
/// bff into a tunnel: neither is ever proxied, whatever the route allows.
fn is_never_proxied(method: &Method) -> bool {
    *method == Method::TRACE || *method == Method::CONNECT
}

/// 405 with the `Allow` list the route permits (RFC 9110 §15.5.6).
fn method_not_allowed(route: &Route, req: &Request<Incoming>) -> Response<Body> {
    let navigation = is_navigation(req.method(), req.headers());
    let request_id = req
        .headers()
        .get(&crate::request_id::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut res = Error::MethodNotAllowed.into_response(navigation, LOGIN_PATH, request_id);
    let methods = &route.config.methods;
    let allow: Vec<&str> = if methods.is_empty() {
        &ANY_METHOD[..]
    } else {
        methods
    }
    .iter()
    .filter(|m| !is_never_proxied(m))
    .map(Method::as_str)
    .collect();
    if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// Relays a WebSocket handshake (see [`websocket`]): trusted `Origin`
/// first (403), then a live session (401), then the upstream handshake.
async fn upgrade(
    state: &AppState,
    route: &Route,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Error> {
    websocket::check_origin(|o| csrf::is_trusted_origin(state, o), req.headers())?;
    let auth = route.config.auth;
    let session = load(state, auth, req.headers()).await?;
    let session = refresh_if_needed(state, auth, session).await?;
    let Authenticated { id, data, .. } = session.ok_or(Error::Unauthenticated)?;
    let client_io = hyper::upgrade::on(&mut req);
    let (parts, _no_body) = req.into_parts();
    let mut upstream = upstream_request(state, route, peer, &parts, Some(&data), empty())?;
    drop(data);
    websocket::add_upgrade_headers(upstream.headers_mut());
    let mut note = AccessNote {
        session: Some(id.log_id()),
        ..AccessNote::default()
    };
    let response = forward(state, route, upstream, &mut note).await?;
    let every = state.config.proxy.ws_session_check;
    let watch = SessionWatch {
        vault: state.vault.clone(),
        id,
        every,
    };
    let relays = &state.metrics.connections;
    let mut response = match websocket::finish_handshake(client_io, response, watch, relays) {
        websocket::Handshake::Switched(switched) => switched,
        websocket::Handshake::Refused(refused) => rewrite_response(state, refused),
    };
    response.extensions_mut().insert(note);
    Ok(response)
}

/// The request to send upstream: the route's URI, cleaned headers, the
/// bearer (RFC 9110 §7.6.1 hygiene first, then injection), HTTP/1.1.
fn upstream_request(
    state: &AppState,
    route: &Route,
    peer: SocketAddr,
    parts: &http::request::Parts,
    session: Option<&SessionData>,
    body: Body,
) -> Result<Request<Body>, Error> {
    let uri = route_table::upstream_uri(&route.config, parts.uri.path(), parts.uri.query())?;
    let (public_scheme, public_host) = state
        .config
        .public_origin
        .split_once("://")
        .unwrap_or(("https", ""));
    let ctx = RequestContext {
        peer,
        trusted_peer: forwarded::is_trusted(&state.config.proxy.trusted_proxies, peer.ip()),
        public_scheme,
        public_host,
        cookies: &state.cookies,
        credentials: session
            .map(|s| dpop::credentials(route, s, &parts.method, &uri))
            .transpose()?,
        identity: session.filter(|_| state.config.proxy.identity_headers),
    };
    let mut upstream = Request::new(body);
    *upstream.method_mut() = parts.method.clone();
    *upstream.uri_mut() = uri;
    *upstream.version_mut() = Version::HTTP_11;
    *upstream.headers_mut() = headers::upstream_request_headers(&parts.headers, &ctx);
    Ok(upstream)
}

/// Sends the request upstream: no response headers within the route's
/// timeout → 504; our body limits → 413 / 408; other failures → 502.
async fn forward(
    state: &AppState,
    route: &Route,
    req: Request<Body>,
    note: &mut AccessNote,
) -> Result<Response<Incoming>, Error> {
    let client = route.client(&state.upstream);
    let started = std::time::Instant::now();
    let span = tracing::debug_span!("upstream", route = route.config.prefix.as_str());
    let sent = async {
        let mut req = req;
        // W3C Trace Context: the upstream call is this span's child.
        trace_context::inject(req.headers_mut());
        tokio::time::timeout(route.config.timeout, client.request(req)).await
    };
    let answered = sent.instrument(span).await;
    let elapsed = started.elapsed();
    note.upstream_us = Some(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    let seconds = elapsed.as_secs_f64();
    state.metrics.http.upstream(&route.config.prefix, seconds);
    match answered {
        Ok(Ok(res)) => Ok(res),
        Ok(Err(err)) => {
            let classified = body::classify_send_error(&err);
            if matches!(classified, Error::UpstreamUnavailable) {
                tracing::warn!(error = %err, route = %route.config.prefix, "upstream request failed");
            }
            Err(classified)
        }
        Err(_elapsed) => Err(Error::UpstreamTimeout),
    }
}

/// Cleans the upstream response; status (including 401/403, case H8) and
/// body pass through unchanged and streamed.
fn rewrite_response(state: &AppState, res: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = res.into_parts();
    headers::clean_response_headers(&mut parts.headers, &state.cookies);
    Response::from_parts(parts, body.map_err(Into::into).boxed())
}
