//! ID-token validation beyond what openidconnect checks by itself.
//!
//! openidconnect verifies the signature against the JWKS, `iss`, `aud`
//! (rejecting untrusted extra audiences), `exp` and `nonce`. bff adds: an
//! asymmetric-only algorithm allow-list (never `none`, never HS*: security
//! case I1), an `iat` window (I4), `azp` (OIDC Core §3.1.3.7 steps 4–5,
//! which the crate leaves out) and `at_hash` (§3.2.2.9).

use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
use openidconnect::{
    AccessTokenHash, Nonce, NonceVerifier, OAuth2TokenResponse, TokenResponse as _,
};

use super::OidcError;
use super::provider::Provider;
use super::types::{BffIdTokenClaims, BffTokenResponse};

/// Signature algorithms bff accepts for ID tokens (asymmetric only).
pub(crate) const ALLOWED_ALGS: [Alg; 9] = [
    Alg::RsaSsaPkcs1V15Sha256,
    Alg::RsaSsaPkcs1V15Sha384,
    Alg::RsaSsaPkcs1V15Sha512,
    Alg::RsaSsaPssSha256,
    Alg::RsaSsaPssSha384,
    Alg::RsaSsaPssSha512,
    Alg::EcdsaP256Sha256,
    Alg::EcdsaP384Sha384,
    Alg::EdDsa,
];

/// Validates the ID token of a code exchange against `nonce`
/// (OIDC Core §3.1.3.7) and returns its claims.
pub(crate) fn verify_login(
    provider: &Provider,
    tokens: &BffTokenResponse,
    nonce: &Nonce,
) -> Result<BffIdTokenClaims, OidcError> {
    verify(provider, tokens, nonce)
}

/// Validates an ID token with any nonce rule (refresh: absent or equal,
/// OIDC Core §12.2).
pub(crate) fn verify<N: NonceVerifier>(
    provider: &Provider,
    tokens: &BffTokenResponse,
    nonce: N,
) -> Result<BffIdTokenClaims, OidcError> {
    let id_token = tokens.id_token().ok_or(OidcError::InvalidIdToken(
        "no ID token in the token response".into(),
    ))?;
    let client_id = provider.client.client_id().clone();
    let verifier = provider
        .client
        .id_token_verifier()
        .set_allowed_algs(if provider.fapi2 {
            super::profile::FAPI2_ALGS.to_vec()
        } else {
            ALLOWED_ALGS.to_vec()
        })
        .set_issue_time_verifier_fn(|iat| iat_window(iat.timestamp()));
    let claims = id_token.claims(&verifier, nonce).map_err(classify)?.clone();
    // OIDC Core §3.1.3.7 steps 4-5: azp must be our client_id when present,
    // and present when there are several audiences.
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != client_id.as_str() => {
            return Err(OidcError::InvalidIdToken("azp is not this client".into()));
        }
        None if claims.audiences().len() > 1 => {
            return Err(OidcError::InvalidIdToken(
                "several audiences and no azp".into(),
            ));
        }
        _ => {}
    }
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
        if actual != *expected {
            return Err(OidcError::InvalidIdToken(
                "at_hash does not match the access token".into(),
            ));
        }
    }
    Ok(claims)
}

fn classify(err: openidconnect::ClaimsVerificationError) -> OidcError {
    use openidconnect::{ClaimsVerificationError as C, SignatureVerificationError as S};
    match err {
        C::SignatureVerification(S::NoMatchingKey) => OidcError::UnknownSigningKey,
        // openidconnect checks signature, `iss` and `aud` before `exp` and
        // `iat` (OIDC Core §3.1.3.7 steps 2–10), so these passed.
        C::Expired(reason) => OidcError::StaleIdToken(reason),
        other => OidcError::InvalidIdToken(other.to_string()),
    }
}

/// Largest clock skew tolerated for `iat` in the future.
const FUTURE_LEEWAY_SECS: i64 = 60;
/// Oldest `iat` accepted: an ID token is fetched right after it is issued.
const MAX_AGE_SECS: i64 = 15 * 60;

/// Rejects an `iat` more than 60 s in the future or older than 15 min
/// (OIDC Core §3.1.3.7 step 10; security case I4).
fn iat_window(iat_unix: i64) -> Result<(), String> {
    let age = crate::session::now_unix() - iat_unix;
    if age < -FUTURE_LEEWAY_SECS {
        return Err("iat is in the future".into());
    }
    if age > MAX_AGE_SECS {
        return Err("iat is too old".into());
    }
    Ok(())
}
