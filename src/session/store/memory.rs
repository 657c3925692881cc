//! The in-memory store (moka): per-entry TTLs, one process only. Sessions
//! die with the process and are not shared between replicas.

use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::{BoxFuture, SessionStore, StoreError};

#[derive(Clone)]
struct Entry {
    value: Vec<u8>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(&self, _key: &String, entry: &Entry, _now: Instant, _left: Option<Duration>) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// A process-local store with per-entry TTLs.
pub struct MemoryStore {
    cache: Cache<String, Entry>,
}

impl MemoryStore {
    /// An empty store holding at most `capacity` records.
    pub fn new(capacity: u64) -> Self {
        Self { cache: Cache::builder().max_capacity(capacity).expire_after(PerEntryTtl).build() }
    }
}

impl SessionStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { Ok(self.cache.get(key).await.map(|e| e.value)) })
    }

    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.cache.insert(key.to_owned(), Entry { value, ttl }).await;
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
}
