//! `SessionId`: 256 random bits from the OS CSPRNG, carried base64url in
//! the cookie; and the store key derived from it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRng as _;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::keys;

const LEN: usize = 32;
/// Length of the base64url form (no padding).
pub(crate) const ENCODED_LEN: usize = 43;

/// An opaque session ID (OWASP ASVS 5 §7.2.3: ≥ 128 bits from a CSPRNG;
/// we use 256). Zeroized on drop; `Debug` prints only the hash prefix.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SessionId([u8; LEN]);

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({})", self.log_id())
    }
}

// === impl SessionId ===

impl SessionId {
    /// A fresh ID from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, rand::rngs::SysError> {
        let mut bytes = [0u8; LEN];
        rand::rngs::SysRng.try_fill_bytes(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Parses the cookie form; anything but exactly 43 base64url characters
    /// decoding to 32 bytes is refused (strict mode: no attacker-chosen
    /// formats reach the store).
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != ENCODED_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The cookie form (base64url, no padding).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Raw bytes; the HKDF salt for this session's record key.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The store key `bff:s:{<h>}`, `h = base64url(SHA-256(id))[..22]`.
    /// An unkeyed hash suffices: the ID has 256 bits of entropy. The braces
    /// are a Redis Cluster hash tag.
    pub(crate) fn store_key(&self) -> String {
        keys::record(&self.hash())
    }

    /// The 22-character hash that names this session in stores.
    pub(crate) fn hash(&self) -> String {
        keys::hash22(&self.0)
    }

    /// A short prefix of the hash, safe for logs.
    pub(crate) fn log_id(&self) -> String {
        keys::log_id(&self.hash()).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_round_trip() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.encode().len(), ENCODED_LEN);
        assert_eq!(SessionId::parse(&a.encode()).unwrap(), a);
    }

    #[test]
    fn store_key_never_contains_the_cookie_value() {
        let id = SessionId::generate().unwrap();
        let key = id.store_key();
        assert!(key.starts_with("bff:s:{") && key.ends_with('}'));
        assert_eq!(key.len(), "bff:s:{}".len() + 22);
        assert!(!key.contains(&id.encode()[..10]));
    }

    #[test]
    fn c2_malformed_cookie_values_are_refused() {
        let good = SessionId::generate().unwrap().encode();
        assert!(SessionId::parse(&good[..42]).is_none());
        assert!(SessionId::parse(&format!("{good}A")).is_none());
        assert!(SessionId::parse(&"!".repeat(43)).is_none());
        assert!(SessionId::parse(&"A".repeat(10 * 1024)).is_none());
        assert!(SessionId::parse("").is_none());
    }
}
