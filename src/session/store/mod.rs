//! The `SessionStore` trait: a TTL key-value store of sealed records, and
//! its two backends, [`memory::MemoryStore`] (single process, the default)
//! and [`redis::RedisStore`] (shared by any number of pods).
//!
//! Stores only ever see store keys (`bff:…`) and ciphertext; sealing and
//! opening happen in [`super::vault`].

pub(crate) mod instrumented;
pub(crate) mod memory;
pub(crate) mod redis;
mod redis_client;
mod redis_cluster;
mod redis_conn;
pub(crate) mod redis_errors;
mod redis_primaries;
mod redis_resilience;
mod redis_scripts;
mod redis_sentinel;
pub(crate) mod redis_startup;
mod redis_tally;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future (keeps the trait object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store did not answer or answered badly. Never means "no session":
/// callers fail closed with 503 (security case R2).
#[derive(Debug, thiserror::Error)]
#[error("session store error: {0}")]
pub struct StoreError(pub(crate) String);

/// Result of a compare-and-swap write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cas {
    /// The value had the expected prefix and was replaced (TTL kept).
    Swapped,
    /// The value changed since it was read: nothing was written.
    Conflict,
    /// The key is gone (logged out or expired): nothing was written.
    Missing,
}

/// A new session record and where to index it (keys from
/// [`crate::session::index`]).
pub struct NewSession<'a> {
    /// The 22-character session hash (names `bff:s:{h}` and `bff:m:{h}`).
    pub hash: &'a str,
    /// The sealed record.
    pub record: Vec<u8>,
    /// Plaintext metadata (no tokens): see [`crate::session::meta::SessionMeta`].
    pub meta: String,
    /// Index keys the hash is added to (subject, provider session).
    pub indexes: Vec<String>,
    /// Time to live of the record and its metadata (capped by the idle timeout).
    pub ttl: Duration,
    /// Time to live of the index entries: the remaining absolute lifetime,
    /// since activity may keep the session alive that long.
    pub index_ttl: Duration,
}

/// A compare-and-swap write of a session record.
pub struct Swap<'a> {
    /// The 22-character session hash.
    pub hash: &'a str,
    /// The current record must start with these bytes.
    pub expected_prefix: &'a [u8],
    /// The new record.
    pub record: Vec<u8>,
    /// New TTL for record and metadata, or `None` to keep the current one.
    pub ttl: Option<Duration>,
    /// New metadata, or `None` to keep it.
    pub meta: Option<String>,
}

/// A TTL key-value store of sealed records.
pub trait SessionStore: Send + Sync + 'static {
    /// The value under `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Stores `value` under `key` with an absolute time-to-live.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Atomically reads and deletes `key` (one-time records: pending logins).
    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Stores a new session record, its metadata and its index entries
    /// in one atomic step.
    fn put_session<'a>(&'a self, new: NewSession<'a>) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Replaces a session record only if it still starts with the expected
    /// prefix (refresh write-back: a slow writer never overwrites newer
    /// tokens). `ttl: None` keeps the remaining TTL.
    fn compare_and_swap<'a>(&'a self, swap: Swap<'a>) -> BoxFuture<'a, Result<Cas, StoreError>>;
    /// Deletes a session's record and metadata and removes it from its
    /// indexes; returns whether it existed.
    fn remove_session<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Session hashes in an index whose sessions still exist (dead members
    /// are pruned as a side effect).
    fn index_members<'a>(
        &'a self,
        index: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
    /// Metadata of the given sessions (`None` for ones that are gone).
    fn session_meta<'a>(
        &'a self,
        hashes: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, StoreError>>;
    /// Number of live session records.
    fn count_sessions(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// A cheap estimate of the live sessions started within `lifetime`
    /// (the `bff_sessions_active` gauge; never a scan of the keyspace).
    fn estimate_live(&self, lifetime: Duration) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Takes the lock `key` for `lease` if free (`SET NX PX`); `token`
    /// identifies the holder.
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Extends the lease if `token` still holds the lock.
    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Releases the lock if `token` still holds it (compare-and-delete).
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Whether the store answers (readiness).
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// A short name for logs (`memory`, `redis`).
    fn kind(&self) -> &'static str;
}
