//! A DPoP key pair (RFC 9449) and the proofs it signs.
//!
//! Each session gets its own ES256 key at login, kept in the sealed session
//! bundle with the tokens it binds. Any pod that opens the bundle can then
//! refresh and call upstreams with it, no key has to be shared between
//! pods, and a leaked key binds one session only. The proof's protected
//! header (`typ`, `alg`, public `jwk`) is encoded once at login and kept
//! with the key, so a proof costs one claims encoding and one signature.
//! The signature is ring's (assembly P-256, as rustls uses): the key is
//! parsed from the bundle per request, so its cost is part of every proof.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING as ES256, EcdsaKeyPair, KeyPair as _};
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
    pair: EcdsaKeyPair,
}

/// RFC 9449 §4.2: the proof's protected header.
#[derive(Serialize)]
struct ProofHeader {
    typ: &'static str,
    alg: &'static str,
    jwk: Jwk,
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
    /// A fresh P-256 key pair from the OS CSPRNG.
    pub(crate) fn generate() -> Result<Self, DpopKeyError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ES256, &rng)
            .map_err(|_err| DpopKeyError("no OS randomness"))?;
        let der = Zeroizing::new(document.as_ref().to_vec());
        let pair = EcdsaKeyPair::from_pkcs8(&ES256, &der, &rng)
            .map_err(|_err| DpopKeyError("generated key"))?;
        let header = ProofHeader {
            typ: "dpop+jwt",
            alg: "ES256",
            jwk: public_jwk(pair.public_key().as_ref())?,
        };
        let json = serde_json::to_vec(&header).map_err(|_err| DpopKeyError("header"))?;
        Ok(Self {
            header: URL_SAFE_NO_PAD.encode(json),
            der,
            pair,
        })
    }

    /// The key as stored in a session bundle.
    pub(crate) fn restore(der: &[u8], header: &str) -> Result<Self, DpopKeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ES256, der, &SystemRandom::new())
            .map_err(|_err| DpopKeyError("stored key"))?;
        Ok(Self {
            der: Zeroizing::new(der.to_vec()),
            header: header.to_owned(),
            pair,
        })
    }

    /// The PKCS#8 private key, base64url, for the sealed session bundle.
    pub(crate) fn encoded_der(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(&*self.der))
    }

    /// The encoded protected header, for the sealed session bundle.
    pub(crate) fn header(&self) -> &str {
        &self.header
    }

    /// A proof for one request (RFC 9449 §4.2): `htm` and `htu` name it
    /// (`htu` without query and fragment, see [`htu`]), `iat` is `now`,
    /// `jti` is fresh, `ath` is the base64url SHA-256 of the access token
    /// when one is presented (§4.2, resource requests), and `nonce` is the
    /// server's latest `DPoP-Nonce` (§8, §9). The signature is the JWS
    /// ES256 form, `r || s` (RFC 7518 §3.4).
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
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message.as_bytes())
            .map_err(|_err| DpopKeyError("sign"))?;
        message.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut message);
        Ok(message)
    }
}

/// The public JWK (RFC 7518 §6.2) of an uncompressed P-256 point; no
/// private member, no `alg` (it is in the JWS header), RFC 9449 §4.2.
fn public_jwk(point: &[u8]) -> Result<Jwk, DpopKeyError> {
    let (x, y) = match point {
        [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
        _ => return Err(DpopKeyError("public key")),
    };
    Ok(Jwk {
        common: CommonParameters::default(),
        algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
            key_type: EllipticCurveKeyType::EC,
            curve: EllipticCurve::P256,
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
        }),
    })
}

/// RFC 9449 §4.2: `htu` is the target URI without query and fragment.
pub(crate) fn htu(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let authority = uri.authority().map_or("", http::uri::Authority::as_str);
    format!("{scheme}://{authority}{}", uri.path())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

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
        let restored = DpopKey::restore(&der, key.header()).unwrap();
        let other = restored.proof("GET", "https://a/b", 1, None, None).unwrap();
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &other,
                &DecodingKey::from_jwk(&jwk).unwrap(),
                &validation
            )
            .is_ok()
        );
        assert!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .is_ok()
        );
        assert!(DpopKey::restore(b"junk", key.header()).is_err());
    }
}
