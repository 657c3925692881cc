//! How bff's Redis clients are built from `BFF_REDIS_URL` and the TLS
//! settings: one node's client, and the TLS files every topology shares.

use super::StoreError;
use crate::config::RedisOptions;

/// A client for `url`; with `rediss://`, TLS verified against the
/// configured CA (else the system roots) and, if configured, a client
/// certificate (mutual TLS). Never a fallback to plaintext (case R8).
pub(crate) fn client(url: &str, options: &RedisOptions) -> Result<redis::Client, StoreError> {
    let bad_url = |e: redis::RedisError| StoreError(format!("bad Redis URL: {:?}", e.kind()));
    match certificates(options)? {
        None => redis::Client::open(url).map_err(bad_url),
        Some(certificates) => {
            redis::Client::build_with_tls(url, certificates).map_err(|e| unusable(&e))
        }
    }
}

/// The CA and client certificate files, read; `None` when neither is set
/// (TLS, if the URL asks for it, then trusts the system roots).
pub(crate) fn certificates(
    options: &RedisOptions,
) -> Result<Option<redis::TlsCertificates>, StoreError> {
    let read = |setting: &str, path: &Option<String>| {
        path.as_ref()
            .map(|p| std::fs::read(p).map_err(|e| StoreError(format!("{setting}: {}", e.kind()))))
            .transpose()
    };
    let root_cert = read("BFF_REDIS_CA_FILE", &options.ca_file)?;
    let cert = read("BFF_REDIS_CLIENT_CERT_FILE", &options.client_cert_file)?;
    let key = read("BFF_REDIS_CLIENT_KEY_FILE", &options.client_key_file)?;
    if root_cert.is_none() && cert.is_none() {
        return Ok(None);
    }
    let client_tls = cert
        .zip(key)
        .map(|(client_cert, client_key)| redis::ClientTlsConfig {
            client_cert,
            client_key,
        });
    Ok(Some(redis::TlsCertificates {
        client_tls,
        root_cert,
    }))
}

/// The TLS files could not be used (not PEM, key does not match …).
pub(crate) fn unusable(err: &redis::RedisError) -> StoreError {
    StoreError(format!(
        "Redis TLS files (BFF_REDIS_CA_FILE, BFF_REDIS_CLIENT_CERT_FILE, \
         BFF_REDIS_CLIENT_KEY_FILE) are unusable: {:?}",
        err.kind()
    ))
}
