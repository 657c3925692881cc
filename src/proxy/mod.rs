//! The reverse proxy, as ordered phases (pingora style):
//! `classify → limits → authenticate → csrf → rewrite_request → forward →
//! rewrite_response`, with WebSocket upgrades branching off after
//! `classify`. Bodies are streamed both ways, never buffered. The request
//! reaching [`handle`] has already been screened ([`crate::inbound`]): its
//! URI is the canonical origin-form path.

pub mod body;
pub mod cors;
pub mod csrf;
pub mod headers;
pub mod path;
pub mod routes;
pub mod websocket;

use std::net::SocketAddr;

use http::{HeaderValue, Request, Response, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::app::AppState;
use crate::config::{AuthMode, RouteConfig};
use crate::error::Error;
use crate::http_util::{Body, empty, is_navigation};
use crate::session::SessionData;
use body::RequestBody;
use headers::RequestContext;
use routes::Route;
use websocket::SessionWatch;

pub use routes::RouteTable;

/// Proxies one request.
pub async fn handle(
    state: &AppState,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Error> {
    let route = state.routes.classify(req.uri().path())?;
    if !route.allows(req.method()) {
        return Ok(method_not_allowed(route, &req));
    }
    if route.config.websocket && websocket::is_upgrade(&req) {
        return upgrade(state, route, peer, req).await;
    }
    body::check_declared_length(req.headers(), route.config.max_body)?;
    let (parts, body) = req.into_parts();
    let session = authenticate(state, &route.config, &parts.headers).await?;
    csrf::check(
        state,
        route.config.auth,
        session.is_some(),
        &parts.method,
        &parts.headers,
    )?;
    let body = RequestBody::new(
        body,
        route.config.max_body,
        state.config.client_idle_timeout,
    )
    .boxed();
    let upstream = upstream_request(state, route, peer, &parts, session.as_ref(), body)?;
    drop(session);
    let response = forward(state, route, upstream).await?;
    Ok(rewrite_response(state, response))
}

/// Loads the session as the route requires (security case C8: only the
/// cookie is ever consulted, never a query parameter or custom header).
async fn authenticate(
    state: &AppState,
    route: &RouteConfig,
    headers: &http::HeaderMap,
) -> Result<Option<SessionData>, Error> {
    match route.auth {
        AuthMode::None => Ok(None),
        AuthMode::Optional => Ok(state
            .fresh_session(headers, true)
            .await?
            .map(|(_, data)| data)),
        AuthMode::Required => state
            .fresh_session(headers, true)
            .await?
            .map(|(_, data)| Some(data))
            .ok_or(Error::Unauthenticated),
    }
}

/// 405 with the `Allow` list the route permits (RFC 9110 §15.5.6).
fn method_not_allowed(route: &Route, req: &Request<Incoming>) -> Response<Body> {
    let navigation = is_navigation(req.method(), req.headers());
    let mut res = Error::MethodNotAllowed.into_response(navigation, crate::router::LOGIN_PATH);
    let allow: Vec<&str> = route
        .config
        .methods
        .iter()
        .map(http::Method::as_str)
        .collect();
    if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// Relays a WebSocket handshake (see [`websocket`]): trusted `Origin`
/// first (403), then a session (401), then the upstream handshake.
async fn upgrade(
    state: &AppState,
    route: &Route,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Error> {
    websocket::check_origin(|o| csrf::is_trusted_origin(state, o), req.headers())?;
    let session = authenticate(state, &route.config, req.headers())
        .await?
        .ok_or(Error::Unauthenticated)?;
    let id = websocket::session_id(req.headers(), &state.cookies.session)
        .ok_or(Error::Unauthenticated)?;
    let client_io = hyper::upgrade::on(&mut req);
    let (parts, _no_body) = req.into_parts();
    let mut upstream = upstream_request(state, route, peer, &parts, Some(&session), empty())?;
    drop(session);
    websocket::add_upgrade_headers(upstream.headers_mut());
    let response = forward(state, route, upstream).await?;
    let watch = SessionWatch {
        vault: state.vault.clone(),
        id,
        every: state.config.proxy.ws_session_check,
    };
    Ok(
        match websocket::finish_handshake(client_io, response, watch) {
            websocket::Handshake::Switched(switched) => switched,
            websocket::Handshake::Refused(refused) => rewrite_response(state, refused),
        },
    )
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
    let uri = routes::upstream_uri(&route.config, parts.uri.path(), parts.uri.query())?;
    let (public_scheme, public_host) = state
        .config
        .public_origin
        .split_once("://")
        .unwrap_or(("https", ""));
    let ctx = RequestContext {
        peer,
        trusted_peer: state
            .config
            .proxy
            .trusted_proxies
            .iter()
            .any(|c| c.contains(peer.ip())),
        public_scheme,
        public_host,
        cookies: &state.cookies,
        bearer: session.map(|s| s.access_token.as_str()),
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
) -> Result<Response<Incoming>, Error> {
    let client = route.client(&state.upstream);
    match tokio::time::timeout(route.config.timeout, client.request(req)).await {
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
