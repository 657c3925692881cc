//! Request ids and W3C trace context at the front door (security case T3).
//!
//! Every request carries one `X-Request-Id`: a trusted proxy's (one of
//! `BFF_TRUSTED_PROXIES`) if it is sane, else bff's own 128 random bits.
//! A `traceparent` (W3C Trace Context §3.2) and its `tracestate` go on only
//! from a trusted proxy and only well-formed; anything else is dropped, so
//! nothing a client sends ends up raw in a log line or the upstream's trace.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The request id header (as nginx, oauth2-proxy and most upstreams use it).
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Longest request id accepted from a trusted proxy.
const MAX_LEN: usize = 128;

/// Sets the request's id in `headers` (kept from a trusted proxy if sane,
/// else generated), drops trace context that is not a trusted proxy's
/// well-formed one, and returns the id.
pub(crate) fn assign(headers: &mut HeaderMap, trusted_peer: bool) -> HeaderValue {
    let kept = headers
        .get(&REQUEST_ID)
        .filter(|v| trusted_peer && sane(v.as_bytes()))
        .cloned();
    let id = kept.unwrap_or_else(generate);
    headers.insert(REQUEST_ID, id.clone());
    let trace_ok = trusted_peer
        && headers.get_all(&TRACEPARENT).iter().count() == 1
        && headers
            .get(&TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(valid_traceparent);
    if !trace_ok {
        headers.remove(&TRACEPARENT);
        // W3C Trace Context §3.3: no tracestate without a valid traceparent.
        headers.remove(&TRACESTATE);
    }
    id
}

/// 1 to 128 visible ASCII characters: no space, control or non-ASCII
/// byte, so it is safe in a log line and a header.
fn sane(bytes: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// 128 random bits, base64url (22 characters).
fn generate() -> HeaderValue {
    let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// W3C Trace Context §3.2.2: `version-traceid-parentid-flags` in lowercase
/// hex; version `ff` and all-zero ids are invalid; a later version may
/// append fields after another `-`.
fn valid_traceparent(value: &str) -> bool {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let zeros = |s: &str| s.bytes().all(|b| b == b'0');
    let mut parts = value.splitn(5, '-');
    let (Some(version), Some(trace), Some(parent), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest_ok = match parts.next() {
        None => true,
        Some(_) => version != "00",
    };
    hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && !zeros(trace)
        && hex(parent, 16)
        && !zeros(parent)
        && hex(flags, 2)
        && rest_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn t3_a_request_id_is_kept_only_from_a_trusted_proxy_and_only_sane() {
        let mut from_proxy = headers(&[("x-request-id", "lb-1234")]);
        assert_eq!(assign(&mut from_proxy, true), "lb-1234");
        let mut from_client = headers(&[("x-request-id", "lb-1234")]);
        let own = assign(&mut from_client, false);
        assert_ne!(own, "lb-1234");
        assert_eq!(own.len(), 22);
        assert_eq!(from_client[&REQUEST_ID], own);
        let long = "a".repeat(129);
        for bad in ["", "has space", "tab\there", long.as_str(), "caf\u{e9}"] {
            let mut map = HeaderMap::new();
            map.insert(REQUEST_ID, HeaderValue::from_bytes(bad.as_bytes()).unwrap());
            assert_eq!(assign(&mut map, true).len(), 22, "{bad:?} kept");
        }
        let mut none = HeaderMap::new();
        assert_ne!(assign(&mut none, true), assign(&mut HeaderMap::new(), true));
    }

    #[test]
    fn t3_trace_context_goes_on_only_from_a_trusted_proxy_and_well_formed() {
        let mut trusted = headers(&[("traceparent", GOOD), ("tracestate", "a=b")]);
        assign(&mut trusted, true);
        assert_eq!(trusted["traceparent"], GOOD);
        assert_eq!(trusted["tracestate"], "a=b");
        let mut untrusted = headers(&[("traceparent", GOOD), ("tracestate", "a=b")]);
        assign(&mut untrusted, false);
        assert!(untrusted.get("traceparent").is_none());
        assert!(untrusted.get("tracestate").is_none());
        let twice = headers(&[("traceparent", GOOD), ("traceparent", GOOD)]);
        let mut twice = twice;
        assign(&mut twice, true);
        assert!(twice.get("traceparent").is_none());
    }

    #[test]
    fn traceparent_follows_the_w3c_grammar() {
        assert!(valid_traceparent(GOOD));
        assert!(valid_traceparent(&format!("01{}-future", &GOOD[2..])));
        let bad = [
            format!("ff{}", &GOOD[2..]),
            format!("{GOOD}-extra"),
            GOOD.to_uppercase(),
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01".to_owned(),
            GOOD[..GOOD.len() - 1].to_owned(),
            "x".repeat(4096),
        ];
        for value in bad {
            assert!(!valid_traceparent(&value), "{value}");
        }
    }
}
