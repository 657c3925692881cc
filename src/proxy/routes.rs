//! The route table: longest-prefix match over normalised paths, and the
//! upstream URI for a matched request.
//!
//! Paths are checked before matching (BBA §6.1.3.6: strict validation of
//! dynamic routing): a path whose percent-decoded form has a `.` or `..`
//! segment, a backslash or a control character is refused, so no request
//! can climb out of its route's prefix (security case H7).

use http::{Method, Uri};

use crate::config::RouteConfig;
use crate::error::Error;

/// Routes, longest prefix first.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<RouteConfig>,
}

// === impl RouteTable ===

impl RouteTable {
    /// A table over `routes` (sorted longest prefix first).
    pub fn new(mut routes: Vec<RouteConfig>) -> Self {
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Self { routes }
    }

    /// The route serving `path`: 400 for an unsafe path, 404 for no match.
    pub fn classify(&self, path: &str) -> Result<&RouteConfig, Error> {
        if !is_safe_path(path) {
            return Err(Error::BadRequest("The request path is not allowed."));
        }
        self.routes.iter().find(|r| prefix_matches(&r.prefix, path)).ok_or(Error::NotFound)
    }
}

/// Whether `route` allows `method` (empty list = all).
pub fn allows(route: &RouteConfig, method: &Method) -> bool {
    route.methods.is_empty() || route.methods.contains(method)
}

/// `/api` matches `/api` and `/api/x`, not `/apix`; `/api/` matches `/api/x`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

fn is_safe_path(path: &str) -> bool {
    if !path.starts_with('/') {
        return false;
    }
    let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else { return false };
    if decoded.chars().any(|c| c.is_control() || c == '\\') {
        return false;
    }
    !decoded.split('/').any(|segment| segment == "." || segment == "..")
}

/// The upstream URI: the route's base URL joined with the (optionally
/// prefix-stripped) request path and the original query.
pub fn upstream_uri(route: &RouteConfig, uri: &Uri) -> Result<Uri, Error> {
    let path = uri.path();
    let rest = if route.strip_prefix { path.strip_prefix(route.prefix.trim_end_matches('/')).unwrap_or(path) } else { path };
    let rest = if rest.starts_with('/') { rest.to_owned() } else { format!("/{rest}") };
    let base = route.upstream.as_str().trim_end_matches('/');
    let target = match uri.query() {
        Some(query) => format!("{base}{rest}?{query}"),
        None => format!("{base}{rest}"),
    };
    target.parse().map_err(|_err| Error::BadRequest("The request path is not allowed."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthMode;
    use std::time::Duration;

    fn route(prefix: &str, upstream: &str, strip: bool) -> RouteConfig {
        RouteConfig {
            prefix: prefix.into(),
            upstream: url::Url::parse(upstream).unwrap(),
            auth: AuthMode::Required,
            strip_prefix: strip,
            methods: vec![],
            timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn longest_prefix_wins_and_boundaries_hold() {
        let table = RouteTable::new(vec![route("/", "http://a", false), route("/api", "http://b", false)]);
        assert_eq!(table.classify("/api/x").unwrap().upstream.as_str(), "http://b/");
        assert_eq!(table.classify("/api").unwrap().upstream.as_str(), "http://b/");
        assert_eq!(table.classify("/apix").unwrap().upstream.as_str(), "http://a/");
        let only_api = RouteTable::new(vec![route("/api/", "http://b", false)]);
        assert!(matches!(only_api.classify("/other"), Err(Error::NotFound)));
    }

    #[test]
    fn h7_dot_segments_and_encoded_escapes_are_refused() {
        let table = RouteTable::new(vec![route("/api/", "http://b", false)]);
        for bad in ["/api/../admin", "/api/%2e%2e/admin", "/api/%2E%2E/x", "/api/./x", "/api/..%2fadmin", "/api/%5c..", "/api/%00"] {
            assert!(matches!(table.classify(bad), Err(Error::BadRequest(_))), "{bad}");
        }
    }

    #[test]
    fn upstream_uri_strips_prefix_and_keeps_query() {
        let uri: Uri = "/api/users?id=1".parse().unwrap();
        let stripped = upstream_uri(&route("/api", "http://up:81/base/", true), &uri).unwrap();
        assert_eq!(stripped.to_string(), "http://up:81/base/users?id=1");
        let kept = upstream_uri(&route("/api", "http://up:81", false), &uri).unwrap();
        assert_eq!(kept.to_string(), "http://up:81/api/users?id=1");
    }
}
