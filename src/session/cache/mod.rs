//! The session cache: sealed session records held in process memory,
//! shared by every worker, bounded in bytes, and kept exact by Redis
//! client-side caching (see `ARCHITECTURE.md`, "Session cache and the
//! consistency promise").
//!
//! - A hit is served only under the [`lease::Lease`] the
//!   [`listener`] renews; without one every load reads Redis, as with no
//!   cache at all.
//! - Misses are admitted only if no invalidation of the key's stripe and no
//!   flush happened since the read was started (data and invalidations
//!   travel on different connections: the insert-after-invalidation race).
//! - A write from this pod evicts the local entry before it is sent and
//!   again once it is acknowledged.
//!
//! Records stay sealed here (opened per hit, as from Redis): the cache
//! holds no more plaintext than Redis itself does.

mod lease;
pub(crate) mod listener;
mod records;

use std::sync::Arc;

use crate::config::CacheOptions;
use crate::metrics::CacheMetrics;
use crate::session::store::redis::RedisStore;
pub(crate) use records::{SessionCache, Ticket};
use tokio_util::sync::CancellationToken;

/// The session cache over `store`, with its listener running until
/// `shutdown`; `None` when `BFF_SESSION_CACHE=off`.
pub(crate) fn start(
    options: &CacheOptions,
    metrics: CacheMetrics,
    store: Arc<RedisStore>,
    shutdown: CancellationToken,
) -> Option<Arc<SessionCache>> {
    if !options.enabled {
        metrics.enabled.set(0);
        return None;
    }
    let cache = SessionCache::new(options.clone(), metrics);
    listener::spawn(Arc::clone(&cache), store, shutdown);
    Some(cache)
}
