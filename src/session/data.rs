//! The plaintext of a session record (serialised with MessagePack, then
//! sealed). Holds tokens, so it is zeroized on drop and its `Debug` shows
//! no token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::signing::dpop_key::DpopKey;

/// Display claims shown to the SPA by `/auth/session`.
#[derive(Clone, Default, Serialize, Deserialize, Zeroize, PartialEq, Eq, Debug)]
pub struct DisplayClaims {
    /// `name` claim.
    pub name: Option<String>,
    /// `email` claim.
    pub email: Option<String>,
    /// `preferred_username` claim.
    pub preferred_username: Option<String>,
}

/// One login's server-side state.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct SessionData {
    /// Bearer access token sent upstream.
    pub access_token: String,
    /// When the access token expires (Unix seconds).
    pub access_expires_at: i64,
    /// When the access token was obtained (Unix seconds; 0 if unknown).
    #[serde(default)]
    pub access_issued_at: i64,
    /// Refresh token, if the provider issued one.
    pub refresh_token: Option<String>,
    /// The last ID token, kept for `id_token_hint` (RP-Initiated Logout §2).
    pub id_token: String,
    /// Subject (`sub`).
    pub sub: String,
    /// Provider session ID (`sid`), for back-channel logout.
    pub sid: Option<String>,
    /// Display claims.
    pub claims: DisplayClaims,
    /// Login time (Unix seconds).
    pub created_at: i64,
    /// End of the absolute lifetime (Unix seconds); never moves.
    pub absolute_expires_at: i64,
    /// Last time the session was seen (Unix seconds).
    pub last_seen: i64,
    /// Incremented on every write (compare-and-set on refresh).
    pub version: u64,
    /// The login `nonce`: a refreshed ID token's nonce must be absent or
    /// equal to it (OIDC Core §12.2).
    #[serde(default)]
    pub nonce: String,
    /// Per-session secret for `GET /auth/logout?sid=` (CSRF-safe logout link).
    pub logout_token: String,
    /// The session's DPoP key when its tokens are DPoP-bound (RFC 9449):
    /// the base64url PKCS#8 private key and the proof header, sealed with
    /// the tokens it binds (see `signing::dpop_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop: Option<DpopMaterial>,
}

/// A session's DPoP key as stored in its sealed bundle.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct DpopMaterial {
    /// base64url PKCS#8 DER of the P-256 private key.
    pub key: String,
    /// The encoded protected header of its proofs.
    pub header: String,
}

impl std::fmt::Debug for SessionData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionData")
            .field("sub", &self.sub)
            .field("access_expires_at", &self.access_expires_at)
            .field("absolute_expires_at", &self.absolute_expires_at)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

// === impl SessionData ===

impl SessionData {
    /// MessagePack encoding (field names kept, so records stay readable by
    /// later versions that add fields).
    pub(crate) fn to_bytes(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, rmp_serde::encode::Error> {
        rmp_serde::to_vec_named(self).map(zeroize::Zeroizing::new)
    }

    /// Decodes [`SessionData::to_bytes`] output.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, rmp_serde::decode::Error> {
        rmp_serde::from_slice(bytes)
    }

    /// The session's DPoP key, if its tokens are DPoP-bound and the stored
    /// key is intact.
    pub(crate) fn dpop_key(&self) -> Option<DpopKey> {
        let material = self.dpop.as_ref()?;
        let der = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.decode(&material.key).ok()?);
        DpopKey::restore(&der, &material.header).ok()
    }

    /// Seconds of absolute lifetime left (0 when over).
    pub(crate) fn remaining_secs(&self, now: i64) -> u64 {
        u64::try_from(self.absolute_expires_at.saturating_sub(now)).unwrap_or(0)
    }

    /// Whether `last_seen` is old enough to record activity again: once a
    /// minute, or every tenth of the idle timeout if that is shorter (not
    /// a store write per request).
    pub(crate) fn activity_due(&self, idle: Option<std::time::Duration>) -> bool {
        due(self.last_seen, idle, super::now_unix())
    }
}

fn due(last_seen: i64, idle: Option<std::time::Duration>, now: i64) -> bool {
    let every = idle.map_or(60, |idle| (idle.as_secs() / 10).clamp(1, 60));
    now.saturating_sub(last_seen) >= i64::try_from(every).unwrap_or(60)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::due;

    #[test]
    fn activity_is_recorded_once_a_minute_or_a_tenth_of_the_idle_timeout() {
        assert!(!due(970, None, 1000));
        assert!(due(939, None, 1000));
        let idle = Some(Duration::from_secs(100));
        assert!(!due(995, idle, 1000));
        assert!(due(989, idle, 1000));
    }
}
