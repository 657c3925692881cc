//! The route table: longest-prefix match over canonical paths (the
//! front door has already canonicalised them), the outbound client of each route (the shared one, or
//! one trusting only the route's private CA), and the upstream URI for a
//! matched request. Only the route's configured upstream is ever contacted:
//! the request's authority and `Host` never take part (no SSRF, case H7).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use http::{Method, Uri};

use crate::config::RouteConfig;
use crate::error::Error;
use crate::http_client::{self, HttpClient};
use crate::per_worker::PerWorker;

/// A route and, for private-CA upstreams, its own client.
#[derive(Debug)]
pub(crate) struct Route {
    /// The validated route settings.
    pub(crate) config: RouteConfig,
    client: Option<PerWorker<HttpClient>>,
    /// The upstream's latest `DPoP-Nonce` (RFC 9449 §9), on `dpop` routes.
    dpop_nonce: ArcSwapOption<String>,
}

/// Routes, longest prefix first.
#[derive(Debug)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

// === impl RouteTable ===

impl RouteTable {
    /// A table over `routes` (sorted longest prefix first); private-CA
    /// routes get a client per worker thread.
    pub(crate) fn new(mut routes: Vec<RouteConfig>, workers: usize) -> Self {
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        let routes = routes
            .into_iter()
            .map(|config| {
                let client = config.tls.clone().map(|tls| {
                    let make = move || http_client::with_tls(tls.as_ref().clone());
                    PerWorker::new(workers, make(), move || Some(make()))
                });
                Route {
                    client,
                    config,
                    dpop_nonce: ArcSwapOption::empty(),
                }
            })
            .collect();
        Self { routes }
    }

    /// The route serving the canonical `path` (404 for no match).
    /// Segment parameters (`/admin;x/…`) are ignored for matching, since
    /// some upstreams (Tomcat, Spring) strip them: `/admin;x/secret` is
    /// served by the `/admin/` route, never by a less protected one.
    pub(crate) fn classify(&self, path: &str) -> Result<&Route, Error> {
        let key = without_segment_params(path);
        self.routes
            .iter()
            .find(|r| prefix_matches(&r.config.prefix, &key))
            .ok_or(Error::NotFound)
    }
}

// === impl Route ===

impl Route {
    /// The client to reach this route's upstream with.
    pub(crate) fn client<'a>(&'a self, shared: &'a PerWorker<HttpClient>) -> &'a HttpClient {
        self.client.as_ref().unwrap_or(shared).get()
    }

    /// The upstream's latest DPoP nonce, if it sent one.
    pub(crate) fn dpop_nonce(&self) -> Option<Arc<String>> {
        self.dpop_nonce.load_full()
    }

    /// Remembers the upstream's DPoP nonce for the next proof.
    pub(crate) fn set_dpop_nonce(&self, nonce: &str) {
        if self.dpop_nonce.load().as_deref().map(String::as_str) != Some(nonce) {
            self.dpop_nonce.store(Some(Arc::new(nonce.to_owned())));
        }
    }

    /// Whether this route allows `method` (empty list = all).
    pub(crate) fn allows(&self, method: &Method) -> bool {
        self.config.methods.is_empty() || self.config.methods.contains(method)
    }
}

fn without_segment_params(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains(';') {
        return std::borrow::Cow::Borrowed(path);
    }
    let segments: Vec<&str> = path
        .split('/')
        .map(|s| s.split(';').next().unwrap_or(""))
        .collect();
    std::borrow::Cow::Owned(segments.join("/"))
}

/// `/api` matches `/api` and `/api/x`, not `/apix`; `/api/` matches `/api/x`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The upstream URI: the route's base URL joined with the (optionally
/// prefix-stripped) canonical path and the original query.
pub(crate) fn upstream_uri(
    route: &RouteConfig,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, Error> {
    let rest = if route.strip_prefix {
        path.strip_prefix(route.prefix.trim_end_matches('/'))
            .unwrap_or(path)
    } else {
        path
    };
    let rest = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    };
    let base = route.upstream.as_str().trim_end_matches('/');
    let target = match query {
        Some(query) => format!("{base}{rest}?{query}"),
        None => format!("{base}{rest}"),
    };
    target
        .parse()
        .map_err(|_err| Error::BadRequest("The request path is not allowed."))
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
            max_body: 1024,
            websocket: false,
            tls: None,
            dpop: false,
        }
    }

    #[test]
    fn longest_prefix_wins_and_boundaries_hold() {
        let table = RouteTable::new(
            vec![
                route("/", "http://a", false),
                route("/api", "http://b", false),
            ],
            1,
        );
        assert_eq!(
            table.classify("/api/x").unwrap().config.upstream.as_str(),
            "http://b/"
        );
        assert_eq!(
            table.classify("/api").unwrap().config.upstream.as_str(),
            "http://b/"
        );
        assert_eq!(
            table.classify("/apix").unwrap().config.upstream.as_str(),
            "http://a/"
        );
        let only_api = RouteTable::new(vec![route("/api/", "http://b", false)], 1);
        assert!(matches!(only_api.classify("/other"), Err(Error::NotFound)));
        assert!(matches!(only_api.classify("/api"), Err(Error::NotFound)));
    }

    #[test]
    fn upstream_uri_strips_prefix_and_keeps_query() {
        let stripped = upstream_uri(
            &route("/api", "http://up:81/base/", true),
            "/api/users",
            Some("id=1"),
        )
        .unwrap();
        assert_eq!(stripped.to_string(), "http://up:81/base/users?id=1");
        let kept = upstream_uri(
            &route("/api", "http://up:81", false),
            "/api/users",
            Some("id=1"),
        )
        .unwrap();
        assert_eq!(kept.to_string(), "http://up:81/api/users?id=1");
        let root = upstream_uri(&route("/api", "http://up:81", true), "/api", None).unwrap();
        assert_eq!(root.to_string(), "http://up:81/");
    }
}
