//! One authenticated call to a provider endpoint (token, PAR, revocation),
//! as openidconnect's HTTP client or directly.
//!
//! Each attempt gets a fresh client assertion (`private_key_jwt`, RFC 7523)
//! and, for the token endpoint with a session key, a fresh DPoP proof
//! (RFC 9449 §5) carrying the provider's latest nonce. A `use_dpop_nonce`
//! refusal (RFC 9449 §8) is retried once with the nonce it names; every
//! `DPoP-Nonce` the provider sends is remembered for the next call.

use std::future::Future;
use std::pin::Pin;

use http::HeaderValue;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse, OAuth2TokenResponse as _};

use super::client_auth;
use super::http::{OidcHttp, OidcHttpError};
use super::provider::ProviderHandle;
use super::types::BffTokenResponse;
use crate::config::ClientAuth;
use crate::metrics::Endpoint;
use crate::session::now_unix;
use crate::signing::dpop_key::{DpopKey, htu};

/// RFC 9449 §4.1 / §8.1 header names.
const DPOP: &str = "dpop";
const DPOP_NONCE: &str = "dpop-nonce";

/// A call to one provider endpoint, authenticated as the client.
pub(crate) struct TokenCall<'a> {
    handle: &'a ProviderHandle,
    http: OidcHttp,
    issuer: &'a str,
    dpop: Option<&'a DpopKey>,
}

impl<'a> TokenCall<'a> {
    /// A call counted under `endpoint`, with proofs from `dpop` if given.
    pub(crate) fn new(
        handle: &'a ProviderHandle,
        issuer: &'a str,
        endpoint: Endpoint,
        dpop: Option<&'a DpopKey>,
    ) -> Self {
        Self {
            http: handle.http().for_endpoint(endpoint),
            handle,
            issuer,
            dpop,
        }
    }

    /// Sends `request`, retrying once when the provider demands a nonce.
    pub(crate) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, OidcHttpError> {
        let first = self.attempt(&request).await?;
        let demanded = self.learn_nonce(&first);
        match demanded {
            Some(true) if self.dpop.is_some() => {
                tracing::debug!("provider demands a DPoP nonce; retrying once");
                let second = self.attempt(&request).await?;
                self.learn_nonce(&second);
                Ok(second)
            }
            _ => Ok(first),
        }
    }

    /// One attempt: the request with a fresh assertion and proof.
    async fn attempt(&self, request: &HttpRequest) -> Result<HttpResponse, OidcHttpError> {
        let mut request = request.clone();
        let now = now_unix();
        let target = htu(request.uri());
        if let ClientAuth::PrivateKeyJwt(keys) = &self.handle.security().auth {
            let audience = client_auth::audience(self.handle.security(), self.issuer, &target);
            let assertion = client_auth::assertion(keys, self.handle.client_id(), audience, now)
                .map_err(|_err| OidcHttpError::Signing)?;
            client_auth::append_assertion(request.body_mut(), &assertion);
        }
        if let Some(key) = self.dpop {
            let nonce = self.handle.dpop_nonce();
            let proof = key
                .proof(
                    request.method().as_str(),
                    &target,
                    now,
                    None,
                    nonce.as_deref().map(String::as_str),
                )
                .map_err(|_err| OidcHttpError::Signing)?;
            let value = HeaderValue::from_str(&proof).map_err(|_err| OidcHttpError::Signing)?;
            request.headers_mut().insert(DPOP, value);
        }
        self.http.send(request).await
    }

    /// Remembers a `DPoP-Nonce` from `response`; `Some(true)` when the
    /// response is the `use_dpop_nonce` error (RFC 9449 §8).
    fn learn_nonce(&self, response: &HttpResponse) -> Option<bool> {
        let nonce = response.headers().get(DPOP_NONCE)?.to_str().ok()?;
        self.handle.set_dpop_nonce(nonce);
        let refused = response.status().is_client_error() && is_use_dpop_nonce(response.body());
        Some(refused)
    }
}

/// RFC 9449 §5: a token response to a request with a proof must say
/// `token_type: DPoP`; a `Bearer` answer means the provider did not bind
/// the token, and it must not be sent as if it were bound.
pub(crate) fn is_dpop_bound(tokens: &BffTokenResponse) -> bool {
    tokens.token_type().as_ref().eq_ignore_ascii_case("dpop")
}

/// Whether an OAuth error body (RFC 6749 §5.2) is `use_dpop_nonce`.
fn is_use_dpop_nonce(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: String,
    }
    serde_json::from_slice::<OAuthError>(body).is_ok_and(|e| e.error == "use_dpop_nonce")
}

/// openidconnect's HTTP client contract (boxed: see `OidcHttp`).
impl<'c> AsyncHttpClient<'c> for TokenCall<'_> {
    type Error = OidcHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OidcHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
