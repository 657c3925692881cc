//! The reverse proxy, as ordered phases (pingora style):
//! `classify → authenticate → csrf → rewrite_request → forward →
//! rewrite_response`. Bodies are streamed both ways, never buffered.

pub mod headers;
pub mod routes;

use std::net::SocketAddr;

use http::{Method, Request, Response, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::app::AppState;
use crate::config::{AuthMode, RouteConfig};
use crate::error::Error;
use crate::http_util::{Body, header_str};
use crate::session::SessionData;
use headers::RequestContext;

pub use routes::RouteTable;

/// Proxies one request.
pub async fn handle(state: &AppState, peer: SocketAddr, req: Request<Incoming>) -> Result<Response<Body>, Error> {
    let (parts, body) = req.into_parts();
    let route = state.routes.classify(parts.uri.path())?;
    if !routes::allows(route, &parts.method) {
        return Err(Error::MethodNotAllowed);
    }
    let session = authenticate(state, route, &parts.headers).await?;
    check_csrf(state, route, &parts)?;
    let uri = routes::upstream_uri(route, &parts.uri)?;
    let ctx = RequestContext {
        peer,
        trusted_peer: state.config.proxy.trusted_proxies.iter().any(|c| c.contains(peer.ip())),
        public_scheme: if state.config.public_origin.starts_with("https:") { "https" } else { "http" },
        cookies: &state.cookies,
        bearer: session.as_ref().map(|s| s.access_token.as_str()),
    };
    let mut upstream = Request::new(body.map_err(Into::into).boxed());
    *upstream.method_mut() = parts.method.clone();
    *upstream.uri_mut() = uri;
    *upstream.version_mut() = Version::HTTP_11;
    *upstream.headers_mut() = headers::upstream_request_headers(&parts.headers, &ctx);
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
        AuthMode::Optional => Ok(state.fresh_session(headers, true).await?.map(|(_, data)| data)),
        AuthMode::Required => state.fresh_session(headers, true).await?.map(|(_, data)| Some(data)).ok_or(Error::Unauthenticated),
    }
}

/// BBA §6.1.3.3: state-changing requests to authenticated routes need the
/// static anti-CSRF header, which a cross-site form cannot send.
fn check_csrf(state: &AppState, route: &RouteConfig, parts: &http::request::Parts) -> Result<(), Error> {
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    if safe || route.auth == AuthMode::None {
        return Ok(());
    }
    if header_str(&parts.headers, &state.config.proxy.csrf_header) != Some("1") {
        return Err(Error::Forbidden("This request is missing its anti-forgery header."));
    }
    if header_str(&parts.headers, "sec-fetch-site") == Some("cross-site") {
        return Err(Error::Forbidden("Cross-site requests are not allowed."));
    }
    Ok(())
}

/// Sends the request upstream; no response headers within the route's
/// timeout → 504, connection failure → 502.
async fn forward(state: &AppState, route: &RouteConfig, req: Request<Body>) -> Result<Response<Incoming>, Error> {
    match tokio::time::timeout(route.timeout, state.client.request(req)).await {
        Ok(Ok(res)) => Ok(res),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, route = %route.prefix, "upstream request failed");
            Err(Error::UpstreamUnavailable)
        }
        Err(_) => Err(Error::UpstreamTimeout),
    }
}

/// Cleans the upstream response; status (including 401/403, case H8) and
/// body pass through unchanged.
fn rewrite_response(state: &AppState, res: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = res.into_parts();
    headers::clean_response_headers(&mut parts.headers, &state.cookies);
    parts.headers.remove(header::CONTENT_LENGTH).map(|len| parts.headers.insert(header::CONTENT_LENGTH, len));
    Response::from_parts(parts, body.map_err(Into::into).boxed())
}
