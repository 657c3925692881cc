//! Validated route definitions (the proxy's allow-list of upstreams,
//! BBA §6.1.3.6): prefix, upstream, session requirement, methods, limits,
//! WebSocket permission and, for private-CA `https` upstreams, the TLS
//! client configuration built from the route's `ca_file`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use super::{ConfigError, FileRoute, parse};

/// Default largest request body per route (10 MiB).
pub const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;
/// Default upstream response-header timeout per route.
pub const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// Largest request body in bytes (default 10 MiB) → 413.
    pub max_body: u64,
    /// Whether WebSocket upgrades are relayed (RFC 6455 §4).
    pub websocket: bool,
    /// TLS client settings trusting only the route's `ca_file` roots;
    /// `None` uses the shared client (public web PKI roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `Authorization: DPoP` with a fresh proof per request (RFC 9449 §7.1)
    /// instead of `Bearer`.
    pub dpop: bool,
}

/// Validates one route; errors name the `routes` setting and the prefix.
pub(super) fn route(raw: &FileRoute, fapi2: bool) -> Result<RouteConfig, ConfigError> {
    let err = |m: String| ConfigError::new("routes", format!("route `{}`: {m}", raw.prefix));
    check_prefix(&raw.prefix).map_err(err)?;
    let upstream = upstream_url(&raw.upstream).map_err(err)?;
    let auth = auth_mode(raw.auth.as_deref()).map_err(err)?;
    let dpop = dpop(raw.dpop, auth, fapi2).map_err(err)?;
    if raw.websocket && auth == AuthMode::None {
        return Err(err(
            "websocket routes need a session: use auth = \"required\" or \"optional\"".into(),
        ));
    }
    let methods = raw
        .methods
        .iter()
        .map(|m| method(m).map_err(err))
        .collect::<Result<_, _>>()?;
    let timeout = raw
        .timeout
        .as_deref()
        .map_or(Ok(DEFAULT_ROUTE_TIMEOUT), parse::duration)
        .map_err(err)?;
    let max_body = raw
        .max_body
        .as_deref()
        .map_or(Ok(DEFAULT_MAX_BODY), parse::size)
        .map_err(err)?;
    let tls = match &raw.ca_file {
        Some(path) if upstream.scheme() == "https" => {
            Some(tls_with_roots(Path::new(path)).map_err(err)?)
        }
        Some(_) => return Err(err("ca_file needs an https upstream".into())),
        None => None,
    };
    Ok(RouteConfig {
        prefix: raw.prefix.clone(),
        upstream,
        auth,
        strip_prefix: raw.strip_prefix,
        methods,
        timeout,
        max_body,
        websocket: raw.websocket,
        tls,
        dpop,
    })
}

/// Whether the route sends its token DPoP-bound: as configured, and by
/// default on every session route under FAPI 2.0 (§5.3.3: sender-constrained
/// tokens only), where `dpop = false` is refused.
fn dpop(configured: Option<bool>, auth: AuthMode, fapi2: bool) -> Result<bool, String> {
    match (configured, fapi2) {
        (Some(true), _) if auth == AuthMode::None => {
            Err("dpop routes send a token: use auth = \"required\" or \"optional\"".into())
        }
        (Some(false), true) if auth != AuthMode::None => {
            Err("dpop = false is not allowed with BFF_SECURITY_PROFILE=fapi2".into())
        }
        (Some(dpop), _) => Ok(dpop),
        (None, fapi2) => Ok(fapi2 && auth != AuthMode::None),
    }
}

/// A route prefix starts with `/` and has no `..`, `//` or escapes.
fn check_prefix(prefix: &str) -> Result<(), String> {
    let clean = prefix.starts_with('/')
        && !prefix.contains("..")
        && !prefix.contains("//")
        && !prefix.contains('%');
    if clean {
        Ok(())
    } else {
        Err("prefix must start with `/` and contain no `..`, `//` or `%`".into())
    }
}

/// `required` (the default), `optional` or `none`.
fn auth_mode(text: Option<&str>) -> Result<AuthMode, String> {
    match text.unwrap_or("required") {
        "required" => Ok(AuthMode::Required),
        "optional" => Ok(AuthMode::Optional),
        "none" => Ok(AuthMode::None),
        other => Err(format!("auth `{other}` is not required, optional or none")),
    }
}

fn method(text: &str) -> Result<http::Method, String> {
    http::Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_err| format!("bad method `{text}`"))
}

/// A rustls client config (ring provider, safe default protocol versions)
/// whose only trust anchors are the PEM certificates in `path`.
fn tls_with_roots(path: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("ca_file {} holds no certificate", path.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Parses an upstream base URL: http(s), a host, no query or fragment.
pub(super) fn upstream_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{text}` must be an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "`{text}` must not carry a query, fragment or credentials"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(raw: &FileRoute) -> Result<RouteConfig, ConfigError> {
        route(raw, false)
    }

    #[test]
    fn dpop_is_the_fapi2_default_on_session_routes_and_cannot_be_turned_off_there() {
        let session = raw("/api/", "http://up");
        assert!(!route(&session, false).unwrap().dpop);
        assert!(route(&session, true).unwrap().dpop);
        let off = FileRoute {
            dpop: Some(false),
            ..raw("/api/", "http://up")
        };
        assert!(!route(&off, false).unwrap().dpop);
        assert!(route(&off, true).unwrap_err().message.contains("fapi2"));
        let none = FileRoute {
            auth: Some("none".into()),
            ..raw("/pub/", "http://up")
        };
        assert!(!route(&none, true).unwrap().dpop);
        let none_dpop = FileRoute {
            dpop: Some(true),
            ..none
        };
        assert!(route(&none_dpop, false).is_err());
    }

    fn raw(prefix: &str, upstream: &str) -> FileRoute {
        FileRoute {
            prefix: prefix.into(),
            upstream: upstream.into(),
            ..FileRoute::default()
        }
    }

    #[test]
    fn defaults_and_limits_are_parsed() {
        let r = route_of(&FileRoute {
            max_body: Some("1KiB".into()),
            ..raw("/api/", "http://up")
        })
        .unwrap();
        assert_eq!(r.max_body, 1024);
        assert_eq!(
            route_of(&raw("/api/", "http://up")).unwrap().max_body,
            DEFAULT_MAX_BODY
        );
        assert!(route_of(&raw("/a//b", "http://up")).is_err());
        assert!(route_of(&raw("/a%2f", "http://up")).is_err());
    }

    #[test]
    fn ca_file_must_hold_certificates_and_need_https() {
        let path = std::env::temp_dir().join(format!("bff-empty-ca-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate").unwrap();
        let ca = Some(path.to_string_lossy().into_owned());
        let err = route_of(&FileRoute {
            ca_file: ca.clone(),
            ..raw("/x", "https://up")
        })
        .unwrap_err();
        assert!(err.message.contains("no certificate"), "{}", err.message);
        assert!(
            route_of(&FileRoute {
                ca_file: ca,
                ..raw("/x", "http://up")
            })
            .is_err()
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn ca_file_builds_a_tls_config_trusting_only_it() {
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test-ca.pem");
        let r = route_of(&FileRoute {
            ca_file: Some(ca.into()),
            ..raw("/x", "https://api.internal:8443")
        })
        .unwrap();
        let tls = r.tls.expect("a private-CA TLS config");
        assert!(
            tls.alpn_protocols.is_empty(),
            "the connector sets ALPN itself"
        );
        // The table builds that route's own client from it.
        let table = crate::route_table::RouteTable::new(
            vec![RouteConfig {
                tls: Some(tls),
                ..route_of(&raw("/x", "https://api.internal")).unwrap()
            }],
            1,
        );
        assert!(table.classify("/x/y").is_ok());
    }

    #[test]
    fn websocket_routes_need_a_session() {
        let none = FileRoute {
            websocket: true,
            auth: Some("none".into()),
            ..raw("/ws", "http://up")
        };
        assert!(route_of(&none).is_err());
        assert!(
            route_of(&FileRoute {
                websocket: true,
                ..raw("/ws", "http://up")
            })
            .unwrap()
            .websocket
        );
    }
}
