//! How the vault reads and invalidates session records: through the
//! session cache when it is on (a hit only under its lease, a miss admitted
//! only if nothing invalidated the key meanwhile), straight from the store
//! otherwise or when asked for a fresh read, and from the cache in outage
//! grace when the store cannot be reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::session::cache::{SessionCache, Ticket};
use crate::session::{SessionData, SessionStore, StoreError, now_unix};

/// A record read for opening, and what admitting it into the cache needs.
pub(super) struct Read {
    pub(super) record: Arc<[u8]>,
    /// Set when the record came from Redis with the cache on.
    ticket: Option<Ticket>,
}

/// Reads `key` through `cache` (if any).
pub(super) async fn read(
    store: &dyn SessionStore,
    cache: Option<&SessionCache>,
    key: &str,
) -> Result<Option<Read>, StoreError> {
    let Some(cache) = cache.filter(|c| c.enabled()) else {
        return fresh(store, key).await;
    };
    if let Some(record) = cache.hit(key) {
        return Ok(Some(Read {
            record,
            ticket: None,
        }));
    }
    let ticket = cache.ticket(key);
    match store.get(key).await {
        Ok(record) => Ok(record.map(|record| Read {
            record: record.into(),
            ticket: Some(ticket),
        })),
        Err(err) => match cache.grace_hit(key) {
            Some(record) => Ok(Some(Read {
                record,
                ticket: None,
            })),
            None => Err(err),
        },
    }
}

/// Reads `key` from the store, never from the cache (refresh decisions).
pub(super) async fn fresh(store: &dyn SessionStore, key: &str) -> Result<Option<Read>, StoreError> {
    Ok(store.get(key).await?.map(|record| Read {
        record: record.into(),
        ticket: None,
    }))
}

/// Caches a record that opened into the live session `data`, until the
/// earliest of its absolute and idle deadlines.
pub(super) fn admit(
    cache: Option<&SessionCache>,
    key: &str,
    read: Read,
    data: &SessionData,
    idle: Option<Duration>,
) {
    let (Some(cache), Some(ticket)) = (cache, read.ticket) else {
        return;
    };
    let now = now_unix();
    let absolute = data.absolute_expires_at.saturating_sub(now);
    let idle_left = idle.map_or(i64::MAX, |idle| {
        let idle = i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        data.last_seen.saturating_add(idle).saturating_sub(now)
    });
    let left = u64::try_from(absolute.min(idle_left)).unwrap_or(0);
    cache.admit(
        key,
        &ticket,
        read.record,
        Instant::now() + Duration::from_secs(left),
    );
}

/// Runs the write `write` of `key`, evicting the local entry before it is
/// sent and again once it is acknowledged (a read that started between the
/// two is not admitted: its ticket predates the second eviction).
pub(super) async fn evicting<T>(
    cache: Option<&SessionCache>,
    key: &str,
    write: impl Future<Output = T>,
) -> T {
    if let Some(cache) = cache {
        cache.evict(key);
    }
    let done = write.await;
    if let Some(cache) = cache {
        cache.evict(key);
    }
    done
}
