//! Validates how bff reaches Redis: the URL's scheme, no plaintext to a
//! remote host unless explicitly allowed, TLS files that exist and hold
//! PEM, and the timeouts. Each error names its setting, never the URL's
//! password.

use super::settings::Raw;
use super::{ConfigError, RedisOptions, secret::Secret};

/// The Redis URL, if set, after its scheme and plaintext checks.
pub(super) fn url(raw: &Raw, insecure: bool) -> Result<Option<Secret>, ConfigError> {
    let Some(url) = raw.redis_url.value.clone().map(Secret::new) else {
        return Ok(None);
    };
    let scheme = url.expose().split("://").next().unwrap_or("");
    if !matches!(scheme, "redis" | "rediss" | "redis+unix" | "unix") {
        return Err(raw.redis_url.error("must start with redis:// or rediss://"));
    }
    let remote_plaintext = scheme == "redis" && !is_loopback(url.expose());
    if remote_plaintext && !insecure && !raw.allow_plaintext_redis.value {
        return Err(raw.redis_url.error(
            "is plain redis:// to a host other than loopback: session records and \
             the password would cross the network in the clear; use rediss://, or \
             set BFF_ALLOW_PLAINTEXT_REDIS=true on a network you trust",
        ));
    }
    Ok(Some(url))
}

/// TLS files and timeouts; TLS files need a `rediss://` URL.
pub(super) fn options(raw: &Raw, url: Option<&Secret>) -> Result<RedisOptions, ConfigError> {
    let tls = url.is_some_and(|u| u.expose().starts_with("rediss://"));
    let file = |setting: &super::declare::Value<Option<String>>| {
        let Some(path) = setting.value.clone() else {
            return Ok(None);
        };
        if !tls {
            return Err(setting.error("needs a rediss:// BFF_REDIS_URL"));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| setting.error(format!("cannot read `{path}`: {}", e.kind())))?;
        if !text.contains("-----BEGIN ") {
            return Err(setting.error(format!("`{path}` holds no PEM block")));
        }
        Ok(Some(path))
    };
    let options = RedisOptions {
        ca_file: file(&raw.redis_ca_file)?,
        client_cert_file: file(&raw.redis_client_cert_file)?,
        client_key_file: file(&raw.redis_client_key_file)?,
        connect_timeout: raw.redis_connect_timeout.positive_duration()?,
        command_timeout: raw.redis_command_timeout.positive_duration()?,
        allow_plaintext: raw.allow_plaintext_redis.value,
        sentinels: addresses(&raw.redis_sentinels)?,
        cluster_nodes: addresses(&raw.redis_cluster_nodes)?,
        sentinel_master: raw.redis_sentinel_master.value.clone(),
        sentinel_password: raw.redis_sentinel_password.value.clone().map(Secret::new),
        sentinel_tls: raw.redis_sentinel_tls.value,
        min_replicas_ack: raw.redis_min_replicas_ack.parse(|text| replicas(text))?,
    };
    if !options.sentinels.is_empty() && url.is_none() {
        return Err(raw.redis_sentinels.error(
            "needs BFF_REDIS_URL for the data nodes' password, database and TLS \
             (its host is ignored), e.g. redis://:password@sentinel-master/0",
        ));
    }
    match (&options.client_cert_file, &options.client_key_file) {
        (Some(_), None) => Err(raw
            .redis_client_key_file
            .error("is required with BFF_REDIS_CLIENT_CERT_FILE")),
        (None, Some(_)) => Err(raw
            .redis_client_cert_file
            .error("is required with BFF_REDIS_CLIENT_KEY_FILE")),
        _ => Ok(options),
    }
}

/// A replica count from 0 to 16.
fn replicas(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= 16)
        .ok_or_else(|| format!("`{text}` is not a number from 0 to 16"))
}

/// `host:port,…`, each with a port.
fn addresses(setting: &super::declare::Value<Option<String>>) -> Result<Vec<String>, ConfigError> {
    let Some(list) = &setting.value else {
        return Ok(Vec::new());
    };
    let addresses: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    for address in &addresses {
        let port = address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok());
        if port.is_none_or(|p| p == 0) {
            return Err(setting.error(format!("`{address}` is not host:port")));
        }
    }
    Ok(addresses)
}

/// Whether the URL's host is loopback (`localhost`, 127.0.0.0/8, `::1`)
/// or a Unix socket.
fn is_loopback(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    match parsed.host() {
        // Non-special schemes leave IP addresses as opaque host names.
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_is_only_the_local_host() {
        assert!(is_loopback("redis://127.0.0.1:6379/0"));
        assert!(is_loopback("redis://:pw@localhost:6379"));
        assert!(is_loopback("redis://[::1]:6379"));
        assert!(!is_loopback("redis://10.0.0.5:6379"));
        assert!(!is_loopback("redis://redis.internal:6379"));
        assert!(!is_loopback("redis://127.0.0.1.evil.example:6379"));
    }
}
