//! Validated route definitions (the proxy's allow-list of upstreams).

use std::time::Duration;

use super::{ConfigError, FileRoute, parse};

/// Whether a route needs a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No session: 401/302. The bearer is injected.
    Required,
    /// A session is used when present; anonymous requests pass without a bearer.
    Optional,
    /// Never reads the session; no bearer is injected.
    None,
}

/// One validated route.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Path prefix, starting with `/`.
    pub prefix: String,
    /// Upstream base URL (`http`/`https`, no query or fragment).
    pub upstream: url::Url,
    /// Session requirement.
    pub auth: AuthMode,
    /// Remove the prefix before forwarding.
    pub strip_prefix: bool,
    /// Allowed methods; empty = all.
    pub methods: Vec<http::Method>,
    /// Upstream response-header timeout (default 30 s) → 504.
    pub timeout: Duration,
}

/// Validates one route; `setting` names it in errors.
pub(super) fn route(raw: &FileRoute) -> Result<RouteConfig, ConfigError> {
    let err = |m: String| ConfigError::new("routes", format!("route `{}`: {m}", raw.prefix));
    if !raw.prefix.starts_with('/') || raw.prefix.contains("..") {
        return Err(err("prefix must start with `/` and contain no `..`".into()));
    }
    let upstream = upstream_url(&raw.upstream).map_err(err)?;
    let auth = match raw.auth.as_deref().unwrap_or("required") {
        "required" => AuthMode::Required,
        "optional" => AuthMode::Optional,
        "none" => AuthMode::None,
        other => return Err(err(format!("auth `{other}` is not required, optional or none"))),
    };
    let methods = raw
        .methods
        .iter()
        .map(|m| http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_err| err(format!("bad method `{m}`"))))
        .collect::<Result<_, _>>()?;
    let timeout = match &raw.timeout {
        Some(t) => parse::duration(t).map_err(err)?,
        None => Duration::from_secs(30),
    };
    Ok(RouteConfig { prefix: raw.prefix.clone(), upstream, auth, strip_prefix: raw.strip_prefix, methods, timeout })
}

/// Parses an upstream base URL: http(s), a host, no query or fragment.
pub(super) fn upstream_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{text}` must be an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("`{text}` must not carry a query, fragment or credentials"));
    }
    Ok(url)
}
