//! `Vault`: sealed session and pending-login records on top of a
//! [`SessionStore`]. The only place that pairs store keys with encryption.

use std::sync::Arc;
use std::time::Duration;

mod pending;
mod reads;
mod sealing;

use super::cache::SessionCache;
use super::key_holders;
use super::keys;
use super::keys::{sid_index, subject_index};
use super::meta::SessionMeta;
use super::store::{Cas, NewSession, Swap};
use super::{SessionData, SessionId, SessionStore, StoreError, now_unix};
use crate::crypto::Keyring;
pub(crate) use sealing::Loaded;
use sealing::{OpenFailure, open_session, seal_session};

pub(crate) use pending::PendingLogin;

/// Sealed records in a store.
#[derive(Clone)]
pub(crate) struct Vault {
    store: Arc<dyn SessionStore>,
    keys: Keyring,
    /// The provider's issuer: index keys are scoped to it.
    issuer: String,
    /// Idle timeout, if enabled.
    idle: Option<Duration>,
    /// The session cache, if on.
    cache: Option<Arc<SessionCache>>,
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
            cache: None,
        }
    }

    /// The same vault reading session records through `cache`.
    pub(crate) fn with_cache(mut self, cache: Arc<SessionCache>) -> Self {
        self.cache = Some(cache);
        self
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

    /// The underlying store, shared (background tasks).
    pub(crate) fn shared_store(&self) -> Arc<dyn SessionStore> {
        Arc::clone(&self.store)
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
        let record = seal_session(&self.keys, id, &id.store_key(), data)?;
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
        let record = seal_session(&self.keys, id, &id.store_key(), data)?;
        let expected = previous_version.to_be_bytes();
        let meta = Some(self.meta_for(data).to_json());
        let swap = self.store.compare_and_swap(Swap {
            hash: &hash,
            expected_prefix: &expected,
            record,
            ttl,
            meta,
        });
        reads::evicting(self.cache.as_deref(), &id.store_key(), swap).await
    }

    /// Loads and opens the session for `id` (see [`Vault::open`]).
    pub(crate) async fn load(&self, id: &SessionId) -> Result<Option<SessionData>, StoreError> {
        Ok(self.open(id).await?.map(|loaded| loaded.data))
    }

    /// Loads and opens the session for `id`, saying which key sealed it. A
    /// tampered or copied record is no session, logged (cases R5, R6). One
    /// sealed with a key this pod lacks is a 503 (cookie kept) while a live
    /// pod holds that key, and no session once none does (R7, R11).
    pub(crate) async fn open(&self, id: &SessionId) -> Result<Option<Loaded>, StoreError> {
        let key = id.store_key();
        let read = reads::read(self.store(), self.cache.as_deref(), &key).await?;
        self.open_read(id, &key, read).await
    }

    /// Like [`Vault::load`], but always from the store, never the cache
    /// (refresh decisions and the refresh lock path).
    pub(crate) async fn load_fresh(
        &self,
        id: &SessionId,
    ) -> Result<Option<SessionData>, StoreError> {
        let key = id.store_key();
        let read = reads::fresh(self.store(), &key).await?;
        Ok(self
            .open_read(id, &key, read)
            .await?
            .map(|loaded| loaded.data))
    }

    async fn open_read(
        &self,
        id: &SessionId,
        key: &str,
        read: Option<reads::Read>,
    ) -> Result<Option<Loaded>, StoreError> {
        let Some(read) = read else {
            return Ok(None);
        };
        match open_session(&self.keys, id, key, &read.record) {
            Ok(loaded) if self.live(&loaded.data) => {
                reads::admit(self.cache.as_deref(), key, read, &loaded.data, self.idle);
                Ok(Some(loaded))
            }
            Ok(_) => Ok(None),
            Err(OpenFailure::AbsentKey(kid)) => self.absent_key(id, &kid).await,
            Err(OpenFailure::Integrity(reason)) => {
                tracing::warn!(session = %id.log_id(), reason, "session record failed integrity check");
                Ok(None)
            }
        }
    }

    /// A record sealed with master key `kid`, which this pod lacks.
    async fn absent_key(&self, id: &SessionId, kid: &str) -> Result<Option<Loaded>, StoreError> {
        if key_holders::held(self.store(), kid).await? {
            tracing::error!(
                session = %id.log_id(), key_id = kid,
                "session sealed with a key another pod holds and this one lacks: 503, cookie kept \
                 (roll a new key out as decrypt-only on every pod before promoting it)"
            );
            return Err(StoreError(format!(
                "session sealed with key `{kid}`, which this pod does not hold"
            )));
        }
        tracing::info!(session = %id.log_id(), key_id = kid, "session sealed with a removed key; it is over");
        Ok(None)
    }

    fn live(&self, data: &SessionData) -> bool {
        data.absolute_expires_at > now_unix() && !self.idle_expired(data)
    }

    fn idle_expired(&self, data: &SessionData) -> bool {
        self.idle.is_some_and(|idle| {
            now_unix().saturating_sub(data.last_seen)
                > i64::try_from(idle.as_secs()).unwrap_or(i64::MAX)
        })
    }

    /// Ends the session for `id` (record, metadata, index entries).
    pub(crate) async fn end(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.end_by_hash(&id.hash()).await
    }

    /// Ends the session named by its hash (operators, back-channel logout).
    pub(crate) async fn end_by_hash(&self, hash: &str) -> Result<bool, StoreError> {
        let remove = self.store.remove_session(hash);
        reads::evicting(self.cache.as_deref(), &keys::record(hash), remove).await
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
            ended += usize::from(self.end_by_hash(hash).await?);
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
        pending::put(self.store(), &self.keys, state, pending).await
    }

    /// Reads the pending login for `state` without using it up (the
    /// callback checks the browser binding before spending it).
    pub(crate) async fn peek_pending(
        &self,
        state: &str,
    ) -> Result<Option<PendingLogin>, StoreError> {
        pending::peek(self.store(), &self.keys, state).await
    }

    /// Takes (reads and deletes, one use) the pending login for `state`.
    pub(crate) async fn take_pending(
        &self,
        state: &str,
    ) -> Result<Option<PendingLogin>, StoreError> {
        pending::take(self.store(), &self.keys, state).await
    }
}
