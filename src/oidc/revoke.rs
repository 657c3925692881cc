//! Refresh-token revocation at logout (RFC 7009), best effort: it runs in
//! the background, bounded by the provider timeout, and its outcome is only
//! logged. The local logout never waits for it or fails because of it; the
//! session is already gone from the store.
//!
//! The request is built here rather than by the OAuth crate, which refuses
//! revocation endpoints that are not `https` (development providers and the
//! test suite's are plain http); HTTP itself is hyper's.

use std::sync::Arc;

use url::form_urlencoded::Serializer;
use zeroize::Zeroizing;

use super::client_auth;
use super::provider::{Provider, ProviderHandle};
use super::token_call::TokenCall;
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
        // The adapter bounds the exchange by BFF_PROVIDER_TIMEOUT; a
        // `private_key_jwt` client's assertion is added per attempt.
        let call = TokenCall::new(&handle, &provider.issuer, Endpoint::Revocation, None);
        match call.send(request).await {
            Ok(res) if res.status().is_success() => {
                tracing::debug!("refresh token revoked at the provider");
            }
            Ok(res) => tracing::warn!(status = res.status().as_u16(), "revocation refused"),
            Err(err) => tracing::warn!(error = %err, "refresh token revocation failed"),
        }
    });
}

/// RFC 7009 §2.1: a form POST of `token` with `token_type_hint`, the client
/// authenticated as at the token endpoint.
fn request(
    handle: &ProviderHandle,
    provider: &Provider,
    token: &str,
) -> Option<http::Request<Vec<u8>>> {
    let endpoint = provider.revocation.as_ref()?;
    let mut form = Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", "refresh_token");
    if !provider.basic_auth || handle.security().secret().is_none() {
        // RFC 6749 §2.3.1 (secret in the body) and RFC 7523 §2.2 name the
        // client in the form; Basic names it in the header.
        form.append_pair("client_id", handle.client_id());
    }
    let client = (handle.client_id(), provider.basic_auth);
    client_auth::authenticated_post(handle.security(), client, endpoint.as_str(), form).ok()
}
