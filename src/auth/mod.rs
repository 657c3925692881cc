//! Authentication: the OpenID provider and the `/auth/*` endpoints
//! (login, callback, session info, logout).

pub mod backchannel;
pub mod callback;
pub mod id_token;
pub mod login;
pub mod logout;
pub mod logout_token;
pub mod oidc_http;
pub mod provider;
pub mod refresh;
pub mod return_to;
pub mod session_info;
pub mod types;

use crate::error::Error;

/// An OpenID Connect failure, classified for the error page.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
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
    /// The ID token failed validation (reason has no token material).
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
}

impl OidcError {
    /// Classifies a token-endpoint failure from openidconnect.
    pub fn from_token_error<RE: std::error::Error + 'static>(
        err: &openidconnect::RequestTokenError<
            RE,
            openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
        >,
    ) -> Self {
        use openidconnect::RequestTokenError as E;
        match err {
            E::ServerResponse(resp) => Self::Rejected(resp.error().as_ref().to_owned()),
            E::Request(source) if is_timeout(source) => Self::Timeout,
            E::Request(_) => Self::Unavailable("token endpoint unreachable"),
            E::Parse(..) => Self::Unavailable("unparsable token response"),
            E::Other(_) => Self::Unavailable("unexpected token response"),
        }
    }

    /// The request-path error for a failed login step.
    pub fn into_login_error(self) -> Error {
        match self {
            Self::Rejected(_) | Self::InvalidIdToken(_) | Self::UnknownSigningKey => {
                Error::BadRequest("Sign-in could not be completed. Please try again.")
            }
            Self::Timeout => Error::ProviderTimeout,
            Self::Unavailable(what) => Error::ProviderUnavailable(what),
        }
    }
}

fn is_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        err.downcast_ref::<oidc_http::OidcHttpError>(),
        Some(oidc_http::OidcHttpError::Timeout)
    )
}
