//! bff's own signing keys, kept apart from the session-encryption keyring:
//! the client-assertion keys it authenticates to the provider with
//! ([`client_keys`], `private_key_jwt`) and the per-session DPoP keys its
//! access tokens are bound to ([`dpop_key`]). Signatures, PEM and JWK
//! handling are jsonwebtoken's and RustCrypto's; this module only decides
//! which key signs what.

pub(crate) mod client_keys;
pub(crate) mod dpop_key;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;

/// A fresh 128-bit random identifier for a JWT's `jti` (RFC 7519 §4.1.7):
/// unique per token, so a replayed assertion or proof is recognisable.
pub(crate) fn fresh_jti() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}
