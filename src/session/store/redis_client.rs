//! How bff's Redis client is built from `BFF_REDIS_URL` and the TLS
//! settings.

use super::StoreError;
use crate::config::RedisOptions;

/// A client for `url`; with `rediss://`, TLS verified against the
/// configured CA (else the system roots) and, if configured, a client
/// certificate (mutual TLS). Never a fallback to plaintext (case R8).
pub(crate) fn client(url: &str, options: &RedisOptions) -> Result<redis::Client, StoreError> {
    let bad_url = |e: redis::RedisError| StoreError(format!("bad Redis URL: {:?}", e.kind()));
    let read = |setting: &str, path: &Option<String>| {
        path.as_ref()
            .map(|p| std::fs::read(p).map_err(|e| StoreError(format!("{setting}: {}", e.kind()))))
            .transpose()
    };
    let root_cert = read("BFF_REDIS_CA_FILE", &options.ca_file)?;
    let cert = read("BFF_REDIS_CLIENT_CERT_FILE", &options.client_cert_file)?;
    let key = read("BFF_REDIS_CLIENT_KEY_FILE", &options.client_key_file)?;
    if root_cert.is_none() && cert.is_none() {
        return redis::Client::open(url).map_err(bad_url);
    }
    let client_tls = cert
        .zip(key)
        .map(|(client_cert, client_key)| redis::ClientTlsConfig {
            client_cert,
            client_key,
        });
    let certificates = redis::TlsCertificates {
        client_tls,
        root_cert,
    };
    redis::Client::build_with_tls(url, certificates).map_err(|e| {
        StoreError(format!(
            "Redis TLS files (BFF_REDIS_CA_FILE, BFF_REDIS_CLIENT_CERT_FILE, \
             BFF_REDIS_CLIENT_KEY_FILE) are unusable: {:?}",
            e.kind()
        ))
    })
}
