//! The key schema: every name bff gives a record in a store, in one place.
//!
//! | key | holds | written by |
//! |---|---|---|
//! | `bff:s:{h}` | a session's sealed record | login, refresh, idle touch |
//! | `bff:m:{h}` | its plaintext metadata (no tokens) | with the record |
//! | `bff:sub:{H(iss, sub)}` | set of one user's session hashes | login |
//! | `bff:sid:{H(iss, sid)}` | set of one provider session's hashes | login |
//! | `bff:login:{H(state)}` | a sealed pending login, 10 min, used once | `/auth/login` |
//! | `bff:lock:{h}` | the cross-pod refresh lock | refresh |
//! | `bff:jti:{H(jti)}` | a used back-channel logout token id | back-channel logout |
//! | `bff:keyholder:{id}` | "some live pod holds master key `id`", 60 s | every pod, every 20 s |
//!
//! `h = base64url(SHA-256(session id))[..22]`, never the cookie value. The
//! braces are Redis Cluster hash tags: every key of one session (record,
//! metadata, lock) shares the slot of `{h}`, so each multi-key atomic step
//! on a session touches one slot. Index sets live in other slots.
//! The stores and their Lua scripts take every name from here.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix of sealed session records; also what change notifications
/// and the session count match on.
pub(crate) const RECORD_PREFIX: &str = "bff:s:";
/// Prefix of session metadata.
pub(crate) const META_PREFIX: &str = "bff:m:";
const SUBJECT_PREFIX: &str = "bff:sub:";
const SID_PREFIX: &str = "bff:sid:";
const LOGIN_PREFIX: &str = "bff:login:";
const LOCK_PREFIX: &str = "bff:lock:";
const JTI_PREFIX: &str = "bff:jti:";
const KEY_HOLDER_PREFIX: &str = "bff:keyholder:";

/// `base64url(SHA-256(bytes))[..22]` (132 bits): how secrets name records.
pub(crate) fn hash22(bytes: &[u8]) -> String {
    let mut encoded = URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
    encoded.truncate(22);
    encoded
}

/// The short prefix of a session hash that names the session in logs.
pub(crate) fn log_id(hash: &str) -> &str {
    hash.get(..8).unwrap_or(hash)
}

/// The hash `h` of a record key `bff:s:{h}`: the inverse of [`record`].
pub(crate) fn record_hash(key: &str) -> Option<&str> {
    key.strip_prefix(RECORD_PREFIX)?
        .strip_prefix('{')?
        .strip_suffix('}')
}

fn tagged(prefix: &str, tag: &str) -> String {
    format!("{prefix}{{{tag}}}")
}

/// `bff:s:{h}`: a session's sealed record.
pub fn record(hash: &str) -> String {
    tagged(RECORD_PREFIX, hash)
}

/// `bff:m:{h}`: a session's plaintext metadata.
pub fn meta(hash: &str) -> String {
    tagged(META_PREFIX, hash)
}

/// `bff:keyholder:{id}`: present while some pod holds session key `id`
/// (key ids are not secret).
pub(crate) fn key_holder(key_id: &str) -> String {
    tagged(KEY_HOLDER_PREFIX, key_id)
}

/// `bff:lock:{h}`: the refresh lock of a session (same slot as the session).
pub fn refresh_lock(hash: &str) -> String {
    tagged(LOCK_PREFIX, hash)
}

/// `bff:login:{H(state)}`: a pending login; never the raw `state`.
pub(crate) fn pending_login(state: &str) -> String {
    tagged(LOGIN_PREFIX, &hash22(state.as_bytes()))
}

/// `bff:jti:{H(jti)}`: a back-channel logout token already used.
pub(crate) fn logout_jti(jti: &str) -> String {
    tagged(JTI_PREFIX, &hash22(jti.as_bytes()))
}

/// `H(iss, value)`: index names are scoped to the issuer.
fn scoped_hash(issuer: &str, value: &str) -> String {
    let mut bytes = Vec::with_capacity(issuer.len() + value.len() + 1);
    bytes.extend_from_slice(issuer.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(value.as_bytes());
    hash22(&bytes)
}

/// `bff:sub:{H(iss, sub)}`: the index of one user's sessions.
pub(crate) fn subject_index(issuer: &str, sub: &str) -> String {
    tagged(SUBJECT_PREFIX, &scoped_hash(issuer, sub))
}

/// `bff:sid:{H(iss, sid)}`: the index of one provider session's sessions.
pub(crate) fn sid_index(issuer: &str, sid: &str) -> String {
    tagged(SID_PREFIX, &scoped_hash(issuer, sid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_key_gives_back_its_hash_and_nothing_else_does() {
        let h = hash22(b"session");
        assert_eq!(record_hash(&record(&h)), Some(h.as_str()));
        assert_eq!(record_hash(&meta(&h)), None);
        assert_eq!(record_hash("bff:s:unbraced"), None);
        assert_eq!(log_id(&h), &h[..8]);
        assert_eq!(log_id("short"), "short");
    }

    #[test]
    fn every_key_of_a_session_shares_its_hash_tag() {
        let h = hash22(b"session");
        for key in [record(&h), meta(&h), refresh_lock(&h)] {
            assert!(key.ends_with(&format!("{{{h}}}")), "{key}");
        }
        assert_eq!(record(&h), format!("bff:s:{{{h}}}"));
        assert_eq!(meta(&h), format!("bff:m:{{{h}}}"));
        assert_eq!(h.len(), 22);
    }

    #[test]
    fn secrets_never_appear_in_key_names() {
        assert!(!pending_login("the-state").contains("the-state"));
        assert!(!logout_jti("the-jti").contains("the-jti"));
        assert!(subject_index("iss", "alice").starts_with("bff:sub:{"));
        assert!(sid_index("iss", "alice").starts_with("bff:sid:{"));
        assert_ne!(subject_index("a", "b"), subject_index("b", "a"));
        assert_ne!(subject_index("ab", "c"), subject_index("a", "bc"));
    }
}
