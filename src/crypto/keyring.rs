//! The master keys of `BFF_SESSION_KEYS` and their roles in a two-phase
//! rotation: `id:base64key` seals and opens, `id:base64key:decrypt-only`
//! only opens. The first key that is not decrypt-only seals new records;
//! every listed key opens. Rolling out the new key as decrypt-only first,
//! then promoting it, means no pod ever meets a record it cannot open.

use base64::Engine as _;
use zeroize::Zeroizing;

/// Minimum master key length: 256 bits.
const MIN_KEY_LEN: usize = 32;

/// The role suffix of a key that only opens records.
const DECRYPT_ONLY: &str = "decrypt-only";

/// What a key does in this ring (the metric label of records it opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRole {
    /// Seals new records.
    Current,
    /// Listed after the current key without `:decrypt-only`: an older key
    /// whose records are re-sealed with the current one on their next use.
    Previous,
    /// `:decrypt-only`: the next key, rolled out before it seals anywhere.
    /// Its records are left as they are (another pod already promoted it).
    Next,
}

/// One master key.
#[derive(Clone)]
pub(super) struct MasterKey {
    /// Its id, written into every envelope it seals.
    pub(super) id: String,
    /// At least 32 random bytes.
    pub(super) secret: Zeroizing<Vec<u8>>,
    /// Opens records but never seals them (rotation phase 1).
    decrypt_only: bool,
}

/// The master keys: one seals, all open.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<MasterKey>,
    /// Index of the sealing key in `keys`.
    sealing: usize,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .field("current", &self.current_id())
            .finish()
    }
}

/// 1 to 32 characters of `A-Z a-z 0-9 - _`.
pub(super) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_key(item: &str) -> Result<MasterKey, String> {
    let mut parts = item.splitn(3, ':');
    let (Some(id), Some(b64)) = (parts.next(), parts.next()) else {
        return Err("each key must look like id:base64key[:decrypt-only]".into());
    };
    if !valid_id(id) {
        return Err(format!(
            "key id `{id}` must be 1-32 characters of A-Z, a-z, 0-9, - or _"
        ));
    }
    let decrypt_only = match parts.next() {
        None => false,
        Some(DECRYPT_ONLY) => true,
        Some(_) => {
            return Err(format!(
                "key `{id}`: the only role suffix is `:{DECRYPT_ONLY}`"
            ));
        }
    };
    let secret = Zeroizing::new(decode_base64(b64).ok_or(format!("key `{id}` is not base64"))?);
    if secret.len() < MIN_KEY_LEN {
        return Err(format!(
            "key `{id}` has {} bytes; at least {MIN_KEY_LEN} random bytes are required",
            secret.len()
        ));
    }
    Ok(MasterKey {
        id: id.to_owned(),
        secret,
        decrypt_only,
    })
}

// === impl Keyring ===

impl Keyring {
    /// Parses `id:base64key[:decrypt-only],…` (standard or URL-safe
    /// base64, padded or not); each key must decode to at least 32 bytes,
    /// and one key must be allowed to seal.
    pub(crate) fn parse(spec: &str) -> Result<Self, String> {
        let mut keys: Vec<MasterKey> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let key = parse_key(item)?;
            if keys.iter().any(|existing| existing.id == key.id) {
                return Err(format!("key id `{}` appears twice", key.id));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err("no keys given".into());
        }
        let sealing = keys.iter().position(|k| !k.decrypt_only).ok_or(
            "every key is decrypt-only: one key must seal (list it without `:decrypt-only`)",
        )?;
        Ok(Self { keys, sealing })
    }

    /// A random single-key ring for the single-process memory store.
    pub(crate) fn ephemeral() -> Self {
        let mut secret = Zeroizing::new(vec![0u8; MIN_KEY_LEN]);
        rand::fill(secret.as_mut_slice());
        let key = MasterKey {
            id: "ephemeral".into(),
            secret,
            decrypt_only: false,
        };
        Self {
            keys: vec![key],
            sealing: 0,
        }
    }

    /// Number of keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The ids of every key, in order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// The id of the sealing key.
    pub(crate) fn current_id(&self) -> &str {
        &self.encrypting().id
    }

    /// The ids of the keys that only open records.
    pub(crate) fn decrypt_only_ids(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|k| k.decrypt_only)
            .map(|k| k.id.as_str())
    }

    /// Which role the key `id` has here, if the ring holds it.
    pub(crate) fn role_of(&self, id: &str) -> Option<KeyRole> {
        let at = self.keys.iter().position(|k| k.id == id)?;
        Some(if at == self.sealing {
            KeyRole::Current
        } else if self.keys[at].decrypt_only {
            KeyRole::Next
        } else {
            KeyRole::Previous
        })
    }

    /// The sealing key.
    pub(super) fn encrypting(&self) -> &MasterKey {
        &self.keys[self.sealing]
    }

    /// The key with this id, if the ring holds it.
    pub(super) fn find(&self, id: &[u8]) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id.as_bytes() == id)
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(text.trim()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";

    #[test]
    fn short_or_malformed_keys_are_refused() {
        assert!(
            Keyring::parse("k1:c2hvcnQ=")
                .unwrap_err()
                .contains("at least 32")
        );
        assert!(Keyring::parse("nokey").is_err());
        assert!(Keyring::parse(&format!("{K1},{K1}")).is_err());
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse(&format!("{K1}:encrypt-only")).is_err());
    }

    #[test]
    fn the_first_key_that_may_seal_is_current() {
        let ring = Keyring::parse(&format!("{K2}:decrypt-only,{K1}")).unwrap();
        assert_eq!(ring.current_id(), "k1");
        assert_eq!(ring.decrypt_only_ids().collect::<Vec<_>>(), ["k2"]);
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["k2", "k1"]);
        assert_eq!(ring.role_of("k2"), Some(KeyRole::Next));
        assert_eq!(ring.role_of("k1"), Some(KeyRole::Current));
        let promoted = Keyring::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(promoted.current_id(), "k2");
        assert_eq!(promoted.role_of("k1"), Some(KeyRole::Previous));
        assert_eq!(promoted.role_of("k3"), None);
        let none = Keyring::parse(&format!("{K2}:decrypt-only")).unwrap_err();
        assert!(none.contains("one key must seal"), "{none}");
    }
}
