//! A DPoP key pair (RFC 9449) and the proofs it signs.
//!
//! Each session gets its own ES256 key at login, kept in the sealed session
//! bundle with the tokens it binds. Any pod that opens the bundle can then
//! refresh and call upstreams with it, no key has to be shared between
//! pods, and a leaked key binds one session only. The proof's protected
//! header (`typ`, `alg`, public `jwk`) is encoded once at login and kept
//! with the key, so a proof costs one claims encoding and one signature.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
#[cfg(test)]
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::EncodePrivateKey as _;
use rand::rngs::SysRng;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// Why a DPoP key could not be made or used (never carries key material).
#[derive(Debug, thiserror::Error)]
#[error("DPoP key failure: {0}")]
pub(crate) struct DpopKeyError(&'static str);

/// A session's DPoP key: the PKCS#8 private key and its encoded header.
pub(crate) struct DpopKey {
    der: Zeroizing<Vec<u8>>,
    header: String,
    key: EncodingKey,
}

/// The claims of a proof (RFC 9449 §4.2).
#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

// === impl DpopKey ===

impl DpopKey {
    /// A fresh P-256 key pair.
    pub(crate) fn generate() -> Result<Self, DpopKeyError> {
        let secret = p256::SecretKey::try_generate_from_rng(&mut SysRng)
            .map_err(|_err| DpopKeyError("no OS randomness"))?;
        let der = secret
            .to_pkcs8_der()
            .map_err(|_err| DpopKeyError("encode"))?;
        let der = Zeroizing::new(der.as_bytes().to_vec());
        let key = EncodingKey::from_ec_der(&der);
        let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)
            .map_err(|_err| DpopKeyError("public key"))?;
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(public_only(jwk));
        let json = serde_json::to_vec(&header).map_err(|_err| DpopKeyError("header"))?;
        Ok(Self {
            header: URL_SAFE_NO_PAD.encode(json),
            der,
            key,
        })
    }

    /// The key as stored in a session bundle.
    pub(crate) fn restore(der: &[u8], header: &str) -> Self {
        Self {
            der: Zeroizing::new(der.to_vec()),
            header: header.to_owned(),
            key: EncodingKey::from_ec_der(der),
        }
    }

    /// The PKCS#8 private key, base64url, for the sealed session bundle.
    pub(crate) fn encoded_der(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(&*self.der))
    }

    /// The encoded protected header, for the sealed session bundle.
    pub(crate) fn header(&self) -> &str {
        &self.header
    }

    /// The RFC 7638 thumbprint of the public key (`jkt`, RFC 9449 §6.1).
    #[cfg(test)]
    pub(crate) fn thumbprint(&self) -> Result<String, DpopKeyError> {
        let jwk = Jwk::from_encoding_key(&self.key, Algorithm::ES256)
            .map_err(|_err| DpopKeyError("public key"))?;
        jwk.thumbprint(ThumbprintHash::SHA256)
            .map_err(|_err| DpopKeyError("thumbprint"))
    }

    /// A proof for one request (RFC 9449 §4.2): `htm` and `htu` name it
    /// (`htu` without query and fragment, see [`htu`]), `iat` is `now`,
    /// `jti` is fresh, `ath` is the base64url SHA-256 of the access token
    /// when one is presented (§4.2, resource requests), and `nonce` is the
    /// server's latest `DPoP-Nonce` (§8, §9).
    pub(crate) fn proof(
        &self,
        htm: &str,
        htu: &str,
        now: i64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, DpopKeyError> {
        let claims = ProofClaims {
            jti: super::fresh_jti(),
            htm,
            htu,
            iat: now,
            ath: access_token.map(|t| URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes()))),
            nonce,
        };
        let json = serde_json::to_vec(&claims).map_err(|_err| DpopKeyError("claims"))?;
        let mut message = String::with_capacity(self.header.len() + json.len() * 4 / 3 + 100);
        message.push_str(&self.header);
        message.push('.');
        URL_SAFE_NO_PAD.encode_string(json, &mut message);
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, Algorithm::ES256)
            .map_err(|_err| DpopKeyError("sign"))?;
        message.push('.');
        message.push_str(&signature);
        Ok(message)
    }
}

/// The public parameters only (RFC 9449 §4.2: the header's `jwk` must not
/// contain a private key; `alg` is in the JWS header already).
fn public_only(mut jwk: Jwk) -> Jwk {
    jwk.common.key_algorithm = None;
    jwk
}

/// RFC 9449 §4.2: `htu` is the target URI without query and fragment.
pub(crate) fn htu(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let authority = uri.authority().map_or("", http::uri::Authority::as_str);
    format!("{scheme}://{authority}{}", uri.path())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    #[test]
    fn a_proof_verifies_with_its_header_key_and_carries_the_request() {
        let key = DpopKey::generate().unwrap();
        let uri: http::Uri = "https://api.example/v1/items?x=1#f".parse().unwrap();
        let proof = key
            .proof("GET", &htu(&uri), 1_700_000_000, Some("tok"), Some("n1"))
            .unwrap();
        let header = jsonwebtoken::decode_header(&proof).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        let jwk = header.jwk.unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &proof,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        let claims = data.claims;
        assert_eq!(claims["htu"], "https://api.example/v1/items");
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["nonce"], "n1");
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"tok")).as_str()
        );
        let der = URL_SAFE_NO_PAD.decode(key.encoded_der().as_str()).unwrap();
        let restored = DpopKey::restore(&der, key.header());
        let other = restored.proof("GET", "https://a/b", 1, None, None).unwrap();
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &other,
                &DecodingKey::from_jwk(&jwk).unwrap(),
                &validation
            )
            .is_ok()
        );
        assert_eq!(
            restored.thumbprint().unwrap(),
            jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
        );
    }
}
