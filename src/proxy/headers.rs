//! Header hygiene for both directions of the proxy.
//!
//! Requests (RFC 9110 §7.6.1, BCP RFC 9700 §4.13): drop hop-by-hop fields
//! and every field named in `Connection`, drop the client's
//! `Authorization`, bff's cookies, `Host`, every identity header from
//! everyone, and the forwarding chain unless a trusted proxy sent it
//! well-formed ([`crate::forwarded`]); only then inject the bearer and
//! `X-Forwarded-For/Proto/Host` (security cases H1–H3, C9, T1).
//! `X-Forwarded-Host` is bff's public host, never the client's `Host`, so a
//! forged `Host` cannot poison links the upstream builds (H7).
//! Responses: drop hop-by-hop fields and any `Set-Cookie` using bff's
//! cookie names (H4).

use std::net::{IpAddr, SocketAddr};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::dpop::{Credentials, DPOP};
use crate::forwarded::{self, Kind};
use crate::session::SessionData;
use crate::session::cookie::{CookieNames, without_ours};
use crate::trace_context;

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
    /// The token credentials to inject, if the request has a session.
    pub(crate) credentials: Option<Credentials>,
    /// The session whose user `BFF_IDENTITY_HEADERS` names to the upstream.
    pub(crate) identity: Option<&'a SessionData>,
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
            // Only bff's own proof goes with bff's token (RFC 9449 §7.1).
            || name.as_str() == DPOP
            || name == header::COOKIE
            || is_override(name)
            // Identity and network claims from anyone, and the forwarding
            // chain (re-set below from its validated values): case T1.
            || forwarded::kind(name) != Kind::Other
            // A trace context only from a trusted proxy, and replaced by
            // bff's own when bff traces (W3C Trace Context §3).
            || (trace_context::FIELDS.contains(name)
                && (!ctx.trusted_peer || trace_context::enabled()));
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
    if let Some(session) = ctx.identity {
        set_identity(&mut out, session);
    }
    if let Some(credentials) = &ctx.credentials {
        out.insert(header::AUTHORIZATION, credentials.authorization.clone());
        if let Some(proof) = &credentials.proof {
            out.insert(HeaderName::from_static(DPOP), proof.clone());
        }
    }
    out
}

/// bff's own identity headers (opt-in `BFF_IDENTITY_HEADERS`), named as
/// oauth2-proxy's `--set-xauthrequest` names them, from the session's ID
/// token. The client's copies were dropped above (case T1), so only these
/// reach the upstream; a claim that is not a valid header value is left out.
fn set_identity(out: &mut HeaderMap, session: &SessionData) {
    let claims = &session.claims;
    let values = [
        ("x-auth-request-user", Some(session.sub.as_str())),
        ("x-auth-request-email", claims.email.as_deref()),
        (
            "x-auth-request-preferred-username",
            claims.preferred_username.as_deref(),
        ),
    ];
    for (name, value) in values {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            out.insert(name, value);
        }
    }
}

/// Sets `X-Forwarded-For/-Proto/-Host` (and extends `Forwarded`): a
/// trusted peer's well-formed values are kept and the chain extended with
/// the peer; anything else is replaced by what bff itself knows.
fn set_forwarded(incoming: &HeaderMap, out: &mut HeaderMap, ctx: &RequestContext<'_>) {
    let trusted = |name: &str, valid: fn(&str) -> bool| {
        let value = incoming.get(name).filter(|_| ctx.trusted_peer)?;
        value.to_str().ok().filter(|v| valid(v)).map(str::to_owned)
    };
    let peer_ip = ctx.peer.ip();
    let chain = forwarded::forwarded_for(incoming).filter(|_| ctx.trusted_peer);
    let xff = match chain {
        Some(hops) => {
            let hops: Vec<String> = hops.iter().map(ToString::to_string).collect();
            format!("{}, {peer_ip}", hops.join(", "))
        }
        None => peer_ip.to_string(),
    };
    let public_proto = if ctx.public_scheme == "https" {
        "https"
    } else {
        "http"
    };
    let proto = trusted("x-forwarded-proto", forwarded::valid_proto);
    let host = trusted("x-forwarded-host", forwarded::valid_host);
    let values = [
        ("x-forwarded-for", Some(xff)),
        (
            "x-forwarded-proto",
            Some(proto.unwrap_or_else(|| public_proto.to_owned())),
        ),
        (
            "x-forwarded-host",
            Some(host.unwrap_or_else(|| ctx.public_host.to_owned())),
        ),
        (
            "forwarded",
            trusted("forwarded", forwarded::valid_forwarded).map(|f| extend(&f, peer_ip)),
        ),
    ];
    for (name, value) in values {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            out.insert(name, value);
        }
    }
}

/// A trusted `Forwarded` with bff's hop appended (RFC 7239 §4, §6: IPv6
/// nodes are quoted and bracketed).
fn extend(forwarded: &str, peer: IpAddr) -> String {
    match peer {
        IpAddr::V4(ip) => format!("{forwarded}, for={ip}"),
        IpAddr::V6(ip) => format!("{forwarded}, for=\"[{ip}]\""),
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
