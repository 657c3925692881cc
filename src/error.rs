//! The one error taxonomy of the request path, and the single place where
//! errors become responses.
//!
//! Every failure is classified by [`Error`]; [`Error::into_response`] picks
//! the status, the body (an HTML page for navigations, JSON for API calls)
//! and never includes the underlying cause. The cause is logged once, by the
//! caller that owns the request, with structured fields and no tokens.

use http::{HeaderValue, Response, StatusCode, header};

use crate::http_util::{Body, json};
use crate::pages;

/// Which side of bff a failure came from; decides status and log level
/// (pingora's `ErrorSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The browser sent something wrong: 4xx, logged at debug.
    Client,
    /// The OpenID provider failed: 502/504, logged at warn.
    Provider,
    /// An upstream API failed: 502/504, logged at warn.
    Upstream,
    /// The session store failed: 503, logged at error.
    Store,
    /// A bug or misconfiguration in bff: 500, logged at error.
    Internal,
}

/// A request-path failure. The `&'static str` payloads are safe,
/// user-facing explanations; causes are logged, never rendered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Malformed or forged input (bad `state`, open redirect, …).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// No valid session.
    #[error("unauthenticated")]
    Unauthenticated,
    /// A CSRF or origin check failed.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No route matches the path.
    #[error("not found")]
    NotFound,
    /// The route does not allow this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request body is over the route's limit (RFC 9110 §15.5.14).
    #[error("payload too large")]
    PayloadTooLarge,
    /// A request header field is over bff's limit (RFC 6585 §5).
    #[error("request header fields too large")]
    HeadersTooLarge,
    /// The client stopped sending its request body (RFC 9110 §15.5.9).
    #[error("request timeout")]
    RequestTimeout,
    /// A login rate limit was hit (RFC 6585 §4); retry after this many
    /// seconds.
    #[error("too many requests")]
    TooManyRequests(u64),
    /// The provider is not discovered yet or answered badly.
    #[error("provider unavailable: {0}")]
    ProviderUnavailable(&'static str),
    /// The provider did not answer in time.
    #[error("provider timeout")]
    ProviderTimeout,
    /// The tokens could not be refreshed right now (provider or lock
    /// unavailable) and the old access token has expired: retry shortly.
    #[error("token refresh temporarily unavailable")]
    RefreshUnavailable,
    /// The session store did not answer; fail closed, keep the session.
    #[error("session store unavailable")]
    StoreUnavailable,
    /// The upstream could not be reached.
    #[error("upstream unavailable")]
    UpstreamUnavailable,
    /// The upstream did not answer within the route timeout.
    #[error("upstream timeout")]
    UpstreamTimeout,
    /// An internal failure (a bug, or a broken invariant).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

// === impl Error ===

impl From<crate::session::StoreError> for Error {
    /// Store failures fail closed (security case R2); the cause is logged here.
    fn from(err: crate::session::StoreError) -> Self {
        tracing::error!(error = %err, "session store failed");
        Self::StoreUnavailable
    }
}

impl Error {
    /// The side the failure came from.
    pub(crate) fn side(&self) -> Side {
        match self {
            Self::BadRequest(_)
            | Self::Unauthenticated
            | Self::Forbidden(_)
            | Self::NotFound
            | Self::MethodNotAllowed
            | Self::PayloadTooLarge
            | Self::HeadersTooLarge
            | Self::RequestTimeout
            | Self::TooManyRequests(_) => Side::Client,
            Self::ProviderUnavailable(_) | Self::ProviderTimeout => Side::Provider,
            Self::UpstreamUnavailable | Self::UpstreamTimeout => Side::Upstream,
            Self::StoreUnavailable => Side::Store,
            Self::RefreshUnavailable => Side::Provider,
            Self::Internal(_) => Side::Internal,
        }
    }

    /// The HTTP status for this failure.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::ProviderUnavailable(_) | Self::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Self::ProviderTimeout | Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::StoreUnavailable | Self::RefreshUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable code for JSON bodies and metrics.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::HeadersTooLarge => "request_header_fields_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::ProviderUnavailable(_) => "provider_unavailable",
            Self::ProviderTimeout => "provider_timeout",
            Self::StoreUnavailable => "session_store_unavailable",
            Self::RefreshUnavailable => "refresh_unavailable",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The user-facing explanation (never a cause, token or secret).
    pub(crate) fn public_message(&self) -> &'static str {
        match self {
            Self::BadRequest(m) | Self::Forbidden(m) => m,
            Self::Unauthenticated => "You are not signed in.",
            Self::NotFound => "There is nothing here.",
            Self::MethodNotAllowed => "This method is not allowed here.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::HeadersTooLarge => "The request headers are too large.",
            Self::RequestTimeout => "The request body did not arrive in time.",
            Self::TooManyRequests(_) => "Too many sign-in attempts. Please wait and try again.",
            Self::ProviderUnavailable(_) | Self::ProviderTimeout => {
                "The sign-in service is not answering. Please try again."
            }
            Self::StoreUnavailable | Self::RefreshUnavailable => {
                "Sessions are briefly unavailable. Please try again."
            }
            Self::UpstreamUnavailable | Self::UpstreamTimeout => "The service is not answering.",
            Self::Internal(_) => "Something went wrong on our side.",
        }
    }

    /// Renders the failure: an HTML page for navigations, JSON otherwise,
    /// both naming the request id (what a user quotes to an operator).
    /// `login_url` is added to 401 JSON bodies so SPAs know where to go.
    pub(crate) fn into_response(
        self,
        navigation: bool,
        login_url: &str,
        request_id: &str,
    ) -> Response<Body> {
        let status = self.status();
        let retry_after = match self {
            Self::TooManyRequests(secs) => Some(secs.max(1)),
            _ => (status == StatusCode::SERVICE_UNAVAILABLE).then_some(1),
        };
        let mut res = if navigation {
            pages::error_page(status, self.public_message(), request_id)
        } else {
            let mut body = serde_json::json!({
                "error": self.code(),
                "message": self.public_message(),
                "request_id": request_id,
            });
            if matches!(self, Self::Unauthenticated) {
                body["login_url"] = serde_json::Value::from(login_url);
            }
            json(status, &body)
        };
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }

    /// Logs the failure once, at a level chosen by its side.
    pub(crate) fn log(&self, context: &'static str) {
        match self.side() {
            Side::Client => tracing::debug!(error = %self, context, "request rejected"),
            Side::Provider | Side::Upstream => {
                tracing::warn!(error = %self, context, "dependency failed")
            }
            Side::Store | Side::Internal => {
                tracing::error!(error = %self, context, "request failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn unauthenticated_json_carries_login_url_and_no_cause() {
        let res = Error::Unauthenticated.into_response(false, "/auth/login", "rid-1");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["error"], "unauthenticated");
        assert_eq!(value["login_url"], "/auth/login");
        assert_eq!(value["request_id"], "rid-1");
    }

    #[test]
    fn store_failures_ask_the_client_to_retry() {
        let res = Error::StoreUnavailable.into_response(false, "/auth/login", "rid-1");
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "1");
    }
}
