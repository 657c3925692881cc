//! One refresh-token grant (RFC 6749 §6) and the session it produces.
//!
//! A new ID token, if the provider sends one, is validated like at login,
//! except that its `nonce` must be absent or equal to the original, and
//! its `sub` must not change (OIDC Core §12.2, security case F5). Missing
//! new ID or refresh tokens keep the old ones.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::{Nonce, OAuth2TokenResponse, RefreshToken, TokenResponse as _};
use subtle::ConstantTimeEq as _;

use crate::metrics::Endpoint;
use crate::oidc::OidcError;
use crate::oidc::id_token;
use crate::oidc::provider::{Provider, ProviderHandle};
use crate::oidc::token_call::{self, TokenCall};
use crate::oidc::types::BffTokenResponse;
use crate::session::{SessionData, now_unix};

/// `expires_in` assumed when the provider omits it (RFC 6749 §5.1 makes it optional).
const DEFAULT_EXPIRES_IN: i64 = 300;

/// Why a refresh failed.
#[derive(Debug)]
pub(crate) enum RefreshFailure {
    /// The grant is dead (`invalid_grant`, `invalid_client`) or the new ID
    /// token is invalid: end the session.
    Fatal(String),
    /// Timeout, 5xx, garbage: keep the session and try again later.
    Transient(String),
    /// The grant worked, but the new ID token names a signing key that even
    /// a re-discovery did not find (the provider is mid key rotation). Its
    /// tokens must not be saved unverified (security case F5), nor thrown
    /// away (the old refresh token may be dead): the caller holds them,
    /// unsaved, and [`settle`]s them again on the next attempt.
    Unverified(Box<Unverified>),
}

/// A refresh response whose ID token could not be checked yet.
#[derive(Debug, Clone)]
pub(crate) struct Unverified {
    /// The session as it would be saved, minus the new ID token.
    next: SessionData,
    /// The provider's response, kept for the ID token and its `at_hash`.
    tokens: BffTokenResponse,
}

/// When an access token expires: `expires_in` from the response, or the
/// JWT `exp` if the token is a JWT and that is sooner. The `exp` is only a
/// scheduling hint (the upstream validates the token), never trusted for
/// access decisions.
pub(crate) fn access_expiry(tokens: &BffTokenResponse, now: i64) -> i64 {
    let from_response = tokens.expires_in().map_or(DEFAULT_EXPIRES_IN, |d| {
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
    });
    let by_response = now.saturating_add(from_response);
    jwt_exp(tokens.access_token().secret()).map_or(by_response, |exp| exp.min(by_response))
}

fn jwt_exp(token: &str) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: i64,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Exp>(&bytes).ok().map(|e| e.exp)
}

/// Runs the refresh grant for `current` and returns the next session
/// (version + 1, same absolute expiry).
pub(crate) async fn refresh(
    handle: &ProviderHandle,
    provider: &Arc<Provider>,
    current: &SessionData,
) -> Result<SessionData, RefreshFailure> {
    let dpop = match (&current.dpop, current.dpop_key()) {
        (Some(_), None) => return Err(RefreshFailure::Fatal("unusable DPoP key".into())),
        (_, key) => key,
    };
    let call = TokenCall::new(handle, &provider.issuer, Endpoint::Token, dpop.as_ref());
    let tokens = request(provider, &call, current).await?;
    if dpop.is_some() && !token_call::is_dpop_bound(&tokens) {
        // RFC 9449 §5: an unbound token must not replace a bound one, and
        // a rotated refresh token came with it: the grant is lost.
        return Err(RefreshFailure::Fatal(
            "the provider answered a DPoP refresh with an unbound token".into(),
        ));
    }
    let next = next_tokens(current, &tokens);
    settle(handle, provider, current, Unverified { next, tokens }).await
}

/// Validates the new ID token of a refresh response, if there is one, and
/// returns the session to save.
pub(crate) async fn settle(
    handle: &ProviderHandle,
    provider: &Arc<Provider>,
    current: &SessionData,
    held: Unverified,
) -> Result<SessionData, RefreshFailure> {
    let Unverified { mut next, tokens } = held;
    if tokens.id_token().is_none() {
        return Ok(next);
    }
    let checked = handle
        .check_with_rediscovery(
            Arc::clone(provider),
            |p| verify_refreshed(p, current, &tokens),
            |e| matches!(e, OidcError::UnknownSigningKey),
        )
        .await;
    next.id_token = match checked {
        Ok(id_token) => id_token,
        Err(OidcError::UnknownSigningKey) => {
            return Err(RefreshFailure::Unverified(Box::new(Unverified {
                next,
                tokens,
            })));
        }
        // Only its time window failed (clock skew between bff and the
        // provider): the grant itself is good, so keep the previous ID
        // token; never end a session over a clock.
        Err(OidcError::StaleIdToken(reason)) => {
            tracing::warn!(
                reason,
                "refreshed ID token outside its time window; keeping the previous one"
            );
            current.id_token.clone()
        }
        // A refreshed ID token that fails validation (also after a
        // re-discovery found its key) ends the session (OIDC Core
        // §12.2; security case F5).
        Err(err) => return Err(RefreshFailure::Fatal(err.to_string())),
    };
    Ok(next)
}

async fn request(
    provider: &Provider,
    http: &TokenCall<'_>,
    current: &SessionData,
) -> Result<BffTokenResponse, RefreshFailure> {
    let refresh_token = current
        .refresh_token
        .clone()
        .ok_or_else(|| RefreshFailure::Fatal("no refresh token".into()))?;
    let refresh_token = RefreshToken::new(refresh_token);
    let request = provider
        .client
        .exchange_refresh_token(&refresh_token)
        .map_err(|_err| RefreshFailure::Transient("provider has no token endpoint".into()))?;
    request
        .request_async(http)
        .await
        .map_err(|err| classify(&OidcError::from_token_error(&err)))
}

fn classify(err: &OidcError) -> RefreshFailure {
    match err {
        // Only these end a session (architecture: "Refresh without races").
        OidcError::Rejected(code) if code == "invalid_grant" || code == "invalid_client" => {
            RefreshFailure::Fatal(err.to_string())
        }
        other => RefreshFailure::Transient(other.to_string()),
    }
}

/// `current` with the new access token (and refresh token, if rotated).
fn next_tokens(current: &SessionData, tokens: &BffTokenResponse) -> SessionData {
    let now = now_unix();
    let mut next = current.clone();
    next.version = current.version + 1;
    next.access_token = tokens.access_token().secret().clone();
    next.access_expires_at = access_expiry(tokens, now);
    next.access_issued_at = now;
    if let Some(rotated) = tokens.refresh_token() {
        next.refresh_token = Some(rotated.secret().clone());
    }
    next
}

/// Validates a refreshed ID token; returns it in compact form.
fn verify_refreshed(
    provider: &Provider,
    current: &SessionData,
    tokens: &BffTokenResponse,
) -> Result<String, OidcError> {
    let id_token = tokens
        .id_token()
        .ok_or(OidcError::InvalidIdToken("no ID token".into()))?;
    {
        let original = current.nonce.clone();
        // OIDC Core §12.2: the nonce of a refreshed ID token should be absent; if present, equal.
        let nonce_rule = move |nonce: Option<&Nonce>| match nonce {
            None => Ok(()),
            Some(n) if bool::from(n.secret().as_bytes().ct_eq(original.as_bytes())) => Ok(()),
            Some(_) => Err("nonce differs from the original".to_owned()),
        };
        let claims = id_token::verify(provider, tokens, nonce_rule)?;
        if claims.subject().as_str() != current.sub {
            return Err(OidcError::InvalidIdToken(
                "refreshed ID token has another sub".into(),
            ));
        }
    }
    Ok(id_token.to_string())
}

#[cfg(test)]
mod tests {
    use super::jwt_exp;

    #[test]
    fn jwt_exp_reads_the_claim_or_gives_up() {
        // {"alg":"none"}.{"exp":1700000000}.
        assert_eq!(
            jwt_exp("eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9."),
            Some(1_700_000_000)
        );
        assert_eq!(jwt_exp("opaque-token"), None);
        assert_eq!(jwt_exp("a.!!!.c"), None);
    }
}
