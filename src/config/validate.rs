//! Merges flags/env with the TOML file and validates every setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{
    Args, Cidr, Config, ConfigError, FileConfig, FileRoute, LogFormat, OidcConfig, ProxyConfig,
    SessionConfig, parse, routes, secret::Secret,
};
use crate::crypto::Keyring;

/// Flag/env value if given, else the file's.
fn pick(arg: &Option<String>, file: &Option<String>) -> Option<String> {
    arg.clone().or_else(|| file.clone())
}

/// A `*_FILE` path: the flag/env value, else the config file's.
fn pick_path(arg: &Option<PathBuf>, file: &Option<String>) -> Option<PathBuf> {
    arg.clone().or_else(|| file.as_ref().map(PathBuf::from))
}

fn required(value: Option<String>, setting: &'static str) -> Result<String, ConfigError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ConfigError::new(setting, "is required"))
}

fn socket(
    value: Option<String>,
    default: &str,
    setting: &'static str,
) -> Result<SocketAddr, ConfigError> {
    let text = value.unwrap_or_else(|| default.to_owned());
    text.parse().map_err(|_err| {
        ConfigError::new(
            setting,
            format!("`{text}` is not an address like 0.0.0.0:8080"),
        )
    })
}

fn duration(
    value: Option<String>,
    default: Duration,
    setting: &'static str,
) -> Result<Duration, ConfigError> {
    value.map_or(Ok(default), |v| {
        parse::duration(&v).map_err(|m| ConfigError::new(setting, m))
    })
}

/// A secret from its direct setting or its `*_FILE` path (not both).
fn secret(
    direct: Option<String>,
    path: Option<PathBuf>,
    setting: &'static str,
    file_setting: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    match (direct, path) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            setting,
            format!("set either {setting} or {file_setting}, not both"),
        )),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(p)) => parse::read_secret_file(&p)
            .map(|v| Some(Secret::new(v)))
            .map_err(|m| ConfigError::new(file_setting, m)),
        (None, None) => Ok(None),
    }
}

pub(super) fn build(args: &Args, file: FileConfig) -> Result<Config, ConfigError> {
    let insecure = args
        .insecure_dev_cookies
        .or(file.insecure_dev_cookies)
        .unwrap_or(false);
    let public_origin = public_origin(
        required(pick(&args.public_url, &file.public_url), "BFF_PUBLIC_URL")?,
        insecure,
    )?;
    let oidc = oidc(args, &file, &public_origin)?;
    let session = session(args, &file, insecure)?;
    let proxy = proxy(args, &file)?;
    let log_format = match pick(&args.log_format, &file.log_format).as_deref() {
        None | Some("json") => LogFormat::Json,
        Some("pretty") => LogFormat::Pretty,
        Some(other) => {
            return Err(ConfigError::new(
                "BFF_LOG_FORMAT",
                format!("`{other}` is not json or pretty"),
            ));
        }
    };
    Ok(Config {
        listen: socket(
            pick(&args.listen, &file.listen),
            "0.0.0.0:8080",
            "BFF_LISTEN",
        )?,
        admin_listen: socket(
            pick(&args.admin_listen, &file.admin_listen),
            "127.0.0.1:9091",
            "BFF_ADMIN_LISTEN",
        )?,
        admin_token: admin_token(args, &file)?,
        public_origin,
        oidc,
        session,
        proxy,
        log_format,
        client_idle_timeout: positive(
            duration(
                pick(&args.client_idle_timeout, &file.client_idle_timeout),
                Duration::from_secs(10),
                "BFF_CLIENT_IDLE_TIMEOUT",
            )?,
            "BFF_CLIENT_IDLE_TIMEOUT",
        )?,
        workers: workers(pick(&args.workers, &file.workers))?,
    })
}

/// 1 to 256 worker threads, or `auto` (one per CPU the process may use,
/// cgroup quota included); default 1 (see `per_worker::DEFAULT_WORKERS`).
fn workers(value: Option<String>) -> Result<usize, ConfigError> {
    let Some(text) = value else {
        return Ok(crate::per_worker::DEFAULT_WORKERS);
    };
    match text.trim() {
        "auto" => Ok(crate::per_worker::cpu_count()),
        number => match number.parse::<usize>() {
            Ok(n @ 1..=256) => Ok(n),
            _ => Err(ConfigError::new(
                "BFF_WORKERS",
                format!("`{text}` is not `auto` or a number from 1 to 256"),
            )),
        },
    }
}

/// The public URL reduced to its origin; https unless insecure dev mode.
fn public_origin(text: String, insecure: bool) -> Result<String, ConfigError> {
    let err = |m: &str| ConfigError::new("BFF_PUBLIC_URL", format!("`{text}` {m}"));
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

fn oidc(args: &Args, file: &FileConfig, origin: &str) -> Result<OidcConfig, ConfigError> {
    let issuer_url = required(pick(&args.issuer_url, &file.issuer_url), "BFF_ISSUER_URL")?;
    routes::upstream_url(&issuer_url).map_err(|m| ConfigError::new("BFF_ISSUER_URL", m))?;
    let client_secret = secret(
        pick(&args.client_secret, &file.client_secret),
        pick_path(&args.client_secret_file, &file.client_secret_file),
        "BFF_CLIENT_SECRET",
        "BFF_CLIENT_SECRET_FILE",
    )?
    .ok_or_else(|| {
        ConfigError::new(
            "BFF_CLIENT_SECRET",
            "is required (bff is a confidential client)",
        )
    })?;
    let mut scopes: Vec<String> = pick(&args.scopes, &file.scopes)
        .unwrap_or_else(|| "openid profile email".into())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let post_logout_redirect = match pick(&args.post_logout_redirect, &file.post_logout_redirect) {
        Some(url) => routes::upstream_url(&url)
            .map_err(|m| ConfigError::new("BFF_POST_LOGOUT_REDIRECT", m))?
            .to_string(),
        None => format!("{origin}/auth/logged-out"),
    };
    Ok(OidcConfig {
        issuer_url,
        client_id: required(pick(&args.client_id, &file.client_id), "BFF_CLIENT_ID")?,
        client_secret,
        scopes,
        redirect_url: format!("{origin}/auth/callback"),
        post_logout_redirect,
        refresh_skew: duration(
            pick(&args.refresh_skew, &file.refresh_skew),
            Duration::from_secs(60),
            "BFF_REFRESH_SKEW",
        )?,
        provider_timeout: positive(
            duration(
                pick(&args.provider_timeout, &file.provider_timeout),
                Duration::from_secs(10),
                "BFF_PROVIDER_TIMEOUT",
            )?,
            "BFF_PROVIDER_TIMEOUT",
        )?,
        refresh_wait: duration(
            pick(&args.refresh_wait, &file.refresh_wait),
            Duration::from_secs(10),
            "BFF_REFRESH_WAIT",
        )?,
        refresh_lock_lease: positive(
            duration(
                pick(&args.refresh_lock_lease, &file.refresh_lock_lease),
                Duration::from_secs(15),
                "BFF_REFRESH_LOCK_LEASE",
            )?,
            "BFF_REFRESH_LOCK_LEASE",
        )?,
    })
}

fn positive(value: Duration, setting: &'static str) -> Result<Duration, ConfigError> {
    if value < Duration::from_millis(100) {
        return Err(ConfigError::new(setting, "must be at least 100ms"));
    }
    Ok(value)
}

fn session(args: &Args, file: &FileConfig, insecure: bool) -> Result<SessionConfig, ConfigError> {
    let redis_url = pick(&args.redis_url, &file.redis_url).map(Secret::new);
    if let Some(url) = &redis_url {
        let scheme = url.expose().split("://").next().unwrap_or("");
        if !matches!(scheme, "redis" | "rediss" | "redis+unix" | "unix") {
            return Err(ConfigError::new(
                "BFF_REDIS_URL",
                "must start with redis:// or rediss://",
            ));
        }
    }
    let keys = secret(
        pick(&args.session_keys, &file.session_keys),
        pick_path(&args.session_keys_file, &file.session_keys_file),
        "BFF_SESSION_KEYS",
        "BFF_SESSION_KEYS_FILE",
    )?;
    let keys = match keys {
        Some(spec) => {
            Keyring::parse(spec.expose()).map_err(|m| ConfigError::new("BFF_SESSION_KEYS", m))?
        }
        None if redis_url.is_none() => Keyring::ephemeral(),
        None => {
            return Err(ConfigError::new(
                "BFF_SESSION_KEYS",
                "is required with BFF_REDIS_URL (all pods need the same keys)",
            ));
        }
    };
    let ttl = duration(
        pick(&args.session_ttl, &file.session_ttl),
        Duration::from_secs(8 * 3600),
        "BFF_SESSION_TTL",
    )?;
    if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(30 * 86_400) {
        return Err(ConfigError::new(
            "BFF_SESSION_TTL",
            "must be between 1s and 30d",
        ));
    }
    let idle_timeout = pick(&args.session_idle_timeout, &file.session_idle_timeout)
        .map(|v| parse::duration(&v).map_err(|m| ConfigError::new("BFF_SESSION_IDLE_TIMEOUT", m)))
        .transpose()?
        .filter(|d| !d.is_zero());
    if idle_timeout.is_some_and(|d| d < Duration::from_secs(1)) {
        return Err(ConfigError::new(
            "BFF_SESSION_IDLE_TIMEOUT",
            "must be at least 1s (or 0 for off)",
        ));
    }
    let cookie_name = pick(&args.cookie_name, &file.cookie_name).unwrap_or_else(|| {
        if insecure {
            "bff".into()
        } else {
            "__Host-bff".into()
        }
    });
    check_cookie_name(&cookie_name, insecure)?;
    Ok(SessionConfig {
        keys,
        ttl,
        idle_timeout,
        cookie_name,
        secure_cookies: !insecure,
        redis_url,
    })
}

fn admin_token(args: &Args, file: &FileConfig) -> Result<Option<Secret>, ConfigError> {
    let token = secret(
        pick(&args.admin_token, &file.admin_token),
        pick_path(&args.admin_token_file, &file.admin_token_file),
        "BFF_ADMIN_TOKEN",
        "BFF_ADMIN_TOKEN_FILE",
    )?;
    if token.as_ref().is_some_and(|t| t.expose().len() < 32) {
        return Err(ConfigError::new(
            "BFF_ADMIN_TOKEN",
            "must be at least 32 characters",
        ));
    }
    Ok(token)
}

fn check_cookie_name(name: &str, insecure: bool) -> Result<(), ConfigError> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(ConfigError::new(
            "BFF_COOKIE_NAME",
            format!("`{name}` is not a valid cookie name"),
        ));
    }
    let prefixed = name.starts_with("__Host-") || name.starts_with("__Secure-");
    if insecure && prefixed {
        return Err(ConfigError::new(
            "BFF_COOKIE_NAME",
            "__Host-/__Secure- cookies need Secure; drop the prefix in insecure dev mode",
        ));
    }
    Ok(())
}

fn proxy(args: &Args, file: &FileConfig) -> Result<ProxyConfig, ConfigError> {
    let mut routes = file
        .routes
        .iter()
        .map(routes::route)
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(upstream) = pick(&args.upstream, &file.upstream) {
        let default = FileRoute {
            prefix: "/".into(),
            upstream,
            ..FileRoute::default()
        };
        let route =
            routes::route(&default).map_err(|e| ConfigError::new("BFF_UPSTREAM", e.message))?;
        if !routes.iter().any(|r| r.prefix == "/") {
            routes.push(route);
        }
    }
    if routes.is_empty() {
        return Err(ConfigError::new(
            "BFF_UPSTREAM",
            "is required (or [[routes]] in the config file)",
        ));
    }
    if routes
        .iter()
        .any(|r| r.prefix.starts_with("/auth/") || r.prefix == "/auth")
    {
        return Err(ConfigError::new("routes", "/auth/ is reserved for bff"));
    }
    routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    let trusted_proxies =
        parse::list(&pick(&args.trusted_proxies, &file.trusted_proxies).unwrap_or_default())
            .iter()
            .map(|c| Cidr::parse(c).map_err(|m| ConfigError::new("BFF_TRUSTED_PROXIES", m)))
            .collect::<Result<_, _>>()?;
    let csrf_header = pick(&args.csrf_header, &file.csrf_header).unwrap_or_else(|| "x-csrf".into());
    let csrf_header = http::HeaderName::from_bytes(csrf_header.to_ascii_lowercase().as_bytes())
        .map_err(|_err| ConfigError::new("BFF_CSRF_HEADER", "is not a valid header name"))?;
    let allowed_origins =
        parse::list(&pick(&args.allowed_origins, &file.allowed_origins).unwrap_or_default())
            .into_iter()
            .map(|o| allowed_origin(&o))
            .collect::<Result<_, _>>()?;
    let ws_check = duration(
        pick(&args.ws_session_check, &file.ws_session_check),
        Duration::from_secs(5),
        "BFF_WS_SESSION_CHECK",
    )?;
    let ws_session_check = positive(ws_check, "BFF_WS_SESSION_CHECK")?;
    Ok(ProxyConfig {
        routes,
        allowed_origins,
        trusted_proxies,
        csrf_header,
        ws_session_check,
    })
}

/// An allowed CORS origin, in the serialised form browsers send in
/// `Origin` (RFC 6454 §6.1): scheme, host, non-default port, nothing else.
fn allowed_origin(text: &str) -> Result<String, ConfigError> {
    let err = || {
        ConfigError::new(
            "BFF_ALLOWED_ORIGINS",
            format!("`{text}` is not an origin like https://app.example.com"),
        )
    };
    if text == "*" || text == "null" {
        return Err(ConfigError::new(
            "BFF_ALLOWED_ORIGINS",
            "`*` and `null` cannot be allowed with credentials",
        ));
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
