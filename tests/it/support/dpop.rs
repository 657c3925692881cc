//! DPoP proof verification (RFC 9449 §4.3) as a provider or resource
//! server does it, shared by the fake IdP's token endpoint and the
//! DPoP-checking upstream: `typ`, `alg` ES256, the header's public `jwk`,
//! the signature, `htm`, `htu`, `iat` within a minute, `jti` never seen,
//! `ath` when a token is presented, the expected `nonce`, and the key's
//! RFC 7638 thumbprint (`jkt`) for binding.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// What the proof must match.
pub struct Expect<'a> {
    /// `htm`.
    pub method: &'a str,
    /// `htu` (no query or fragment).
    pub uri: &'a str,
    /// The access token the proof must hash into `ath`.
    pub access_token: Option<&'a str>,
    /// The nonce the proof must carry.
    pub nonce: Option<&'a str>,
}

/// Why a proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `DPoP` header, or more than one.
    Missing,
    /// Not a DPoP JWT, bad signature, no public key.
    Invalid,
    /// `htm` or `htu` name another request.
    WrongTarget,
    /// `ath` does not hash the presented token.
    WrongAth,
    /// `iat` out of the window.
    Stale,
    /// `jti` seen before.
    Replayed,
    /// The nonce is missing or not the current one.
    BadNonce,
}

/// Verifies `proof` and returns its key's thumbprint (`jkt`).
pub fn verify(
    proof: Option<&str>,
    expect: &Expect<'_>,
    seen: &mut HashSet<String>,
) -> Result<String, Refusal> {
    let proof = proof.ok_or(Refusal::Missing)?;
    let header = jsonwebtoken::decode_header(proof).map_err(|_err| Refusal::Invalid)?;
    if header.typ.as_deref() != Some("dpop+jwt") || header.alg != Algorithm::ES256 {
        return Err(Refusal::Invalid);
    }
    let jwk = header.jwk.ok_or(Refusal::Invalid)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_err| Refusal::Invalid)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(proof, &key, &validation)
        .map_err(|_err| Refusal::Invalid)?
        .claims;
    if claims["htm"] != expect.method || claims["htu"] != expect.uri {
        return Err(Refusal::WrongTarget);
    }
    let iat = claims["iat"].as_i64().ok_or(Refusal::Invalid)?;
    if (super::fake_idp::now() - iat).abs() > 60 {
        return Err(Refusal::Stale);
    }
    if let Some(token) = expect.access_token {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if claims["ath"] != ath.as_str() {
            return Err(Refusal::WrongAth);
        }
    }
    if let Some(nonce) = expect.nonce
        && claims["nonce"] != nonce
    {
        return Err(Refusal::BadNonce);
    }
    let jti = claims["jti"].as_str().ok_or(Refusal::Invalid)?;
    if !seen.insert(jti.to_owned()) {
        return Err(Refusal::Replayed);
    }
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(|_err| Refusal::Invalid)
}
