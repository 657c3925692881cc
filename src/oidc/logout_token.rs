//! Logout-token validation (OIDC Back-Channel Logout 1.0 §2.4, §2.6).
//!
//! The signature is checked with the provider's JWKS through
//! openidconnect's key types, with the same asymmetric-only algorithm
//! allow-list as ID tokens (never `none`, never HS*: security case O3).
//! Then: `typ` is `logout+jwt` or `JWT` (§4.1), `iss` exact, `aud`
//! contains our client, `iat` recent, `exp` not passed, `events` holds the
//! back-channel-logout event, `sub` and/or `sid` present, and no `nonce`
//! (so an ID token can never pass as a logout token: case O5).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey as _;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use serde::Deserialize;
use serde_json::Value;

use super::id_token::ALLOWED_ALGS;
use super::provider::Provider;

/// The event a logout token must carry (§2.4).
pub(crate) const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Largest logout token accepted.
pub(crate) const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock-skew leeway for `iat` and `exp`.
const LEEWAY_SECS: i64 = 60;
/// Oldest `iat` accepted.
const MAX_AGE_SECS: i64 = 600;

/// Why a logout token was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LogoutTokenError {
    /// Malformed or failing a check (the reason is safe to log).
    #[error("invalid logout token: {0}")]
    Invalid(&'static str),
    /// Signed with a key the cached JWKS lacks (re-discover once).
    #[error("logout token signed with an unknown key")]
    UnknownKey,
}

/// A validated logout token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogoutToken {
    /// Subject, if present.
    pub(crate) sub: Option<String>,
    /// Provider session ID, if present.
    pub(crate) sid: Option<String>,
    /// Token ID, for replay blocking.
    pub(crate) jti: Option<String>,
    /// Expiry (Unix seconds).
    pub(crate) exp: i64,
}

#[derive(Deserialize)]
struct Header {
    alg: Value,
    kid: Option<String>,
    typ: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Value>,
    iat: Option<i64>,
    exp: Option<i64>,
    jti: Option<String>,
    events: Option<serde_json::Map<String, Value>>,
    sub: Option<String>,
    sid: Option<String>,
    /// `Some` whenever the claim is present, `null` included (§2.4: a
    /// logout token must not carry one at all).
    #[serde(default, deserialize_with = "present")]
    nonce: Option<Value>,
}

/// A claim that is present, whatever its value (`null` too).
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(value).map(Some)
}

use LogoutTokenError::Invalid;

/// Validates `token` for `client_id` against `provider` at time `now`.
pub(crate) fn validate(
    provider: &Provider,
    client_id: &str,
    token: &str,
    now: i64,
) -> Result<LogoutToken, LogoutTokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Invalid("too large"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid("not a compact JWS"));
    };
    let header: Header = decode_json(header)?;
    check_typ(header.typ.as_deref())?;
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(header.alg).map_err(|_err| Invalid("unknown alg"))?;
    if !ALLOWED_ALGS.contains(&alg) {
        return Err(Invalid("alg not allowed"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_err| Invalid("signature is not base64url"))?;
    let signing_input = &token[..header_len(token, payload)];
    verify_signature(
        provider,
        header.kid.as_deref(),
        &alg,
        signing_input.as_bytes(),
        &signature,
    )?;
    check_claims(provider, client_id, decode_json(payload)?, now)
}

fn header_len(token: &str, payload: &str) -> usize {
    token.find('.').map_or(0, |dot| dot + 1 + payload.len())
}

fn decode_json<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, LogoutTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_err| Invalid("segment is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_err| Invalid("segment is not the expected JSON"))
}

/// BCL §4.1 recommends `logout+jwt`; older Keycloak sends `JWT`.
fn check_typ(typ: Option<&str>) -> Result<(), LogoutTokenError> {
    match typ.map(str::to_ascii_lowercase).as_deref() {
        None | Some("logout+jwt" | "application/logout+jwt" | "jwt") => Ok(()),
        Some(_) => Err(Invalid("wrong typ")),
    }
}

fn verify_signature(
    provider: &Provider,
    kid: Option<&str>,
    alg: &CoreJwsSigningAlgorithm,
    input: &[u8],
    sig: &[u8],
) -> Result<(), LogoutTokenError> {
    let usable = |key: &&CoreJsonWebKey| {
        let kid_matches = kid.is_none_or(|kid| key.key_id().is_some_and(|id| id.as_str() == kid));
        let for_signing = key
            .key_use()
            .is_none_or(|u| matches!(u, CoreJsonWebKeyUse::Signature));
        kid_matches && for_signing
    };
    let candidates: Vec<&CoreJsonWebKey> = provider.jwks.keys().iter().filter(usable).collect();
    if candidates.is_empty() {
        return Err(LogoutTokenError::UnknownKey);
    }
    if candidates
        .iter()
        .any(|key| key.verify_signature(alg, input, sig).is_ok())
    {
        Ok(())
    } else {
        Err(Invalid("bad signature"))
    }
}

fn check_claims(
    provider: &Provider,
    client_id: &str,
    claims: Claims,
    now: i64,
) -> Result<LogoutToken, LogoutTokenError> {
    if claims.iss.as_deref() != Some(provider.issuer.as_str()) {
        return Err(Invalid("wrong iss"));
    }
    let audience_ok = match &claims.aud {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(Invalid("wrong aud"));
    }
    let iat = claims.iat.ok_or(Invalid("no iat"))?;
    if iat > now.saturating_add(LEEWAY_SECS) || iat < now.saturating_sub(MAX_AGE_SECS) {
        return Err(Invalid("iat out of range"));
    }
    let exp = claims.exp.ok_or(Invalid("no exp"))?;
    // Saturating: an `exp` near i64::MAX must not overflow (a fuzz finding).
    if exp.saturating_add(LEEWAY_SECS) < now {
        return Err(Invalid("expired"));
    }
    let event_ok = claims
        .events
        .as_ref()
        .and_then(|e| e.get(BACKCHANNEL_EVENT))
        .is_some_and(Value::is_object);
    if !event_ok {
        return Err(Invalid("no back-channel logout event"));
    }
    if claims.nonce.is_some() {
        return Err(Invalid("has a nonce"));
    }
    if claims.sub.is_none() && claims.sid.is_none() {
        return Err(Invalid("neither sub nor sid"));
    }
    Ok(LogoutToken {
        sub: claims.sub,
        sid: claims.sid,
        jti: claims.jti,
        exp,
    })
}
