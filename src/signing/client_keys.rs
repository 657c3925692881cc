//! The client's assertion keys for `private_key_jwt` (RFC 7523 §2.2,
//! OIDC Core §9): PEM private keys, RSA (signing PS256) or EC P-256
//! (ES256). The first key signs; every key is published in the client's
//! JWKS, so the next key can be registered with the provider before it
//! signs (rotation without a failed token call). Each key's `kid` is its
//! RFC 7638 thumbprint and goes in the JWT header.

use jsonwebtoken::jwk::{
    AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey as _;
use serde::Serialize;

/// One loaded key.
struct ClientKey {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    public: Jwk,
}

/// The client's assertion keys; never empty.
pub struct ClientKeys {
    keys: Vec<ClientKey>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("ClientKeys").field("kids", &kids).finish()
    }
}

// === impl ClientKeys ===

impl ClientKeys {
    /// Parses PEM texts, the signing key first. Errors name the position
    /// of the bad key, never its content.
    pub fn from_pems(pems: &[impl AsRef<str>]) -> Result<Self, String> {
        if pems.is_empty() {
            return Err("names no key".into());
        }
        let keys = pems
            .iter()
            .enumerate()
            .map(|(i, pem)| load(pem.as_ref()).map_err(|e| format!("key {}: {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys })
    }

    /// The signing key's `kid`.
    pub fn signing_kid(&self) -> &str {
        self.keys.first().map_or("", |k| k.kid.as_str())
    }

    /// The signing key's JWS algorithm name (`PS256` or `ES256`).
    pub fn signing_alg(&self) -> &'static str {
        match self.keys.first().map(|k| k.alg) {
            Some(Algorithm::ES256) => "ES256",
            _ => "PS256",
        }
    }

    /// The public JWKS (RFC 7517 §5) of every key, for registration.
    pub fn jwks_json(&self) -> String {
        let set = JwkSet {
            keys: self.keys.iter().map(|k| k.public.clone()).collect(),
        };
        serde_json::to_string(&set).unwrap_or_else(|_err| "{\"keys\":[]}".into())
    }

    /// Signs `claims` with the signing key, its `kid` in the header.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, String> {
        let key = self.keys.first().ok_or("no signing key")?;
        let mut header = Header::new(key.alg);
        header.typ = Some("JWT".into());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.key).map_err(|e| e.to_string())
    }
}

/// One PEM private key: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE
/// KEY`) or SEC1 (`EC PRIVATE KEY`, converted to PKCS#8).
fn load(pem: &str) -> Result<ClientKey, String> {
    let (alg, key) = if let Ok(key) = EncodingKey::from_rsa_pem(pem.as_bytes()) {
        (Algorithm::PS256, key)
    } else if let Ok(key) = EncodingKey::from_ec_pem(pem.as_bytes()) {
        (Algorithm::ES256, key)
    } else if let Ok(secret) = p256::SecretKey::from_sec1_pem(pem) {
        let der = secret
            .to_pkcs8_der()
            .map_err(|_err| "cannot re-encode the EC key")?;
        (Algorithm::ES256, EncodingKey::from_ec_der(der.as_bytes()))
    } else {
        return Err("is not a PEM RSA or P-256 private key".into());
    };
    let mut public =
        Jwk::from_encoding_key(&key, alg).map_err(|_err| "unusable private key".to_owned())?;
    check_rsa_size(&public)?;
    let kid = public
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_err| "cannot compute the key thumbprint".to_owned())?;
    public.common.key_id = Some(kid.clone());
    public.common.public_key_use = Some(PublicKeyUse::Signature);
    public.common.key_algorithm = Some(match alg {
        Algorithm::ES256 => KeyAlgorithm::ES256,
        _ => KeyAlgorithm::PS256,
    });
    // A signature proves the key works before the first token call needs it.
    jsonwebtoken::encode(&Header::new(alg), &serde_json::json!({}), &key)
        .map_err(|_err| "cannot sign with this key".to_owned())?;
    Ok(ClientKey {
        kid,
        alg,
        key,
        public,
    })
}

/// FAPI 2.0 §5.4.1 (and NIST SP 800-131A): RSA keys of at least 2048 bits.
fn check_rsa_size(public: &Jwk) -> Result<(), String> {
    use base64::Engine as _;
    if let AlgorithmParameters::RSA(rsa) = &public.algorithm {
        let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&rsa.n)
            .map_err(|_err| "unusable RSA key".to_owned())?;
        let leading = modulus.first().map_or(0, |b| b.leading_zeros() as usize);
        let bits = (modulus.len() * 8).saturating_sub(leading);
        if bits < 2048 {
            return Err(format!(
                "is a {bits}-bit RSA key; at least 2048 bits are required"
            ));
        }
    }
    Ok(())
}
