//! Store key names, and the plaintext metadata and indexes that let bff
//! end sessions it cannot decrypt (it never holds their cookies): by
//! provider session (`sid`, OIDC Back-Channel Logout §2.7), by subject
//! (`sub` alone ends all of that user's sessions), or by operator request.
//!
//! Keys: `bff:s:{h}` sealed record, `bff:m:{h}` metadata (no tokens),
//! `bff:sub:{H(iss, sub)}` and `bff:sid:{H(iss, sid)}` sets of session
//! hashes. Index sets expire with their longest-lived member, and dead
//! members are pruned whenever an index is read.

use serde::{Deserialize, Serialize};

use super::id::hash22;

/// `bff:s:{h}`: a session's sealed record.
pub fn record_key(hash: &str) -> String {
    format!("bff:s:{{{hash}}}")
}

/// `bff:m:{h}`: a session's plaintext metadata.
pub fn meta_key(hash: &str) -> String {
    format!("bff:m:{{{hash}}}")
}

fn scoped_hash(issuer: &str, value: &str) -> String {
    let mut bytes = Vec::with_capacity(issuer.len() + value.len() + 1);
    bytes.extend_from_slice(issuer.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(value.as_bytes());
    hash22(&bytes)
}

/// The index of one user's sessions (`iss` + `sub`).
pub fn subject_index(issuer: &str, sub: &str) -> String {
    format!("bff:sub:{{{}}}", scoped_hash(issuer, sub))
}

/// The index of one provider session's bff sessions (`iss` + `sid`).
pub fn sid_index(issuer: &str, sid: &str) -> String {
    format!("bff:sid:{{{}}}", scoped_hash(issuer, sid))
}

/// What operators may see of a session, stored unencrypted beside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionMeta {
    /// The subject index this session is in.
    pub sub_index: String,
    /// The provider-session index, if the ID token had a `sid`.
    pub sid_index: Option<String>,
    /// Login time (Unix seconds).
    pub created_at: i64,
    /// End of the absolute lifetime (Unix seconds).
    pub expires_at: i64,
    /// Last recorded activity (Unix seconds; updated at most once a minute).
    pub last_seen: i64,
}

impl SessionMeta {
    /// JSON form (the Redis scripts read `sub_index`/`sid_index`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses [`SessionMeta::to_json`] output.
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}
