//! Refresh-token revocation at logout (RFC 7009), best effort: it runs in
//! the background, bounded by the provider timeout, and its outcome is only
//! logged. The local logout never waits for it or fails because of it; the
//! session is already gone from the store.
//!
//! The request is built here rather than by the OAuth crate, which refuses
//! revocation endpoints that are not `https` (development providers and the
//! test suite's are plain http); HTTP itself is hyper's.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use url::form_urlencoded::{Serializer, byte_serialize};
use zeroize::Zeroizing;

use super::provider::{Provider, ProviderHandle};
use crate::metrics::Endpoint;

/// Revokes `refresh_token` at the provider's `revocation_endpoint`, if
/// discovery advertised one, without blocking the caller.
pub(crate) fn revoke_in_background(handle: &Arc<ProviderHandle>, refresh_token: String) {
    let Some(provider) = handle.current() else {
        return;
    };
    let refresh_token = Zeroizing::new(refresh_token);
    let Some(request) = request(handle, &provider, &refresh_token) else {
        return;
    };
    let handle = Arc::clone(handle);
    tokio::spawn(async move {
        // The adapter bounds the exchange by BFF_PROVIDER_TIMEOUT.
        let http = handle.http().for_endpoint(Endpoint::Revocation);
        match http.send(request).await {
            Ok(res) if res.status().is_success() => {
                tracing::debug!("refresh token revoked at the provider");
            }
            Ok(res) => tracing::warn!(status = res.status().as_u16(), "revocation refused"),
            Err(err) => tracing::warn!(error = %err, "refresh token revocation failed"),
        }
    });
}

/// RFC 7009 §2.1: a form POST of `token` with `token_type_hint`, the client
/// authenticated as at the token endpoint (RFC 6749 §2.3.1: Basic with
/// form-encoded credentials, or both in the body).
fn request(
    handle: &ProviderHandle,
    provider: &Provider,
    token: &str,
) -> Option<http::Request<Vec<u8>>> {
    let endpoint = provider.revocation.as_ref()?;
    let (client_id, secret) = handle.credentials();
    let mut form = Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", "refresh_token");
    let mut builder = http::Request::post(endpoint.as_str())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    if provider.basic_auth {
        let id: String = byte_serialize(client_id.as_bytes()).collect();
        let secret: Zeroizing<String> = Zeroizing::new(byte_serialize(secret.as_bytes()).collect());
        let basic = Zeroizing::new(STANDARD.encode(format!("{id}:{}", secret.as_str())));
        builder = builder.header(AUTHORIZATION, format!("Basic {}", basic.as_str()));
    } else {
        form.append_pair("client_id", client_id)
            .append_pair("client_secret", secret);
    }
    builder.body(form.finish().into_bytes()).ok()
}
