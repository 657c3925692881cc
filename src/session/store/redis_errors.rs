//! Redis failures as [`StoreError`]s that are safe to log: the error kind
//! and server code only (messages can echo command arguments), except TLS
//! handshake failures, which name their cause and the setting to check
//! (case R8: a TLS failure is a configuration error that stops start-up).

use super::StoreError;

/// Marks a TLS handshake failure in a [`StoreError`]'s text.
pub(crate) const TLS_FAILURE: &str = "Redis TLS handshake failed";

/// A refused user or password, with the settings that hold them.
const AUTH_FAILURE: &str = "redis: AuthenticationFailed (check the user and password in \
                            BFF_REDIS_URL and, behind Sentinel, BFF_REDIS_SENTINEL_PASSWORD)";

/// A Redis error, reported by kind only, or as a TLS failure.
pub(crate) fn redis_error(err: redis::RedisError) -> StoreError {
    if let Some(tls) = tls_cause(&err) {
        return StoreError(format!("{TLS_FAILURE}: {tls}"));
    }
    if let Some(cause) = initial_connection_cause(&err) {
        return StoreError(cause.to_owned());
    }
    if err.kind() == redis::ErrorKind::AuthenticationFailed {
        return StoreError(AUTH_FAILURE.to_owned());
    }
    match err.code() {
        Some(code) => StoreError(format!("redis: {:?} {code}", err.kind())),
        None => StoreError(format!("redis: {:?}", err.kind())),
    }
}

/// The rustls error behind an I/O failure, explained with the setting to
/// check. redis keeps the I/O error in an `Arc<dyn Error>`, and an
/// `io::Error`'s `source` skips its payload, so both are opened by hand.
fn tls_cause(err: &redis::RedisError) -> Option<String> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let source = std::error::Error::source(err)?;
    let io = match source.downcast_ref::<Shared>() {
        Some(shared) => shared.downcast_ref::<std::io::Error>(),
        None => source.downcast_ref::<std::io::Error>(),
    }?;
    io.get_ref()?.downcast_ref::<rustls::Error>().map(explain)
}

/// Why a cluster's first connections failed: the redis crate folds each
/// node's error into the text of one `Io` error, so the cause is told by
/// markers in it (the text itself is never passed on: it may name hosts).
fn initial_connection_cause(err: &redis::RedisError) -> Option<&'static str> {
    let detail = err.detail()?;
    let any = |markers: &[&str]| markers.iter().any(|m| detail.contains(m));
    if any(&["AuthenticationFailed", "WRONGPASS", "NOAUTH"]) {
        Some(AUTH_FAILURE)
    } else if any(&["certificate", "Certificate", "tls handshake", "TLS"]) {
        Some(
            "Redis TLS handshake failed: check BFF_REDIS_CA_FILE, the host names the \
             cluster announces and the client certificate",
        )
    } else {
        None
    }
}

fn explain(err: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let hint = match err {
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the certificate does not name the host in BFF_REDIS_URL"
        }
        E::InvalidCertificate(_) => {
            "Redis's certificate does not chain to BFF_REDIS_CA_FILE (or the system roots)"
        }
        E::AlertReceived(A::CertificateRequired | A::BadCertificate | A::HandshakeFailure) => {
            "Redis wants a client certificate: set BFF_REDIS_CLIENT_CERT_FILE and \
             BFF_REDIS_CLIENT_KEY_FILE (signed by a CA Redis trusts)"
        }
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "no TLS answered on that port: is it Redis's TLS port?"
        }
        _ => "check BFF_REDIS_CA_FILE, the host in BFF_REDIS_URL and the client certificate",
    };
    format!("{err}; {hint}")
}
