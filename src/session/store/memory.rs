//! The in-memory store (moka): per-entry TTLs, one process only. Sessions
//! die with the process and are not shared between replicas.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::{BoxFuture, Cas, NewSession, SessionStore, StoreError, Swap};
use crate::session::index::{SessionMeta, meta_key, record_key};

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
}

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

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.cache.invalidate(key).await;
            Ok(())
        })
    }

    fn put_session<'a>(&'a self, new: NewSession<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let deadline = Instant::now() + new.ttl;
            self.insert(record_key(new.hash), new.record, deadline)
                .await;
            self.insert(meta_key(new.hash), new.meta.into_bytes(), deadline)
                .await;
            self.with_indexes(|indexes| {
                for index in new.indexes {
                    indexes
                        .entry(index)
                        .or_default()
                        .insert(new.hash.to_owned());
                }
            })
        })
    }

    fn compare_and_swap<'a>(&'a self, swap: Swap<'a>) -> BoxFuture<'a, Result<Cas, StoreError>> {
        Box::pin(async move {
            let _serial = self.cas.lock().await;
            let key = record_key(swap.hash);
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
                None => self.cache.get(&meta_key(swap.hash)).await.map(|e| e.value),
            };
            if let Some(meta) = meta {
                self.insert(meta_key(swap.hash), meta, deadline).await;
            }
            Ok(Cas::Swapped)
        })
    }

    fn remove_session<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            // Serialised with compare-and-swap, so a swap cannot resurrect it.
            let _serial = self.cas.lock().await;
            let existed = self.cache.remove(&record_key(hash)).await.is_some();
            let meta = self.cache.remove(&meta_key(hash)).await;
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
        Box::pin(async move {
            let members: Vec<String> = self.with_indexes(|i| {
                i.get(index)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default()
            })?;
            let mut live = Vec::with_capacity(members.len());
            for hash in members {
                if self.cache.contains_key(&record_key(&hash)) {
                    live.push(hash);
                } else {
                    self.with_indexes(|i| i.get_mut(index).map(|s| s.remove(&hash)))?;
                }
            }
            Ok(live)
        })
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
                        .get(&meta_key(hash))
                        .await
                        .map(|e| String::from_utf8_lossy(&e.value).into_owned()),
                );
            }
            Ok(out)
        })
    }

    fn count_sessions(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            self.cache.run_pending_tasks().await;
            Ok(self
                .cache
                .iter()
                .filter(|(k, _)| k.starts_with("bff:s:"))
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
mod tests {
    use super::*;

    #[tokio::test]
    async fn take_is_one_time_and_ttl_expires() {
        let store = MemoryStore::new(100);
        store
            .put("k", b"v".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.take("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(store.take("k").await.unwrap(), None);
        store
            .put("short", b"v".to_vec(), Duration::from_millis(50))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(store.get("short").await.unwrap(), None);
    }

    #[tokio::test]
    async fn compare_and_swap_checks_prefix_and_keeps_deadline() {
        let store = MemoryStore::new(100);
        let swap = |prefix: &'static [u8], record: &[u8]| Swap {
            hash: "h",
            expected_prefix: prefix,
            record: record.to_vec(),
            ttl: None,
            meta: None,
        };
        store
            .put(
                &record_key("h"),
                b"1:old".to_vec(),
                Duration::from_millis(150),
            )
            .await
            .unwrap();
        assert_eq!(
            store.compare_and_swap(swap(b"2:", b"2:x")).await.unwrap(),
            Cas::Conflict
        );
        assert_eq!(
            store.compare_and_swap(swap(b"1:", b"2:new")).await.unwrap(),
            Cas::Swapped
        );
        assert_eq!(
            store.get(&record_key("h")).await.unwrap().as_deref(),
            Some(&b"2:new"[..])
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            store.get(&record_key("h")).await.unwrap(),
            None,
            "swap extended the TTL"
        );
        assert_eq!(
            store.compare_and_swap(swap(b"2:", b"3:")).await.unwrap(),
            Cas::Missing
        );
    }

    #[tokio::test]
    async fn removing_a_session_clears_its_indexes() {
        let store = MemoryStore::new(100);
        let meta = SessionMeta {
            sub_index: "sub".into(),
            sid_index: Some("sid".into()),
            created_at: 1,
            expires_at: 2,
            last_seen: 1,
        };
        let new = |hash| NewSession {
            hash,
            record: b"r".to_vec(),
            meta: meta.to_json(),
            indexes: vec!["sub".into(), "sid".into()],
            ttl: Duration::from_secs(60),
            index_ttl: Duration::from_secs(60),
        };
        store.put_session(new("a")).await.unwrap();
        store.put_session(new("b")).await.unwrap();
        assert_eq!(store.count_sessions().await.unwrap(), 2);
        assert!(store.remove_session("a").await.unwrap());
        assert!(!store.remove_session("a").await.unwrap());
        assert_eq!(
            store.index_members("sub").await.unwrap(),
            vec!["b".to_owned()]
        );
        store.remove_session("b").await.unwrap();
        assert!(store.index_members("sid").await.unwrap().is_empty());
        assert!(
            store.indexes.lock().unwrap().is_empty(),
            "empty index sets left behind"
        );
    }

    #[tokio::test]
    async fn locks_are_exclusive_owned_and_leased() {
        let store = MemoryStore::new(10);
        assert!(
            store
                .try_lock("l", "a", Duration::from_millis(80))
                .await
                .unwrap()
        );
        assert!(
            !store
                .try_lock("l", "b", Duration::from_millis(80))
                .await
                .unwrap()
        );
        store.unlock("l", "b").await.unwrap();
        assert!(
            !store
                .renew_lock("l", "b", Duration::from_secs(1))
                .await
                .unwrap()
        );
        assert!(
            store
                .renew_lock("l", "a", Duration::from_millis(80))
                .await
                .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(
            store
                .try_lock("l", "b", Duration::from_secs(1))
                .await
                .unwrap(),
            "expired lease still held"
        );
    }
}
