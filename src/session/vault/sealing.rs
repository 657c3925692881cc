//! Sealing and opening session records: `version (8 bytes, big-endian) |
//! envelope`, the version and the store key bound into the AES-GCM AAD.

use crate::crypto::{CryptoError, KeyRole, Keyring, envelope_key_id};
use crate::session::{SessionData, SessionId, StoreError};

/// A session record opened from the store.
pub(crate) struct Loaded {
    /// The session.
    pub(crate) data: SessionData,
    /// The role here of the key that sealed it (`Previous`: re-seal it).
    pub(crate) sealed_by: KeyRole,
}

/// Why a stored record did not open.
pub(super) enum OpenFailure {
    /// Tampered, copied under another key, truncated (the reason is safe to log).
    Integrity(String),
    /// Sealed with a master key this pod does not hold (its well-formed id).
    AbsentKey(String),
}

/// `version (8 bytes, big-endian) | envelope`; the version is bound
/// into the AAD so it cannot be altered without failing the tag.
pub(super) fn seal_session(
    keys: &Keyring,
    id: &SessionId,
    key: &str,
    data: &SessionData,
) -> Result<Vec<u8>, StoreError> {
    let plain = data
        .to_bytes()
        .map_err(|_err| StoreError("cannot encode session".into()))?;
    let version = data.version.to_be_bytes();
    let aad = session_aad(key, &version);
    let sealed = keys
        .seal(id.as_bytes(), &aad, &plain)
        .map_err(|_err| StoreError("cannot seal session".into()))?;
    let mut record = Vec::with_capacity(8 + sealed.len());
    record.extend_from_slice(&version);
    record.extend_from_slice(&sealed);
    Ok(record)
}

/// Opens `record`, stored under `key` for session `id`.
pub(super) fn open_session(
    keys: &Keyring,
    id: &SessionId,
    key: &str,
    record: &[u8],
) -> Result<Loaded, OpenFailure> {
    let integrity = |reason: &str| OpenFailure::Integrity(reason.to_owned());
    let (version, sealed) = record
        .split_at_checked(8)
        .ok_or_else(|| integrity("truncated record"))?;
    let key_id = envelope_key_id(sealed);
    let plain = keys
        .open(id.as_bytes(), &session_aad(key, version), sealed)
        .map_err(|err| match (err, key_id) {
            (CryptoError::UnknownKey, Some(kid)) => OpenFailure::AbsentKey(kid.to_owned()),
            (other, _) => integrity(&other.to_string()),
        })?;
    let data = SessionData::from_bytes(&plain).map_err(|_err| integrity("undecodable"))?;
    if data.version.to_be_bytes() != version {
        return Err(integrity("version prefix mismatch"));
    }
    let sealed_by = key_id
        .and_then(|kid| keys.role_of(kid))
        .unwrap_or(KeyRole::Current);
    Ok(Loaded { data, sealed_by })
}

/// AAD of a session record: its store key and its version prefix.
fn session_aad(key: &str, version: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(key.len() + version.len());
    aad.extend_from_slice(key.as_bytes());
    aad.extend_from_slice(version);
    aad
}
