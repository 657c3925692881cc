//! The in-memory store (moka): per-entry TTLs, one process only. Sessions
//! die with the process and are not shared between replicas.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::{BoxFuture, Cas, SessionStore, StoreError};

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

    fn expire_after_update(&self, _key: &String, entry: &Entry, now: Instant, _left: Option<Duration>) -> Option<Duration> {
        Some(entry.deadline.saturating_duration_since(now))
    }
}

/// A process-local store with per-entry TTLs.
pub struct MemoryStore {
    cache: Cache<String, Entry>,
    /// Serialises compare-and-swap (and nothing else).
    cas: tokio::sync::Mutex<()>,
    locks: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryStore {
    /// An empty store holding at most `capacity` records.
    pub fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder().max_capacity(capacity).expire_after(Deadline).build(),
            cas: tokio::sync::Mutex::new(()),
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn with_locks<T>(&self, f: impl FnOnce(&mut HashMap<String, (String, Instant)>) -> T) -> Result<T, StoreError> {
        let mut locks = self.locks.lock().map_err(|_poisoned| StoreError("lock table poisoned".into()))?;
        let now = Instant::now();
        locks.retain(|_, (_, until)| *until > now);
        Ok(f(&mut locks))
    }
}

impl SessionStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { Ok(self.cache.get(key).await.map(|e| e.value)) })
    }

    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.cache.insert(key.to_owned(), Entry { value, deadline: Instant::now() + ttl }).await;
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

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected_prefix: &'a [u8],
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<Cas, StoreError>> {
        Box::pin(async move {
            let _serial = self.cas.lock().await;
            let Some(current) = self.cache.get(key).await else { return Ok(Cas::Missing) };
            if !current.value.starts_with(expected_prefix) {
                return Ok(Cas::Conflict);
            }
            self.cache.insert(key.to_owned(), Entry { value, deadline: current.deadline }).await;
            Ok(Cas::Swapped)
        })
    }

    fn try_lock<'a>(&'a self, key: &'a str, token: &'a str, lease: Duration) -> BoxFuture<'a, Result<bool, StoreError>> {
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

    fn renew_lock<'a>(&'a self, key: &'a str, token: &'a str, lease: Duration) -> BoxFuture<'a, Result<bool, StoreError>> {
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
        store.put("k", b"v".to_vec(), Duration::from_secs(60)).await.unwrap();
        assert_eq!(store.take("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(store.take("k").await.unwrap(), None);
        store.put("short", b"v".to_vec(), Duration::from_millis(50)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(store.get("short").await.unwrap(), None);
    }

    #[tokio::test]
    async fn compare_and_swap_checks_prefix_and_keeps_deadline() {
        let store = MemoryStore::new(100);
        store.put("k", b"1:old".to_vec(), Duration::from_millis(150)).await.unwrap();
        assert_eq!(store.compare_and_swap("k", b"2:", b"2:x".to_vec()).await.unwrap(), Cas::Conflict);
        assert_eq!(store.compare_and_swap("k", b"1:", b"2:new".to_vec()).await.unwrap(), Cas::Swapped);
        assert_eq!(store.get("k").await.unwrap().as_deref(), Some(&b"2:new"[..]));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(store.get("k").await.unwrap(), None, "swap extended the TTL");
        assert_eq!(store.compare_and_swap("k", b"2:", b"3:".to_vec()).await.unwrap(), Cas::Missing);
    }

    #[tokio::test]
    async fn locks_are_exclusive_owned_and_leased() {
        let store = MemoryStore::new(10);
        assert!(store.try_lock("l", "a", Duration::from_millis(80)).await.unwrap());
        assert!(!store.try_lock("l", "b", Duration::from_millis(80)).await.unwrap());
        store.unlock("l", "b").await.unwrap();
        assert!(!store.renew_lock("l", "b", Duration::from_secs(1)).await.unwrap());
        assert!(store.renew_lock("l", "a", Duration::from_millis(80)).await.unwrap());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(store.try_lock("l", "b", Duration::from_secs(1)).await.unwrap(), "expired lease still held");
    }
}
