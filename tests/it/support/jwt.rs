//! Test signing keys and JWT builders.
//!
//! Owns two RSA-2048 keys generated once per test process: the IdP's
//! [`primary`] key (published in [`jwks_json`]) and an [`other`] key that is
//! never published (an attacker's key, or a rotated-out key). Also owns the
//! builders for forged tokens used by the security tests: `alg: none`, HS256
//! (including the RSA-public-key-as-HMAC-secret confusion), a valid signature
//! by the wrong key, and a tampered signature.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreHmacKey, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey as _};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
use serde_json::{Value, json};

/// An RSA key pair usable as an IdP signing key.
pub struct TestKey {
    kid: String,
    pem: String,
    public_pem: String,
    signer: CoreRsaPrivateSigningKey,
}

static PRIMARY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("bff-test-primary"));
static OTHER: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("bff-test-other"));

/// The IdP's signing key; its public half is what [`jwks_json`] publishes.
pub fn primary() -> &'static TestKey {
    &PRIMARY
}

/// A second key that is never published (attacker's or rotated-out key).
pub fn other() -> &'static TestKey {
    &OTHER
}

// === impl TestKey ===

impl TestKey {
    /// Generates a fresh RSA-2048 key (slow-ish: call through [`primary`]/[`other`]).
    fn generate(kid: &str) -> Self {
        let key =
            rsa::RsaPrivateKey::new(&mut rand08::rngs::OsRng, 2048).expect("generate RSA key");
        let pem = key
            .to_pkcs1_pem(LineEnding::LF)
            .expect("PKCS#1 PEM")
            .to_string();
        let public_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("SPKI PEM");
        let signer = CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.into())))
            .expect("load PEM into openidconnect");
        Self {
            kid: kid.to_owned(),
            pem,
            public_pem,
            signer,
        }
    }

    /// The `kid` this key signs with and is published under.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#1 PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The public key as SPKI ("BEGIN PUBLIC KEY") PEM; the classic secret for
    /// the RS256→HS256 key-confusion attack.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The public key as a JWK (`kty`, `use`, `kid`, `n`, `e`).
    pub fn jwk(&self) -> Value {
        serde_json::to_value(self.signer.as_verification_key()).expect("serialize JWK")
    }

    /// Signs `claims` with RS256; the header is `{"alg":"RS256","kid":<kid>,"typ":"JWT"}`
    /// merged with the fields of `header_extra` (an object, or `null`).
    pub fn sign(&self, header_extra: Value, claims: &Value) -> String {
        let mut header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        merge(&mut header, header_extra);
        let input = signing_input(&header, claims);
        let sig = self
            .signer
            .sign(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                input.as_bytes(),
            )
            .expect("RS256 sign");
        format!("{input}.{}", b64(&sig))
    }
}

impl TestKey {
    /// Signs `claims` with PS256 (FAPI 2.0 ID tokens) under this key's `kid`.
    pub fn sign_ps256(&self, claims: &Value) -> String {
        let header = json!({"alg": "PS256", "kid": self.kid, "typ": "JWT"});
        let input = signing_input(&header, claims);
        let sig = self
            .signer
            .sign(&CoreJwsSigningAlgorithm::RsaSsaPssSha256, input.as_bytes())
            .expect("PS256 sign");
        format!("{input}.{}", b64(&sig))
    }
}

// === builders ===

/// Signs `claims` with the [`primary`] key (RS256), merging `header_extra` into the header.
pub fn sign_rs256(header_extra: Value, claims: &Value) -> String {
    primary().sign(header_extra, claims)
}

/// An unsecured JWT: header `{"alg":"none","typ":"JWT"}` and an empty signature.
pub fn unsigned_alg_none(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!("{}.", signing_input(&header, claims))
}

/// An HS256 JWT keyed with `secret` (e.g. the client secret, or
/// `primary().public_pem().as_bytes()`); the header carries the primary `kid`.
pub fn hs256_with_secret(claims: &Value, secret: &[u8]) -> String {
    let header = json!({"alg": "HS256", "kid": primary().kid(), "typ": "JWT"});
    let input = signing_input(&header, claims);
    let sig = CoreHmacKey::new(secret)
        .sign(&CoreJwsSigningAlgorithm::HmacSha256, input.as_bytes())
        .expect("HS256 sign");
    format!("{input}.{}", b64(&sig))
}

/// A well-formed RS256 JWT signed by [`other`] but claiming the primary `kid`,
/// so a verifier picks the published key and the signature check must fail.
pub fn signed_with_other_key(claims: &Value) -> String {
    other().sign(json!({"kid": primary().kid()}), claims)
}

/// RS256 with the unpublished key under a kid no JWKS publishes.
pub fn signed_under_unknown_kid(claims: &Value) -> String {
    other().sign(json!({"kid": "never-published"}), claims)
}

/// `jwt` with one bit of its signature flipped.
pub fn tampered_signature(jwt: &str) -> String {
    let (input, sig) = jwt.rsplit_once('.').expect("JWT has a signature part");
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).expect("base64url signature");
    let first = bytes.first_mut().expect("non-empty signature");
    *first ^= 0x01;
    format!("{input}.{}", b64(&bytes))
}

/// `jwt` with its payload replaced by `claims`, keeping the original header and signature.
pub fn swapped_claims(jwt: &str, claims: &Value) -> String {
    let mut parts = jwt.split('.');
    let (header, _, sig) = (parts.next(), parts.next(), parts.next());
    let (header, sig) = (header.expect("header"), sig.expect("signature"));
    format!("{header}.{}.{sig}", b64(claims.to_string().as_bytes()))
}

/// The JWKS the fake IdP publishes: only the [`primary`] key.
pub fn jwks_json() -> Value {
    json!({"keys": [primary().jwk()]})
}

/// The JWKS after a key rotation: the primary and the other key (under
/// its own kid) are both published.
pub fn rotated_jwks_json() -> Value {
    json!({"keys": [primary().jwk(), other().jwk()]})
}

/// Signed by the other key under its own kid (a rotated-in key).
pub fn signed_with_rotated_key(claims: &Value) -> String {
    other().sign(Value::Null, claims)
}

/// Decodes the (unverified) payload of a JWT, for assertions.
pub fn claims_of(jwt: &str) -> Value {
    decode_part(jwt, 1)
}

/// Decodes the (unverified) header of a JWT, for assertions.
pub fn header_of(jwt: &str) -> Value {
    decode_part(jwt, 0)
}

/// Base64url without padding (JWS, PKCE).
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// === helpers ===

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

fn decode_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("JWT part");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url JWT part");
    serde_json::from_slice(&bytes).expect("JSON JWT part")
}

/// Shallow-merges the fields of `extra` (if it is an object) into `target`.
fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}
