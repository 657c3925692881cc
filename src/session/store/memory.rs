//! The in-memory store (moka): per-entry TTLs, one process only. Sessions
//! die with the process and are not shared between replicas.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::{BoxFuture, Cas, NewSession, SessionStore, StoreError, Swap};
use crate::session::keys;
use crate::session::meta::SessionMeta;

#[derive(Clone)]
struct Entry {
    value: Vec<u8>,
    deadline: Instant,
}

/// Entries expire at their absolute deadline, also across updates.
struct Deadline;

impl Expiry<String, Entry> for Deadline {
    fn expire_after_create(&self, _key: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.deadline.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.deadline.saturating_duration_since(now))
    }
}

/// A process-local store with per-entry TTLs.
pub struct MemoryStore {
    cache: Cache<String, Entry>,
    /// Serialises compare-and-swap (and nothing else).
    cas: tokio::sync::Mutex<()>,
    locks: Mutex<HashMap<String, (String, Instant)>>,
    indexes: Mutex<HashMap<String, HashSet<String>>>,
    /// Session writes so far (every [`SWEEP_EVERY`]th sweeps all indexes).
    writes: AtomicU64,
}

/// How many session writes between sweeps of every index.
const SWEEP_EVERY: u64 = 1024;

impl MemoryStore {
    /// An empty store holding at most `capacity` records.
    pub fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(Deadline)
                .build(),
            cas: tokio::sync::Mutex::new(()),
            locks: Mutex::new(HashMap::new()),
            indexes: Mutex::new(HashMap::new()),
            writes: AtomicU64::new(0),
        }
    }

    fn with_indexes<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, HashSet<String>>) -> T,
    ) -> Result<T, StoreError> {
        let mut indexes = self
            .indexes
            .lock()
            .map_err(|_poisoned| StoreError("index table poisoned".into()))?;
        Ok(f(&mut indexes))
    }

    /// The live members of `index`, removing dead ones (and the set, once
    /// empty).
    async fn prune(&self, index: &str) -> Result<Vec<String>, StoreError> {
        let members: Vec<String> = self.with_indexes(|i| {
            i.get(index)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default()
        })?;
        let mut live = Vec::with_capacity(members.len());
        for hash in members {
            if self.cache.contains_key(&keys::record(&hash)) {
                live.push(hash);
            } else {
                self.with_indexes(|i| i.get_mut(index).map(|s| s.remove(&hash)))?;
            }
        }
        self.with_indexes(|i| {
            if i.get(index).is_some_and(HashSet::is_empty) {
                i.remove(index);
            }
        })?;
        Ok(live)
    }

    /// Prunes every index: sets of users who never log in again would
    /// otherwise outlive their sessions forever.
    async fn sweep(&self) -> Result<(), StoreError> {
        let all: Vec<String> = self.with_indexes(|i| i.keys().cloned().collect())?;
        for index in all {
            self.prune(&index).await?;
        }
        Ok(())
    }

    async fn insert(&self, key: String, value: Vec<u8>, deadline: Instant) {
        self.cache.insert(key, Entry { value, deadline }).await;
    }

    fn with_locks<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, (String, Instant)>) -> T,
    ) -> Result<T, StoreError> {
        let mut locks = self
            .locks
            .lock()
            .map_err(|_poisoned| StoreError("lock table poisoned".into()))?;
        let now = Instant::now();
        locks.retain(|_, (_, until)| *until > now);
        Ok(f(&mut locks))
    }
}

impl SessionStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { Ok(self.cache.get(key).await.map(|e| e.value)) })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.cache
                .insert(
                    key.to_owned(),
                    Entry {
                        value,
                        deadline: Instant::now() + ttl,
                    },
                )
                .await;
            Ok(())
        })
    }

    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { Ok(self.cache.remove(key).await.map(|e| e.value)) })
    }

    fn put_session<'a>(&'a self, new: NewSession<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let deadline = Instant::now() + new.ttl;
            self.insert(keys::record(new.hash), new.record, deadline)
                .await;
            self.insert(keys::meta(new.hash), new.meta.into_bytes(), deadline)
                .await;
            self.with_indexes(|indexes| {
                for index in &new.indexes {
                    indexes
                        .entry(index.clone())
                        .or_default()
                        .insert(new.hash.to_owned());
                }
            })?;
            // Pruned on write, not only on read: a user who logs in often
            // would otherwise grow their index without bound (case A4).
            for index in &new.indexes {
                self.prune(index).await?;
            }
            if self.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                self.sweep().await?;
            }
            Ok(())
        })
    }

    fn compare_and_swap<'a>(&'a self, swap: Swap<'a>) -> BoxFuture<'a, Result<Cas, StoreError>> {
        Box::pin(async move {
            let _serial = self.cas.lock().await;
            let key = keys::record(swap.hash);
            let Some(current) = self.cache.get(&key).await else {
                return Ok(Cas::Missing);
            };
            if !current.value.starts_with(swap.expected_prefix) {
                return Ok(Cas::Conflict);
            }
            let deadline = swap
                .ttl
                .map_or(current.deadline, |ttl| Instant::now() + ttl);
            self.insert(key, swap.record, deadline).await;
            let meta = match swap.meta {
                Some(meta) => Some(meta.into_bytes()),
                None => self
                    .cache
                    .get(&keys::meta(swap.hash))
                    .await
                    .map(|e| e.value),
            };
            if let Some(meta) = meta {
                self.insert(keys::meta(swap.hash), meta, deadline).await;
            }
            Ok(Cas::Swapped)
        })
    }

    fn remove_session<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            // Serialised with compare-and-swap, so a swap cannot resurrect it.
            let _serial = self.cas.lock().await;
            let existed = self.cache.remove(&keys::record(hash)).await.is_some();
            let meta = self.cache.remove(&keys::meta(hash)).await;
            let meta =
                meta.and_then(|e| SessionMeta::from_json(&String::from_utf8_lossy(&e.value)));
            if let Some(meta) = meta {
                self.with_indexes(|indexes| {
                    for index in std::iter::once(meta.sub_index).chain(meta.sid_index) {
                        if let Some(set) = indexes.get_mut(&index) {
                            set.remove(hash);
                            if set.is_empty() {
                                indexes.remove(&index);
                            }
                        }
                    }
                })?;
            }
            Ok(existed)
        })
    }

    fn index_members<'a>(
        &'a self,
        index: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(self.prune(index))
    }

    fn session_meta<'a>(
        &'a self,
        hashes: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, StoreError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(hashes.len());
            for hash in hashes {
                out.push(
                    self.cache
                        .get(&keys::meta(hash))
                        .await
                        .map(|e| String::from_utf8_lossy(&e.value).into_owned()),
                );
            }
            Ok(out)
        })
    }

    fn estimate_live(&self, _lifetime: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        // Exact and cheap in memory.
        self.count_sessions()
    }

    fn count_sessions(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            self.cache.run_pending_tasks().await;
            Ok(self
                .cache
                .iter()
                .filter(|(k, _)| k.starts_with(keys::RECORD_PREFIX))
                .count() as u64)
        })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.with_locks(|locks| {
                if locks.contains_key(key) {
                    return false;
                }
                locks.insert(key.to_owned(), (token.to_owned(), Instant::now() + lease));
                true
            })
        })
    }

    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.with_locks(|locks| match locks.get_mut(key) {
                Some((holder, until)) if holder == token => {
                    *until = Instant::now() + lease;
                    true
                }
                _ => false,
            })
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with_locks(|locks| {
                if locks.get(key).is_some_and(|(holder, _)| holder == token) {
                    locks.remove(key);
                }
            })
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests;
