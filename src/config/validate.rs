//! Validates every merged setting ([`Raw`]) into the typed [`Config`]:
//! addresses, URLs, durations and their bounds, key sizes, cookie-name
//! rules, workers. Each error names its setting (`Value::error`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::declare::Value;
use super::settings::Raw;
use super::{
    Cidr, Config, ConfigError, FileRoute, LogFormat, OidcConfig, ProxyConfig, SecurityProfile,
    SessionConfig, cache, client, parse, redis, routes, secret::Secret,
};
use crate::crypto::Keyring;
use crate::per_worker::{cpu_count, default_workers};

/// Validates the merged settings into the configuration.
pub(super) fn build(raw: &Raw) -> Result<Config, ConfigError> {
    let insecure = raw.insecure_dev_cookies.value;
    let public_origin = public_origin(&raw.public_url, insecure)?;
    let proxy = proxy(raw)?;
    let dpop_routes = proxy.routes.iter().any(|r| r.dpop);
    let oidc = oidc(raw, &public_origin, insecure, dpop_routes)?;
    let session = session(raw, insecure)?;
    let log_format = match raw.log_format.value.as_str() {
        "json" => LogFormat::Json,
        "pretty" => LogFormat::Pretty,
        other => {
            return Err(raw
                .log_format
                .error(format!("`{other}` is not json or pretty")));
        }
    };
    Ok(Config {
        listen: socket(&raw.listen)?,
        admin_listen: socket(&raw.admin_listen)?,
        admin_token: admin_token(raw)?,
        public_origin,
        oidc,
        session,
        proxy,
        log_format,
        client_idle_timeout: positive(&raw.client_idle_timeout)?,
        shutdown_delay: duration(&raw.shutdown_delay)?,
        shutdown_grace: positive(&raw.shutdown_grace)?,
        workers: workers(&raw.workers)?,
        max_connections: max_connections(&raw.max_connections)?,
        login_rate: count(&raw.login_rate, 0, 1_000_000)?,
        login_burst: count(&raw.login_burst, 1, 1_000_000)?,
    })
}

/// A whole number from `min` to `max`.
fn count(setting: &Value<String>, min: u32, max: u32) -> Result<u32, ConfigError> {
    let text = setting.value.trim();
    match text.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(setting.error(format!("`{text}` is not a number from {min} to {max}"))),
    }
}

/// A connection cap from 1 to 1,000,000.
fn max_connections(setting: &Value<String>) -> Result<usize, ConfigError> {
    let text = setting.value.trim();
    match text.parse::<usize>() {
        Ok(n @ 1..=1_000_000) => Ok(n),
        _ => Err(setting.error(format!("`{text}` is not a number from 1 to 1000000"))),
    }
}

fn required(setting: &Value<Option<String>>) -> Result<String, ConfigError> {
    setting
        .value
        .clone()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| setting.error("is required"))
}

fn socket(setting: &Value<String>) -> Result<SocketAddr, ConfigError> {
    setting.parse(|text| {
        text.parse()
            .map_err(|_err| format!("`{text}` is not an address like 0.0.0.0:8080"))
    })
}

fn duration(setting: &Value<String>) -> Result<Duration, ConfigError> {
    setting.duration()
}

/// A duration of at least 100ms (timeouts and intervals).
fn positive(setting: &Value<String>) -> Result<Duration, ConfigError> {
    setting.positive_duration()
}

/// A secret from its direct setting or its `*_FILE` path (not both).
fn secret(
    direct: &Value<Option<String>>,
    file: &Value<Option<PathBuf>>,
) -> Result<Option<Secret>, ConfigError> {
    match (&direct.value, &file.value) {
        (Some(_), Some(_)) => Err(direct.error(format!(
            "set either {} or {}, not both",
            direct.env, file.env
        ))),
        (Some(value), None) => Ok(Some(Secret::new(value.clone()))),
        (None, Some(path)) => parse::read_secret_file(path)
            .map(|value| Some(Secret::new(value)))
            .map_err(|m| file.error(m)),
        (None, None) => Ok(None),
    }
}

/// 1 to 256 worker threads, or `auto` (one per CPU the process may use,
/// cgroup quota included), also the default (`per_worker::default_workers`).
fn workers(setting: &Value<Option<String>>) -> Result<usize, ConfigError> {
    let Some(text) = &setting.value else {
        return Ok(default_workers());
    };
    match text.trim() {
        "auto" => Ok(cpu_count()),
        number => match number.parse::<usize>() {
            Ok(n @ 1..=256) => Ok(n),
            _ => Err(setting.error(format!("`{text}` is not `auto` or a number from 1 to 256"))),
        },
    }
}

/// The public URL reduced to its origin; https unless insecure dev mode.
fn public_origin(setting: &Value<Option<String>>, insecure: bool) -> Result<String, ConfigError> {
    let text = required(setting)?;
    let err = |m: &str| setting.error(format!("`{text}` {m}"));
    let url = url::Url::parse(&text).map_err(|_err| err("is not a URL"))?;
    if url.host().is_none() || url.path() != "/" || url.query().is_some() {
        return Err(err(
            "must be an origin like https://app.example.com (no path or query)",
        ));
    }
    match (url.scheme(), insecure) {
        ("https", _) | ("http", true) => Ok(url.origin().ascii_serialization()),
        ("http", false) => Err(err(
            "is plain http: use https, or BFF_INSECURE_DEV_COOKIES=true for local development",
        )),
        _ => Err(err("must be http or https")),
    }
}

fn oidc(
    raw: &Raw,
    origin: &str,
    insecure: bool,
    dpop_routes: bool,
) -> Result<OidcConfig, ConfigError> {
    let issuer_url = required(&raw.issuer_url)?;
    let issuer = routes::upstream_url(&issuer_url).map_err(|m| raw.issuer_url.error(m))?;
    let allow_insecure_issuer = raw.allow_insecure_issuer.value;
    if issuer.scheme() == "http" && !allow_insecure_issuer && !insecure {
        return Err(raw.issuer_url.error(
            "is plain http: tokens would cross the network in the clear; use https, or \
             set BFF_ALLOW_INSECURE_ISSUER=true (or BFF_INSECURE_DEV_COOKIES=true locally)",
        ));
    }
    let client = client::security(raw, secret(&raw.client_secret, &raw.client_secret_file)?)?;
    let mut scopes: Vec<String> = raw
        .scopes
        .value
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let post_logout_redirect = match &raw.post_logout_redirect.value {
        Some(url) => routes::upstream_url(url)
            .map_err(|m| raw.post_logout_redirect.error(m))?
            .to_string(),
        None => format!("{origin}/auth/logged-out"),
    };
    Ok(OidcConfig {
        issuer_url,
        allow_insecure_issuer,
        client_id: required(&raw.client_id)?,
        dpop: client.profile == SecurityProfile::Fapi2 || dpop_routes,
        client,
        scopes,
        redirect_url: format!("{origin}/auth/callback"),
        post_logout_redirect,
        refresh_skew: duration(&raw.refresh_skew)?,
        provider_timeout: positive(&raw.provider_timeout)?,
        refresh_wait: duration(&raw.refresh_wait)?,
        refresh_lock_lease: positive(&raw.refresh_lock_lease)?,
    })
}

fn session(raw: &Raw, insecure: bool) -> Result<SessionConfig, ConfigError> {
    let redis_url = redis::url(raw, insecure)?;
    let redis = redis::options(raw, redis_url.as_ref())?;
    let keys = match secret(&raw.session_keys, &raw.session_keys_file)? {
        Some(spec) => Keyring::parse(spec.expose()).map_err(|m| raw.session_keys.error(m))?,
        None if redis_url.is_none() => Keyring::ephemeral(),
        None => {
            return Err(raw
                .session_keys
                .error("is required with BFF_REDIS_URL (all pods need the same keys)"));
        }
    };
    let ttl = duration(&raw.session_ttl)?;
    if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(30 * 86_400) {
        return Err(raw.session_ttl.error("must be between 1s and 30d"));
    }
    let idle = &raw.session_idle_timeout;
    let idle_timeout = idle
        .parse(|value| value.as_deref().map(parse::duration).transpose())?
        .filter(|d| !d.is_zero());
    if idle_timeout.is_some_and(|d| d < Duration::from_secs(1)) {
        return Err(idle.error("must be at least 1s (or 0 for off)"));
    }
    let cookie_name = match &raw.cookie_name.value {
        Some(name) => name.clone(),
        None if insecure => "bff".into(),
        None => "__Host-bff".into(),
    };
    check_cookie_name(&raw.cookie_name, &cookie_name, insecure)?;
    Ok(SessionConfig {
        keys,
        ttl,
        idle_timeout,
        cookie_name,
        secure_cookies: !insecure,
        redis_url,
        redis,
        cache: cache::options(raw)?,
    })
}

fn admin_token(raw: &Raw) -> Result<Option<Secret>, ConfigError> {
    let token = secret(&raw.admin_token, &raw.admin_token_file)?;
    if token.as_ref().is_some_and(|t| t.expose().len() < 32) {
        return Err(raw.admin_token.error("must be at least 32 characters"));
    }
    Ok(token)
}

fn check_cookie_name(
    setting: &Value<Option<String>>,
    name: &str,
    insecure: bool,
) -> Result<(), ConfigError> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(setting.error(format!("`{name}` is not a valid cookie name")));
    }
    let prefixed = name.starts_with("__Host-") || name.starts_with("__Secure-");
    if insecure && prefixed {
        return Err(setting
            .error("__Host-/__Secure- cookies need Secure; drop the prefix in insecure dev mode"));
    }
    Ok(())
}

fn proxy(raw: &Raw) -> Result<ProxyConfig, ConfigError> {
    // FAPI 2.0 makes DPoP the routes' default (checked in full in `client`).
    let routes = route_table(raw, raw.security_profile.value == "fapi2")?;
    let trusted_proxies = raw.trusted_proxies.parse(|value| {
        parse::list(value.as_deref().unwrap_or_default())
            .iter()
            .map(|c| Cidr::parse(c))
            .collect()
    })?;
    let csrf_header = raw.csrf_header.parse(|name| {
        http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_err| "is not a valid header name".to_owned())
    })?;
    let allowed_origins = parse::list(raw.allowed_origins.value.as_deref().unwrap_or_default())
        .into_iter()
        .map(|o| allowed_origin(&raw.allowed_origins, &o))
        .collect::<Result<_, _>>()?;
    Ok(ProxyConfig {
        routes,
        allowed_origins,
        trusted_proxies,
        identity_headers: raw.identity_headers.value,
        csrf_header,
        ws_session_check: positive(&raw.ws_session_check)?,
    })
}

/// The file's `[[routes]]` plus `BFF_UPSTREAM` as `/` (unless the file
/// has `/`), longest prefix first; `/auth/` stays bff's.
fn route_table(raw: &Raw, fapi2: bool) -> Result<Vec<routes::RouteConfig>, ConfigError> {
    let mut table = raw
        .routes
        .iter()
        .map(|r| routes::route(r, fapi2))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(upstream) = &raw.upstream.value {
        let default = FileRoute {
            prefix: "/".into(),
            upstream: upstream.clone(),
            ..FileRoute::default()
        };
        let route = routes::route(&default, fapi2).map_err(|e| raw.upstream.error(e.message))?;
        if !table.iter().any(|r| r.prefix == "/") {
            table.push(route);
        }
    }
    if table.is_empty() {
        return Err(raw
            .upstream
            .error("is required (or [[routes]] in the config file)"));
    }
    if table
        .iter()
        .any(|r| r.prefix.starts_with("/auth/") || r.prefix == "/auth")
    {
        return Err(ConfigError::new("routes", "/auth/ is reserved for bff"));
    }
    table.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    Ok(table)
}

/// An allowed CORS origin, in the serialised form browsers send in
/// `Origin` (RFC 6454 §6.1): scheme, host, non-default port, nothing else.
fn allowed_origin(setting: &Value<Option<String>>, text: &str) -> Result<String, ConfigError> {
    let err = || {
        setting.error(format!(
            "`{text}` is not an origin like https://app.example.com"
        ))
    };
    if text == "*" || text == "null" {
        return Err(setting.error("`*` and `null` cannot be allowed with credentials"));
    }
    let url = url::Url::parse(text).map_err(|_err| err())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.path() != "/"
        || url.query().is_some()
        || text.ends_with('/')
    {
        return Err(err());
    }
    Ok(url.origin().ascii_serialization())
}
