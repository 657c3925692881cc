//! Renders the effective configuration for `--check-config`, with every
//! secret replaced by `<redacted>`.

use std::fmt::Write as _;

use super::Config;

pub(super) fn render(config: &Config) -> String {
    let mut out = String::new();
    let o = &config.oidc;
    let s = &config.session;
    let lines: [(&str, String); 25] = [
        ("listen", config.listen.to_string()),
        ("admin_listen", config.admin_listen.to_string()),
        ("public_url", config.public_origin.clone()),
        ("issuer_url", o.issuer_url.clone()),
        ("client_id", o.client_id.clone()),
        ("client_secret", "<redacted>".into()),
        ("scopes", o.scopes.join(" ")),
        ("redirect_url", o.redirect_url.clone()),
        ("post_logout_redirect", o.post_logout_redirect.clone()),
        ("refresh_skew", format!("{}s", o.refresh_skew.as_secs())),
        (
            "provider_timeout",
            format!("{}ms", o.provider_timeout.as_millis()),
        ),
        ("refresh_wait", format!("{}ms", o.refresh_wait.as_millis())),
        (
            "refresh_lock_lease",
            format!("{}ms", o.refresh_lock_lease.as_millis()),
        ),
        (
            "session_store",
            if s.redis_url.is_some() {
                "redis (url <redacted>)".into()
            } else {
                "memory".into()
            },
        ),
        (
            "session_keys",
            format!(
                "{} key(s), current id `{}`, values <redacted>",
                s.keys.len(),
                s.keys.current_id()
            ),
        ),
        ("session_ttl", format!("{}s", s.ttl.as_secs())),
        (
            "session_idle_timeout",
            s.idle_timeout
                .map_or_else(|| "off".into(), |d| format!("{}s", d.as_secs())),
        ),
        (
            "admin_api",
            if config.admin_token.is_some() {
                "enabled (token <redacted>)".into()
            } else {
                "disabled".into()
            },
        ),
        (
            "cookie",
            format!("{} (secure: {})", s.cookie_name, s.secure_cookies),
        ),
        ("csrf_header", config.proxy.csrf_header.to_string()),
        ("allowed_origins", config.proxy.allowed_origins.join(",")),
        (
            "client_idle_timeout",
            format!("{}ms", config.client_idle_timeout.as_millis()),
        ),
        (
            "ws_session_check",
            format!("{}ms", config.proxy.ws_session_check.as_millis()),
        ),
        ("workers", config.workers.to_string()),
        (
            "log_format",
            format!("{:?}", config.log_format).to_lowercase(),
        ),
    ];
    for (key, value) in lines {
        let _ = writeln!(out, "{key} = {value:?}");
    }
    for route in &config.proxy.routes {
        let _ = writeln!(
            out,
            "\n[[routes]]\nprefix = {:?}\nupstream = {:?}\nauth = {:?}\nstrip_prefix = {}\ntimeout = \"{}s\"\nmax_body = \"{}\"\nwebsocket = {}\nprivate_ca = {}",
            route.prefix,
            route.upstream.as_str(),
            format!("{:?}", route.auth).to_lowercase(),
            route.strip_prefix,
            route.timeout.as_secs(),
            route.max_body,
            route.websocket,
            route.tls.is_some()
        );
    }
    out
}
