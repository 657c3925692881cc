//! The plaintext metadata beside each sealed record: what lets bff end
//! sessions it cannot decrypt (it never holds their cookies) by provider
//! session (`sid`, OIDC Back-Channel Logout §2.7), by subject (`sub` alone
//! ends all of that user's sessions), or by operator request. Key names
//! are in [`super::keys`].

use serde::{Deserialize, Serialize};

/// What operators may see of a session, stored unencrypted beside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SessionMeta {
    /// The subject index this session is in.
    pub(crate) sub_index: String,
    /// The provider-session index, if the ID token had a `sid`.
    pub(crate) sid_index: Option<String>,
    /// Login time (Unix seconds).
    pub(crate) created_at: i64,
    /// End of the absolute lifetime (Unix seconds).
    pub(crate) expires_at: i64,
    /// Last recorded activity (Unix seconds; updated at most once a minute).
    pub(crate) last_seen: i64,
}

impl SessionMeta {
    /// JSON form (the Redis scripts read `sub_index`/`sid_index`).
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses [`SessionMeta::to_json`] output.
    pub(crate) fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}
