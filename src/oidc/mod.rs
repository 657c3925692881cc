//! Talking to the OpenID provider: discovery and the hot-swappable
//! client ([`provider`]), its HTTP client ([`http`]), authenticated calls
//! with client assertions and DPoP proofs ([`token_call`]), pushed
//! authorization requests ([`par`]), the profile check ([`profile`]),
//! ID-token and logout-token validation, and the failures those can have.

pub(crate) mod client_auth;
pub(crate) mod http;
pub(crate) mod id_token;
pub(crate) mod logout_token;
pub(crate) mod par;
pub(crate) mod profile;
pub(crate) mod provider;
pub(crate) mod revoke;
pub(crate) mod token_call;
pub(crate) mod types;

use crate::error::Error;

/// An OpenID Connect failure, classified for the error page.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OidcError {
    /// The token endpoint refused (`invalid_grant`, `invalid_client`, …).
    #[error("token endpoint refused: {0}")]
    Rejected(String),
    /// The provider did not answer in time.
    #[error("provider timed out")]
    Timeout,
    /// The provider could not be reached or answered garbage.
    #[error("provider failed: {0}")]
    Unavailable(&'static str),
    /// The ID token names a key the cached JWKS lacks (re-discover once).
    #[error("ID token signed with an unknown key")]
    UnknownSigningKey,
    /// The ID token is outside its time window (`exp` passed, `iat` too
    /// old or in the future) but its signature, `iss` and `aud` held.
    #[error("stale ID token: {0}")]
    StaleIdToken(String),
    /// The ID token failed validation (reason has no token material).
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
}

impl OidcError {
    /// Classifies a token-endpoint failure from openidconnect.
    pub(crate) fn from_token_error<RE: std::error::Error + 'static>(
        err: &openidconnect::RequestTokenError<
            RE,
            openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
        >,
    ) -> Self {
        use openidconnect::RequestTokenError as E;
        match err {
            E::ServerResponse(resp) => Self::Rejected(resp.error().as_ref().to_owned()),
            E::Request(source) => match source_of(source) {
                Some(http::OidcHttpError::Timeout) => Self::Timeout,
                Some(http::OidcHttpError::ServerError(_)) => {
                    Self::Unavailable("token endpoint answered 5xx")
                }
                _ => Self::Unavailable("token endpoint unreachable"),
            },
            E::Parse(..) => Self::Unavailable("unparsable token response"),
            E::Other(_) => Self::Unavailable("unexpected token response"),
        }
    }

    /// The request-path error for a failed login step.
    pub(crate) fn into_login_error(self) -> Error {
        match self {
            Self::Rejected(_)
            | Self::InvalidIdToken(_)
            | Self::StaleIdToken(_)
            | Self::UnknownSigningKey => {
                Error::BadRequest("Sign-in could not be completed. Please try again.")
            }
            Self::Timeout => Error::ProviderTimeout,
            Self::Unavailable(what) => Error::ProviderUnavailable(what),
        }
    }
}

fn source_of<'e>(err: &'e (dyn std::error::Error + 'static)) -> Option<&'e http::OidcHttpError> {
    err.downcast_ref::<http::OidcHttpError>()
}
