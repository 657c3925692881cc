//! The HTTP adapter openidconnect calls for discovery, JWKS and the token
//! endpoint: our pooled client, a hard timeout, and a capped body read
//! (security case I8: a 10 MB token response is refused, not buffered;
//! a 5xx is a provider failure, never a verdict on the grant).

use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use std::future::Future;
use std::pin::Pin;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use tracing::Instrument as _;

use crate::http_client::HttpClient;
use crate::http_util::full;
use crate::metrics::{Endpoint, ProviderMetrics};

/// Largest provider response bff reads (discovery, JWKS, tokens).
pub(crate) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Why a provider request failed (no URL or body is kept: they can carry
/// codes and tokens).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OidcHttpError {
    /// No answer within the timeout.
    #[error("provider request timed out")]
    Timeout,
    /// Connection or protocol failure.
    #[error("provider unreachable")]
    Transport,
    /// The body was larger than [`MAX_RESPONSE_BYTES`] or broke off.
    #[error("provider response too large or truncated")]
    Body,
    /// A 5xx answer: the provider failed, whatever its body says (an OAuth
    /// error response is 400 or 401, RFC 6749 §5.2), so it is never read
    /// as a rejection of the client or the grant (security case I8).
    #[error("provider answered {0}")]
    ServerError(http::StatusCode),
    /// A client assertion or DPoP proof could not be signed.
    #[error("cannot sign the client assertion or DPoP proof")]
    Signing,
}

/// Sends provider requests through the shared client, each timed and
/// counted under the endpoint it went to.
#[derive(Clone)]
pub(crate) struct OidcHttp {
    client: HttpClient,
    timeout: Duration,
    metrics: ProviderMetrics,
    /// The `endpoint` label of calls that are not discovery documents.
    endpoint: Endpoint,
}

impl OidcHttp {
    /// An adapter over `client` with a per-request `timeout`; its calls
    /// count as token-endpoint calls until [`Self::for_endpoint`].
    pub(crate) fn new(client: HttpClient, timeout: Duration, metrics: ProviderMetrics) -> Self {
        Self {
            client,
            timeout,
            metrics,
            endpoint: Endpoint::Token,
        }
    }

    /// The same adapter, its calls counted under `endpoint`.
    pub(crate) fn for_endpoint(&self, endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            ..self.clone()
        }
    }

    /// Performs one request (openidconnect's `AsyncHttpClient` contract).
    pub(crate) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, OidcHttpError> {
        let endpoint = if request
            .uri()
            .path()
            .ends_with("/.well-known/openid-configuration")
        {
            Endpoint::Discovery
        } else {
            self.endpoint
        };
        let started = std::time::Instant::now();
        let span = tracing::debug_span!("provider", endpoint = endpoint.label());
        let result = self.exchange(request).instrument(span).await;
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.observe(endpoint, seconds, result.is_err());
        result
    }

    /// One request under the timeout, the body read capped.
    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, OidcHttpError> {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, full(body));
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|_err| OidcHttpError::Transport)?;
            let (parts, body) = response.into_parts();
            if parts.status.is_server_error() {
                return Err(OidcHttpError::ServerError(parts.status));
            }
            let bytes = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|_err| OidcHttpError::Body)?
                .to_bytes();
            Ok(http::Response::from_parts(parts, bytes.to_vec()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_err| OidcHttpError::Timeout)?
    }
}

/// A named `AsyncHttpClient` (a closure would make the futures that use it
/// lose `Send` through higher-ranked lifetimes).
impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = OidcHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OidcHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
