//! The `SessionStore` trait: a TTL key-value store of sealed records, and
//! its two backends, [`memory::MemoryStore`] (single process, the default)
//! and [`redis::RedisStore`] (shared by any number of pods).
//!
//! Stores only ever see store keys (`bff:…`) and ciphertext; sealing and
//! opening happen in [`super::vault`].

pub mod memory;
pub mod redis;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future (keeps the trait object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store did not answer or answered badly. Never means "no session":
/// callers fail closed with 503 (security case R2).
#[derive(Debug, thiserror::Error)]
#[error("session store error: {0}")]
pub struct StoreError(pub String);

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

/// A TTL key-value store of sealed records.
pub trait SessionStore: Send + Sync + 'static {
    /// The value under `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Stores `value` under `key` with an absolute time-to-live.
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Atomically reads and deletes `key` (one-time records: pending logins).
    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Deletes `key`; deleting a missing key is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Replaces the value under `key` only if it still starts with
    /// `expected_prefix`, keeping the key's remaining TTL (refresh
    /// write-back: a slow writer never overwrites newer tokens).
    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected_prefix: &'a [u8],
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<Cas, StoreError>>;
    /// Takes the lock `key` for `lease` if free (`SET NX PX`); `token`
    /// identifies the holder.
    fn try_lock<'a>(&'a self, key: &'a str, token: &'a str, lease: Duration) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Extends the lease if `token` still holds the lock.
    fn renew_lock<'a>(&'a self, key: &'a str, token: &'a str, lease: Duration) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Releases the lock if `token` still holds it (compare-and-delete).
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Whether the store answers (readiness).
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// A short name for logs (`memory`, `redis`).
    fn kind(&self) -> &'static str;
}
