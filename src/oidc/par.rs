//! Pushed Authorization Requests (RFC 9126): the login's authorization
//! request (PKCE S256, `state`, `nonce`, scopes, as openidconnect built it)
//! is POSTed to the provider over the back channel, authenticated as the
//! client (§2.1), and the browser is sent with only `client_id` and the
//! one-time `request_uri` it got back (§4). Nothing of the request is
//! visible to, or alterable by, the browser.

use serde::Deserialize;
use url::Url;
use url::form_urlencoded::Serializer;

use super::client_auth;
use super::provider::{Provider, ProviderHandle};
use super::token_call::TokenCall;
use crate::error::Error;
use crate::metrics::Endpoint;

/// RFC 9126 §2.3: an error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

/// RFC 9126 §2.2: the provider's answer.
#[derive(Deserialize)]
struct PushResponse {
    request_uri: String,
}

/// Pushes the request `authorize` carries to `endpoint` and returns the
/// URL the browser goes to.
pub(crate) async fn push(
    handle: &ProviderHandle,
    provider: &Provider,
    endpoint: &Url,
    authorize: &Url,
) -> Result<Url, Error> {
    let request = request(handle, provider, endpoint, authorize)?;
    let call = TokenCall::new(handle, &provider.issuer, Endpoint::Par, None);
    let response = call.send(request).await.map_err(|err| {
        tracing::warn!(error = %err, "pushed authorization request failed");
        Error::ProviderUnavailable("pushed authorization request failed")
    })?;
    // RFC 9126 §2.2: success is 201 Created; an error is §2.3's JSON.
    if response.status() != http::StatusCode::CREATED {
        // Only the OAuth error code is logged: a description may echo the
        // request's parameters.
        let error = serde_json::from_slice::<OAuthError>(response.body())
            .map_or_else(|_err| String::from("-"), |e| e.error);
        let status = response.status().as_u16();
        tracing::warn!(status, error, "pushed authorization request refused");
        return Err(Error::ProviderUnavailable(
            "pushed authorization request refused",
        ));
    }
    let pushed: PushResponse = serde_json::from_slice(response.body())
        .map_err(|_err| Error::ProviderUnavailable("unparsable PAR response"))?;
    let mut url = authorize.clone();
    url.set_query(None);
    url.query_pairs_mut()
        .append_pair("client_id", handle.client_id())
        .append_pair("request_uri", &pushed.request_uri);
    Ok(url)
}

/// RFC 9126 §2.1: the authorization request's parameters as a form,
/// the client authenticated as at the token endpoint.
fn request(
    handle: &ProviderHandle,
    provider: &Provider,
    endpoint: &Url,
    authorize: &Url,
) -> Result<http::Request<Vec<u8>>, Error> {
    let mut form = Serializer::new(String::new());
    // RFC 9126 §2.1: every authorization request parameter, `client_id`
    // included, goes in the body.
    for (name, value) in authorize.query_pairs() {
        form.append_pair(&name, &value);
    }
    let client = (handle.client_id(), provider.basic_auth);
    client_auth::authenticated_post(handle.security(), client, endpoint.as_str(), form)
        .map_err(|_err| Error::Internal("PAR request"))
}
