//! Session encryption: the keyring, per-record key derivation and the
//! versioned AES-256-GCM envelope.
//!
//! Envelope (all records bff writes to a store):
//! `0x01 | key_id_len (u8) | key_id | nonce (12) | ciphertext+tag`.
//! The record key is `HKDF-SHA256(ikm = master[key_id], salt = record
//! secret, info = "bff record v1")`, where the record secret is the session
//! ID (or the login `state`), which only the browser holds. The AAD is the
//! store key, so a record copied under another key fails authentication
//! (security case R6), a flipped bit fails the tag (R5), and neither a store
//! dump nor the master key alone decrypts anything. Which key seals and
//! which only open (two-phase rotation) is [`keyring`]'s.

mod keyring;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

pub(crate) use keyring::KeyRole;
pub use keyring::Keyring;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const INFO: &[u8] = b"bff record v1";

/// Why a record could not be opened. Deliberately coarse: callers treat
/// every variant as "no session" and log an integrity event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CryptoError {
    /// Not an envelope bff wrote (truncated, wrong version).
    #[error("malformed envelope")]
    Malformed,
    /// Encrypted with a key id this keyring does not hold (retired key).
    #[error("unknown key id")]
    UnknownKey,
    /// The GCM tag did not verify (tampered, or wrong key/AAD).
    #[error("authentication failed")]
    Authentication,
}

// === impl Keyring (sealing) ===

impl Keyring {
    /// Encrypts `plaintext` for the record identified by `record_secret`,
    /// bound to the store key `aad`.
    pub(crate) fn seal(
        &self,
        record_secret: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let key = self.encrypting();
        let (id, master) = (&key.id, &key.secret);
        let cipher = record_cipher(master, record_secret)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_err| CryptoError::Authentication)?;
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.push(u8::try_from(id.len()).map_err(|_err| CryptoError::Malformed)?);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts an envelope written by [`Keyring::seal`].
    pub(crate) fn open(
        &self,
        record_secret: &[u8],
        aad: &[u8],
        envelope: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (&version, rest) = envelope.split_first().ok_or(CryptoError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
        if version != VERSION || rest.len() < usize::from(id_len) + NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (id, rest) = rest.split_at(usize::from(id_len));
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let master = &self.find(id).ok_or(CryptoError::UnknownKey)?.secret;
        let nonce = Nonce::try_from(nonce).map_err(|_err| CryptoError::Malformed)?;
        let cipher = record_cipher(master, record_secret)?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_err| CryptoError::Authentication)
    }
}

fn record_cipher(master: &[u8], record_secret: &[u8]) -> Result<Aes256Gcm, CryptoError> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(record_secret), master)
        .expand(INFO, okm.as_mut_slice())
        .map_err(|_err| CryptoError::Malformed)?;
    Aes256Gcm::new_from_slice(okm.as_slice()).map_err(|_err| CryptoError::Malformed)
}

/// The key id an envelope names, if it is well-formed (it comes from the
/// store, so it is checked before anyone logs it).
pub(crate) fn envelope_key_id(envelope: &[u8]) -> Option<&str> {
    let (&version, rest) = envelope.split_first()?;
    let (&id_len, rest) = rest.split_first()?;
    let id = rest.get(..usize::from(id_len))?;
    let id = std::str::from_utf8(id).ok()?;
    (version == VERSION && keyring::valid_id(id)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str) -> Keyring {
        Keyring::parse(spec).unwrap()
    }

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";

    #[test]
    fn seal_then_open_round_trips() {
        let r = ring(K1);
        let env = r.seal(b"session-a", b"bff:s:{a}", b"tokens").unwrap();
        assert_eq!(
            &*r.open(b"session-a", b"bff:s:{a}", &env).unwrap(),
            b"tokens"
        );
        assert!(
            !env.windows(6).any(|w| w == b"tokens"),
            "plaintext visible in ciphertext"
        );
    }

    #[test]
    fn r5_bit_flip_fails_authentication() {
        let r = ring(K1);
        let mut env = r.seal(b"s", b"aad", b"tokens").unwrap();
        let last = env.len() - 1;
        env[last] ^= 1;
        assert_eq!(
            r.open(b"s", b"aad", &env).unwrap_err(),
            CryptoError::Authentication
        );
        assert_eq!(
            r.open(b"s", b"aad", &env[..10]).unwrap_err(),
            CryptoError::Malformed
        );
    }

    #[test]
    fn r6_other_aad_or_other_session_secret_fails() {
        let r = ring(K1);
        let env = r.seal(b"s", b"bff:s:{a}", b"tokens").unwrap();
        assert!(r.open(b"s", b"bff:s:{b}", &env).is_err());
        assert!(r.open(b"t", b"bff:s:{a}", &env).is_err());
    }

    #[test]
    fn r7_rotation_keeps_old_key_for_decrypt_and_retired_key_fails() {
        let old = ring(K1);
        let env = old.seal(b"s", b"a", b"x").unwrap();
        let rotated = ring(&format!("{K2},{K1}"));
        assert_eq!(&*rotated.open(b"s", b"a", &env).unwrap(), b"x");
        assert_eq!(rotated.current_id(), "k2");
        assert_eq!(
            ring(K2).open(b"s", b"a", &env).unwrap_err(),
            CryptoError::UnknownKey
        );
    }

    #[test]
    fn r7_a_decrypt_only_key_opens_but_never_seals() {
        let new = ring(K2);
        let env = new.seal(b"s", b"a", b"x").unwrap();
        let phase_a = ring(&format!("{K2}:decrypt-only,{K1}"));
        assert_eq!(&*phase_a.open(b"s", b"a", &env).unwrap(), b"x");
        assert_eq!(phase_a.current_id(), "k1");
        let resealed = phase_a.seal(b"s", b"a", b"x").unwrap();
        assert_eq!(envelope_key_id(&resealed), Some("k1"));
        assert_eq!(envelope_key_id(&env), Some("k2"));
        assert_eq!(envelope_key_id(&env[..3]), None);
    }
}
