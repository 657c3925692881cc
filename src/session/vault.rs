//! `Vault`: sealed session and pending-login records on top of a
//! [`SessionStore`]. The only place that pairs store keys with encryption.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::keys::{self, sid_index, subject_index};
use super::meta::SessionMeta;
use super::store::{Cas, NewSession, Swap};
use super::{SessionData, SessionId, SessionStore, StoreError, now_unix};
use crate::crypto::Keyring;

/// How long a started login may take (architecture: pending logins, 10 min).
pub(crate) const PENDING_LOGIN_TTL: Duration = Duration::from_secs(600);

/// A started login, parked server-side between `/auth/login` and
/// `/auth/callback` (RFC 9700 §2.1.1: verifier and nonce per transaction,
/// bound to the browser).
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PendingLogin {
    /// PKCE code verifier (RFC 7636 §4.1).
    pub(crate) pkce_verifier: String,
    /// The `nonce` sent in the authorization request.
    pub(crate) nonce: String,
    /// Validated local path to return to.
    pub(crate) return_to: String,
    /// `hash22` of the browser-binding cookie value.
    pub(crate) binding_hash: String,
    /// Hash of the session the browser had when the login started: ended
    /// at the callback, whose cross-site redirect carries no `SameSite=Strict`
    /// cookie (session fixation, ASVS 5 §7.2.4).
    #[serde(default)]
    pub(crate) previous_session: Option<String>,
}

/// Sealed records in a store.
#[derive(Clone)]
pub(crate) struct Vault {
    store: Arc<dyn SessionStore>,
    keys: Keyring,
    /// The provider's issuer: index keys are scoped to it.
    issuer: String,
    /// Idle timeout, if enabled.
    idle: Option<Duration>,
}

// === impl Vault ===

impl Vault {
    /// A vault over `store`, sealing with `keys`; indexes are scoped to
    /// `issuer`; `idle` enables the idle timeout.
    pub(crate) fn new(
        store: Arc<dyn SessionStore>,
        keys: Keyring,
        issuer: String,
        idle: Option<Duration>,
    ) -> Self {
        Self {
            store,
            keys,
            issuer,
            idle,
        }
    }

    /// The idle timeout, if enabled.
    pub(crate) fn idle_timeout(&self) -> Option<Duration> {
        self.idle
    }

    /// Store TTL of a session: remaining absolute lifetime, capped by the
    /// idle timeout (ASVS 5 §7.3.1–7.3.2).
    fn ttl_for(&self, data: &SessionData) -> Duration {
        let absolute = Duration::from_secs(data.remaining_secs(now_unix()));
        self.idle.map_or(absolute, |idle| absolute.min(idle))
    }

    fn meta_for(&self, data: &SessionData) -> SessionMeta {
        SessionMeta {
            sub_index: subject_index(&self.issuer, &data.sub),
            sid_index: data.sid.as_deref().map(|sid| sid_index(&self.issuer, sid)),
            created_at: data.created_at,
            expires_at: data.absolute_expires_at,
            last_seen: data.last_seen,
        }
    }

    /// The underlying store (readiness checks).
    pub(crate) fn store(&self) -> &dyn SessionStore {
        self.store.as_ref()
    }

    /// Stores a new session under a fresh ID with TTL = remaining absolute
    /// lifetime. Always a new ID (ASVS 5 §7.2.4: new session at login).
    pub(crate) async fn create(&self, data: &SessionData) -> Result<SessionId, StoreError> {
        let id = SessionId::generate().map_err(|_err| StoreError("no OS randomness".into()))?;
        self.save(&id, data).await?;
        Ok(id)
    }

    /// Stores the session with its metadata and index entries.
    async fn save(&self, id: &SessionId, data: &SessionData) -> Result<(), StoreError> {
        let ttl = self.ttl_for(data);
        if ttl.is_zero() {
            return Ok(());
        }
        let hash = id.hash();
        let meta = self.meta_for(data);
        let indexes = std::iter::once(meta.sub_index.clone())
            .chain(meta.sid_index.clone())
            .collect();
        let record = self.seal_session(id, &id.store_key(), data)?;
        let index_ttl = Duration::from_secs(data.remaining_secs(now_unix()));
        self.store
            .put_session(NewSession {
                hash: &hash,
                record,
                meta: meta.to_json(),
                indexes,
                ttl,
                index_ttl,
            })
            .await
    }

    /// Replaces the session written at `previous_version` with `data`
    /// (whose version must be higher), keeping the store TTL: the absolute
    /// lifetime never moves. A concurrent newer write wins (`Cas::Conflict`).
    pub(crate) async fn replace(
        &self,
        id: &SessionId,
        previous_version: u64,
        data: &SessionData,
    ) -> Result<Cas, StoreError> {
        self.swap(id, previous_version, data, None).await
    }

    /// Records activity if it is due ([`SessionData::activity_due`]): the new
    /// session if it was written, else `None` (not due, or a concurrent
    /// write won).
    pub(crate) async fn record_activity(
        &self,
        id: &SessionId,
        current: &SessionData,
    ) -> Result<Option<SessionData>, StoreError> {
        if !current.activity_due(self.idle) {
            return Ok(None);
        }
        self.touch(id, current).await
    }

    /// Records activity: `last_seen = now` and, with an idle timeout, a
    /// store TTL of min(remaining absolute, idle). Never past the absolute end.
    pub(crate) async fn touch(
        &self,
        id: &SessionId,
        current: &SessionData,
    ) -> Result<Option<SessionData>, StoreError> {
        let mut next = current.clone();
        next.version = current.version + 1;
        next.last_seen = now_unix();
        let ttl = self.ttl_for(&next);
        match self.swap(id, current.version, &next, Some(ttl)).await? {
            Cas::Swapped => Ok(Some(next)),
            Cas::Conflict | Cas::Missing => Ok(None),
        }
    }

    async fn swap(
        &self,
        id: &SessionId,
        previous_version: u64,
        data: &SessionData,
        ttl: Option<Duration>,
    ) -> Result<Cas, StoreError> {
        let hash = id.hash();
        let record = self.seal_session(id, &id.store_key(), data)?;
        let expected = previous_version.to_be_bytes();
        let meta = Some(self.meta_for(data).to_json());
        self.store
            .compare_and_swap(Swap {
                hash: &hash,
                expected_prefix: &expected,
                record,
                ttl,
                meta,
            })
            .await
    }

    /// `version (8 bytes, big-endian) | envelope`; the version is bound
    /// into the AAD so it cannot be altered without failing the tag.
    fn seal_session(
        &self,
        id: &SessionId,
        key: &str,
        data: &SessionData,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = data
            .to_bytes()
            .map_err(|_err| StoreError("cannot encode session".into()))?;
        let version = data.version.to_be_bytes();
        let aad = session_aad(key, &version);
        let sealed = self
            .keys
            .seal(id.as_bytes(), &aad, &plain)
            .map_err(|_err| StoreError("cannot seal session".into()))?;
        let mut record = Vec::with_capacity(8 + sealed.len());
        record.extend_from_slice(&version);
        record.extend_from_slice(&sealed);
        Ok(record)
    }

    fn open_session(
        &self,
        id: &SessionId,
        key: &str,
        record: &[u8],
    ) -> Result<SessionData, String> {
        let (version, sealed) = record.split_at_checked(8).ok_or("truncated record")?;
        let plain = self
            .keys
            .open(id.as_bytes(), &session_aad(key, version), sealed)
            .map_err(|e| e.to_string())?;
        let data =
            SessionData::from_bytes(&plain).map_err(|_err| "undecodable plaintext".to_owned())?;
        if data.version.to_be_bytes() != version {
            return Err("version prefix mismatch".into());
        }
        Ok(data)
    }

    /// Loads and opens the session for `id`. A record that fails to open
    /// (tampered, copied, retired key) counts as no session and is logged
    /// as an integrity event (security cases R5, R6, R7).
    pub(crate) async fn load(&self, id: &SessionId) -> Result<Option<SessionData>, StoreError> {
        let key = id.store_key();
        let Some(record) = self.store.get(&key).await? else {
            return Ok(None);
        };
        match self.open_session(id, &key, &record) {
            Ok(data) if data.absolute_expires_at > now_unix() && !self.idle_expired(&data) => {
                Ok(Some(data))
            }
            Ok(_) => Ok(None),
            Err(reason) => {
                tracing::warn!(session = %id.log_id(), reason, "session record failed integrity check");
                Ok(None)
            }
        }
    }

    fn idle_expired(&self, data: &SessionData) -> bool {
        self.idle.is_some_and(|idle| {
            now_unix().saturating_sub(data.last_seen)
                > i64::try_from(idle.as_secs()).unwrap_or(i64::MAX)
        })
    }

    /// Ends the session for `id` (record, metadata, index entries).
    pub(crate) async fn end(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.store.remove_session(&id.hash()).await
    }

    /// Ends the session named by its hash (operators, back-channel logout).
    pub(crate) async fn end_by_hash(&self, hash: &str) -> Result<bool, StoreError> {
        self.store.remove_session(hash).await
    }

    /// Ends every session of `sub`; returns how many there were.
    pub(crate) async fn end_subject(&self, sub: &str) -> Result<usize, StoreError> {
        let members = self
            .store
            .index_members(&subject_index(&self.issuer, sub))
            .await?;
        self.end_all(&members).await
    }

    /// Ends the sessions of provider session `sid` (only those of `sub`
    /// when given: OIDC Back-Channel Logout §2.7).
    pub(crate) async fn end_provider_session(
        &self,
        sid: &str,
        sub: Option<&str>,
    ) -> Result<usize, StoreError> {
        let mut members = self
            .store
            .index_members(&sid_index(&self.issuer, sid))
            .await?;
        if let Some(sub) = sub {
            let of_subject = self
                .store
                .index_members(&subject_index(&self.issuer, sub))
                .await?;
            members.retain(|m| of_subject.contains(m));
        }
        self.end_all(&members).await
    }

    async fn end_all(&self, hashes: &[String]) -> Result<usize, StoreError> {
        let mut ended = 0;
        for hash in hashes {
            ended += usize::from(self.store.remove_session(hash).await?);
        }
        Ok(ended)
    }

    /// The live sessions of `sub`: hash and metadata.
    pub(crate) async fn list_subject(
        &self,
        sub: &str,
    ) -> Result<Vec<(String, SessionMeta)>, StoreError> {
        let hashes = self
            .store
            .index_members(&subject_index(&self.issuer, sub))
            .await?;
        let metas = self.store.session_meta(&hashes).await?;
        Ok(hashes
            .into_iter()
            .zip(metas)
            .filter_map(|(hash, meta)| Some((hash, SessionMeta::from_json(&meta?)?)))
            .collect())
    }

    /// Number of live sessions.
    pub(crate) async fn count(&self) -> Result<u64, StoreError> {
        self.store.count_sessions().await
    }

    /// Parks a pending login under `bff:login:{hash(state)}` for 10 minutes.
    pub(crate) async fn put_pending(
        &self,
        state: &str,
        pending: &PendingLogin,
    ) -> Result<(), StoreError> {
        let key = keys::pending_login(state);
        let plain = zeroize::Zeroizing::new(
            rmp_serde::to_vec_named(pending)
                .map_err(|_err| StoreError("cannot encode login".into()))?,
        );
        let sealed = self
            .keys
            .seal(state.as_bytes(), key.as_bytes(), &plain)
            .map_err(|_err| StoreError("cannot seal login".into()))?;
        self.store.put(&key, sealed, PENDING_LOGIN_TTL).await
    }

    /// Reads the pending login for `state` without using it up, so the
    /// callback can check its browser binding before spending it (a
    /// stranger who saw the `state` cannot burn the victim's login).
    pub(crate) async fn peek_pending(
        &self,
        state: &str,
    ) -> Result<Option<PendingLogin>, StoreError> {
        let key = keys::pending_login(state);
        let Some(sealed) = self.store.get(&key).await? else {
            return Ok(None);
        };
        Ok(self.open_pending(state, &key, &sealed))
    }

    /// Takes (reads and deletes, one use) the pending login for `state`.
    pub(crate) async fn take_pending(
        &self,
        state: &str,
    ) -> Result<Option<PendingLogin>, StoreError> {
        let key = keys::pending_login(state);
        let Some(sealed) = self.store.take(&key).await? else {
            return Ok(None);
        };
        Ok(self.open_pending(state, &key, &sealed))
    }

    fn open_pending(&self, state: &str, key: &str, sealed: &[u8]) -> Option<PendingLogin> {
        let Ok(plain) = self.keys.open(state.as_bytes(), key.as_bytes(), sealed) else {
            tracing::warn!("pending login failed integrity check");
            return None;
        };
        rmp_serde::from_slice(&plain).ok()
    }
}

/// AAD of a session record: its store key and its version prefix.
fn session_aad(key: &str, version: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(key.len() + version.len());
    aad.extend_from_slice(key.as_bytes());
    aad.extend_from_slice(version);
    aad
}
