//! Header hygiene for both directions of the proxy.
//!
//! Requests (RFC 9110 §7.6.1, BCP RFC 9700 §4.13): drop hop-by-hop fields
//! and every field named in `Connection`, drop the client's
//! `Authorization`, bff's cookies, `Host`, and forwarding / identity
//! headers unless the peer is a trusted proxy; only then inject the bearer
//! and `X-Forwarded-For/Proto/Host` (security cases H1–H3, C9).
//! `X-Forwarded-Host` is bff's public host, never the client's `Host`, so a
//! forged `Host` cannot poison links the upstream builds (H7).
//! Responses: drop hop-by-hop fields and any `Set-Cookie` using bff's
//! cookie names (H4).

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::session::cookie::{CookieNames, without_ours};

/// Hop-by-hop fields (RFC 9110 §7.6.1, plus the legacy ones proxies drop).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
];

/// What the request rewrite needs to know.
pub(crate) struct RequestContext<'a> {
    /// The TCP peer.
    pub(crate) peer: SocketAddr,
    /// Whether the peer is in `BFF_TRUSTED_PROXIES`.
    pub(crate) trusted_peer: bool,
    /// `http` or `https`, from the public URL.
    pub(crate) public_scheme: &'a str,
    /// Host (and port) of the public URL.
    pub(crate) public_host: &'a str,
    /// bff's cookie names.
    pub(crate) cookies: &'a CookieNames,
    /// The access token to inject, if the request has a session.
    pub(crate) bearer: Option<&'a str>,
}

/// Fields named in `Connection` headers, lowercased.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn is_hop_by_hop(name: &HeaderName, listed: &[String]) -> bool {
    HOP_BY_HOP.contains(&name.as_str()) || listed.iter().any(|l| l == name.as_str())
}

/// Client-sent fields that claim identity or network facts; kept only
/// from trusted proxies (BCP RFC 9700 §4.13, security case H2).
fn is_spoofable(name: &HeaderName) -> bool {
    let n = name.as_str();
    n.starts_with("x-forwarded-")
        || n.starts_with("x-auth-request-")
        || matches!(
            n,
            "forwarded"
                | "x-real-ip"
                | "x-client-ip"
                | "true-client-ip"
                | "x-remote-user"
                | "remote-user"
        )
        || matches!(n, "x-user" | "x-user-id" | "x-email" | "x-remote-addr")
        || matches!(
            n,
            "client-ip" | "x-cluster-client-ip" | "cf-connecting-ip" | "x-original-host" | "x-host"
        )
}

/// Fields that would let a client override the method or path the route
/// table and CSRF checks saw; never forwarded (cases X5, H7).
fn is_override(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "x-http-method-override"
            | "x-http-method"
            | "x-method-override"
            | "x-original-url"
            | "x-rewrite-url"
    )
}

/// The headers to send upstream.
pub(crate) fn upstream_request_headers(
    incoming: &HeaderMap,
    ctx: &RequestContext<'_>,
) -> HeaderMap {
    let listed = connection_listed(incoming);
    let mut out = HeaderMap::with_capacity(incoming.len() + 4);
    for (name, value) in incoming {
        let dropped = is_hop_by_hop(name, &listed)
            || name == header::HOST
            || name == header::AUTHORIZATION
            || name == header::COOKIE
            || is_override(name)
            || (is_spoofable(name) && !ctx.trusted_peer);
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    // The client's own cookies go on, without bff's (BBA §6.1.1), unless
    // `Connection` named `Cookie` (RFC 9110 §7.6.1, case H3).
    let cookie_listed = listed.iter().any(|l| l == "cookie");
    if let Some(cookie) = without_ours(incoming, ctx.cookies)
        .filter(|_| !cookie_listed)
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        out.insert(header::COOKIE, cookie);
    }
    set_forwarded(incoming, &mut out, ctx);
    if let Some(value) = ctx
        .bearer
        .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
    {
        let mut value = value;
        value.set_sensitive(true);
        out.insert(header::AUTHORIZATION, value);
    }
    out
}

fn set_forwarded(incoming: &HeaderMap, out: &mut HeaderMap, ctx: &RequestContext<'_>) {
    let peer_ip = ctx.peer.ip().to_string();
    let prior = if ctx.trusted_peer {
        incoming
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
    } else {
        None
    };
    let xff = match prior {
        Some(prior) => format!("{prior}, {peer_ip}"),
        None => peer_ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        out.insert("x-forwarded-for", v);
    }
    if !(ctx.trusted_peer && out.contains_key("x-forwarded-proto")) {
        out.insert(
            "x-forwarded-proto",
            HeaderValue::from_static(if ctx.public_scheme == "https" {
                "https"
            } else {
                "http"
            }),
        );
    }
    if !(ctx.trusted_peer && out.contains_key("x-forwarded-host"))
        && let Ok(host) = HeaderValue::from_str(ctx.public_host)
    {
        out.insert("x-forwarded-host", host);
    }
}

/// Removes hop-by-hop fields and bff-named `Set-Cookie`s from an upstream
/// response, in place.
pub(crate) fn clean_response_headers(headers: &mut HeaderMap, cookies: &CookieNames) {
    let listed = connection_listed(headers);
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n, &listed))
        .cloned()
        .collect();
    for name in names {
        headers.remove(&name);
    }
    let set_cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if set_cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for value in set_cookies {
        let ours = value
            .to_str()
            .ok()
            .and_then(|v| cookie::Cookie::parse(v.to_owned()).ok())
            .is_none_or(|c| cookies.is_ours(c.name()));
        if !ours {
            headers.append(header::SET_COOKIE, value);
        }
    }
}
