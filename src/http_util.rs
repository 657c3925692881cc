//! Shared HTTP plumbing: the one body type every response uses, small
//! response builders, and request classification helpers used by several
//! modules (query parsing, "does this client want HTML?").

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};

/// Boxed error used at body and I/O boundaries.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response bff produces (proxied or local).
pub(crate) type Body = BoxBody<Bytes, BoxError>;

/// A body from bytes already in memory.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty body.
pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// A response with `Cache-Control: no-store`, which every bff-generated
/// response carries (OWASP Session Management: responses that touch the
/// session must not be cached).
pub(crate) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut res = Response::new(full(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A JSON response built from a `serde_json::Value`.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    response(status, "application/json", value.to_string())
}

/// A `302 Found` redirect to `location` (already validated by the caller).
pub(crate) fn redirect(location: &str) -> Response<Body> {
    let mut res = response(StatusCode::FOUND, "text/plain; charset=utf-8", Bytes::new());
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

/// Parses a query string into decoded pairs. Returns `None` when a
/// parameter named in `unique` appears more than once (RFC 6749 §3.1:
/// request and response parameters must not be included more than once).
pub(crate) fn query_pairs(query: Option<&str>, unique: &[&str]) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for name in unique {
        if pairs.iter().filter(|(k, _)| k == name).count() > 1 {
            return None;
        }
    }
    Some(pairs)
}

/// The value of the first query pair named `name`.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A header value as `&str`, if present and visible ASCII.
pub(crate) fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the client is a browser navigation (wants a page or a redirect)
/// rather than an API call (wants JSON and a status code). This is the one
/// place the 401-vs-302 decision is made.
///
/// API call: `X-Requested-With` is present, or `Sec-Fetch-Mode` is present
/// and not `navigate`, or `Accept` names JSON and not HTML. Navigation:
/// `Sec-Fetch-Mode: navigate`, or an `Accept` that names `text/html`.
/// Anything else (curl's `*/*`, non-GET methods) is treated as an API call.
pub(crate) fn is_navigation(method: &http::Method, headers: &HeaderMap) -> bool {
    if headers.contains_key("x-requested-with") {
        return false;
    }
    if let Some(mode) = header_str(headers, "sec-fetch-mode") {
        return mode.eq_ignore_ascii_case("navigate");
    }
    if method != http::Method::GET && method != http::Method::HEAD {
        return false;
    }
    let accept = header_str(headers, header::ACCEPT).unwrap_or("");
    accept.contains("text/html")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn navigation_is_decided_by_fetch_metadata_then_accept() {
        let get = http::Method::GET;
        assert!(is_navigation(
            &get,
            &headers(&[("sec-fetch-mode", "navigate")])
        ));
        assert!(!is_navigation(
            &get,
            &headers(&[("sec-fetch-mode", "cors"), ("accept", "text/html")])
        ));
        assert!(is_navigation(
            &get,
            &headers(&[("accept", "text/html,application/xhtml+xml")])
        ));
        assert!(!is_navigation(
            &get,
            &headers(&[("accept", "application/json")])
        ));
        assert!(!is_navigation(
            &get,
            &headers(&[
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest")
            ])
        ));
        assert!(!is_navigation(&get, &headers(&[])));
        assert!(!is_navigation(
            &http::Method::POST,
            &headers(&[("accept", "text/html")])
        ));
    }

    #[test]
    fn duplicate_unique_query_parameters_are_refused() {
        assert!(query_pairs(Some("state=a&state=b"), &["state"]).is_none());
        let pairs = query_pairs(Some("state=a%20b&x=1&x=2"), &["state"]).unwrap();
        assert_eq!(param(&pairs, "state"), Some("a b"));
    }
}
