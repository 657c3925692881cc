//! What bff believes about a request's network path, and which client
//! headers it believes at all.
//!
//! - **Identity headers** (`X-Forwarded-User`, `X-Remote-User`,
//!   `X-Auth-Request-*`, `X-Email`, …) are never accepted from anyone,
//!   trusted proxy or not: only bff says who the user is (security case T1).
//! - **Forwarding headers**: only the `X-Forwarded-For`/`-Proto`/`-Host`
//!   chain and `Forwarded` (RFC 7239), only from a peer in
//!   `BFF_TRUSTED_PROXIES`, and only when well-formed. Every other
//!   client-IP style header (`X-Real-IP`, `True-Client-IP`, …) is dropped.
//! - **The client address** used for limits and logs is the right-most
//!   `X-Forwarded-For` hop that is not a trusted proxy (case T2); behind an
//!   untrusted peer it is the peer itself.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::HeaderName;

use crate::config::Cidr;

/// Longest `X-Forwarded-For` chain believed, in hops.
const MAX_HOPS: usize = 32;

/// How a request header is treated on its way upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Claims who the user is: dropped from everyone.
    Identity,
    /// The forwarding chain bff extends: kept from trusted peers, validated.
    Forwarding,
    /// Another claim about the network (client IP, original host):
    /// dropped from everyone.
    NetworkClaim,
    /// Anything else.
    Other,
}

/// Classifies a request header name (lowercase, as `http` stores it).
pub(crate) fn kind(name: &HeaderName) -> Kind {
    let n = name.as_str();
    match n {
        "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "forwarded" => {
            Kind::Forwarding
        }
        _ if n.starts_with("x-auth-request-") || n.starts_with("x-forwarded-") => {
            // X-Forwarded-User/-Email/-Groups/-Access-Token/-Preferred-Username
            // (oauth2-proxy's identity headers), and -Port/-Prefix/-Server.
            if n.starts_with("x-forwarded-") && !is_forwarded_identity(n) {
                Kind::NetworkClaim
            } else {
                Kind::Identity
            }
        }
        "x-remote-user"
        | "remote-user"
        | "x-user"
        | "x-user-id"
        | "x-email"
        | "x-auth-user"
        | "x-authenticated-user"
        | "x-webauth-user"
        | "x-ms-client-principal"
        | "x-ms-client-principal-name"
        | "x-goog-authenticated-user-email" => Kind::Identity,
        "x-real-ip"
        | "x-client-ip"
        | "true-client-ip"
        | "client-ip"
        | "x-cluster-client-ip"
        | "cf-connecting-ip"
        | "x-original-host"
        | "x-host"
        | "x-remote-addr"
        | "x-original-forwarded-for" => Kind::NetworkClaim,
        _ => Kind::Other,
    }
}

fn is_forwarded_identity(name: &str) -> bool {
    let rest = name.trim_start_matches("x-forwarded-");
    matches!(
        rest,
        "user" | "email" | "groups" | "preferred-username" | "access-token" | "uid" | "id-token"
    )
}

/// Whether `ip` is one of `BFF_TRUSTED_PROXIES`.
pub(crate) fn is_trusted(trusted: &[Cidr], ip: IpAddr) -> bool {
    trusted.iter().any(|c| c.contains(ip))
}

/// The `X-Forwarded-For` hops a trusted peer sent, if the whole chain is
/// well-formed (comma-separated IP addresses, at most 32); `None` drops it.
pub(crate) fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for hop in value.to_str().ok()?.split(',') {
            hops.push(hop.trim().parse::<IpAddr>().ok()?);
        }
    }
    (!hops.is_empty() && hops.len() <= MAX_HOPS).then_some(hops)
}

/// The client address: the right-most hop that is not a trusted proxy
/// (the one hop bff can vouch for), or the peer behind an untrusted peer.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    if !is_trusted(trusted, peer) {
        return peer;
    }
    let Some(hops) = forwarded_for(headers) else {
        return peer;
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = *hop;
        if !is_trusted(trusted, *hop) {
            break;
        }
    }
    client
}

/// A trusted peer's `X-Forwarded-Proto`, if it is `http` or `https`.
pub(crate) fn valid_proto(value: &str) -> bool {
    matches!(value, "http" | "https")
}

/// A trusted peer's `X-Forwarded-Host`, if it is one plain authority
/// (host and optional port; no user info, path or list).
pub(crate) fn valid_host(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && !value.contains(['@', ',', '/', ' '])
        && value.parse::<http::uri::Authority>().is_ok()
}

/// A trusted peer's `Forwarded` (RFC 7239 §4): `;`/`,`-separated
/// `for|by|host|proto=value` pairs of token or quoted-string characters.
pub(crate) fn valid_forwarded(value: &str) -> bool {
    let value_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:[]\"".contains(c);
    !value.is_empty()
        && value.len() <= 1024
        && value.split([',', ';']).map(str::trim).all(|pair| {
            pair.split_once('=').is_some_and(|(key, v)| {
                let key = key.trim().to_ascii_lowercase();
                matches!(key.as_str(), "for" | "by" | "host" | "proto")
                    && !v.is_empty()
                    && v.chars().all(value_char)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| Cidr::parse(c).unwrap()).collect()
    }

    fn xff(chain: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(chain));
        headers
    }

    #[test]
    fn t1_identity_headers_are_identity_whatever_their_spelling() {
        for name in [
            "x-forwarded-user",
            "x-forwarded-email",
            "x-forwarded-groups",
            "x-forwarded-access-token",
            "x-auth-request-user",
            "x-auth-request-email",
            "x-auth-request-access-token",
            "x-remote-user",
            "remote-user",
            "x-user",
            "x-email",
        ] {
            assert_eq!(
                kind(&HeaderName::from_static(name)),
                Kind::Identity,
                "{name}"
            );
        }
        for name in [
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "forwarded",
        ] {
            assert_eq!(
                kind(&HeaderName::from_static(name)),
                Kind::Forwarding,
                "{name}"
            );
        }
        for name in [
            "x-real-ip",
            "true-client-ip",
            "x-forwarded-port",
            "x-forwarded-prefix",
        ] {
            assert_eq!(
                kind(&HeaderName::from_static(name)),
                Kind::NetworkClaim,
                "{name}"
            );
        }
        assert_eq!(kind(&HeaderName::from_static("x-custom")), Kind::Other);
    }

    #[test]
    fn t2_the_client_is_the_rightmost_untrusted_hop() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let forged = xff("1.1.1.1, 203.0.113.7, 10.0.0.9");
        assert_eq!(
            client_ip(peer, &forged, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        let untrusted: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            client_ip(untrusted, &forged, &trusted),
            untrusted,
            "untrusted peer"
        );
        assert_eq!(
            client_ip(peer, &xff("junk, 1.1.1.1"), &trusted),
            peer,
            "malformed chain"
        );
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        let all_trusted = xff("10.1.1.1, 10.2.2.2");
        assert_eq!(
            client_ip(peer, &all_trusted, &trusted),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarding_values_are_validated() {
        assert!(valid_proto("https") && !valid_proto("https, http") && !valid_proto("ftp"));
        assert!(valid_host("app.example.test") && valid_host("app.example.test:8443"));
        assert!(!valid_host("evil@app") && !valid_host("a, b") && !valid_host("a/b"));
        assert!(valid_forwarded("for=192.0.2.60;proto=http;by=203.0.113.43"));
        assert!(valid_forwarded(
            "for=\"[2001:db8:cafe::17]:4711\", for=198.51.100.17"
        ));
        assert!(!valid_forwarded("for=1.1.1.1;user=admin") && !valid_forwarded("junk"));
        assert_eq!(
            forwarded_for(&xff("1.1.1.1, ::1")).map(|h| h.len()),
            Some(2)
        );
        assert!(forwarded_for(&xff("1.1.1.1,,2.2.2.2")).is_none());
    }
}
