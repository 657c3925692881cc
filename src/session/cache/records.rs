//! The cache's records and the bookkeeping that keeps them exact: per-stripe
//! invalidation counters and a flush generation that a miss must see
//! unchanged to admit its reply, and the lease every hit is served under.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::lease::Lease;
use crate::config::CacheOptions;
use crate::metrics::CacheMetrics;

/// Stripes of the invalidation counters (a power of two).
const STRIPES: usize = 64;

/// Longest an entry is kept, whatever the session's own deadlines.
const MAX_TTL: Duration = Duration::from_secs(60);

/// Bytes an entry costs beyond its record (key, map and bookkeeping).
const ENTRY_OVERHEAD: usize = 160;

/// One cached record.
struct Entry {
    record: Arc<[u8]>,
    /// Never served after this (the earliest of [`MAX_TTL`] and the
    /// session's absolute and idle deadlines).
    until: Instant,
    /// When a hit last came under a valid lease (outage grace).
    served_at: AtomicU64,
}

/// What a miss saw before it read Redis (see [`SessionCache::ticket`]).
pub(crate) struct Ticket {
    stripe: usize,
    invalidations: u64,
    generation: u64,
}

/// Sealed session records in memory, shared by the process's workers.
pub(crate) struct SessionCache {
    entries: moka::sync::Cache<String, Arc<Entry>>,
    /// Per-stripe invalidation counters; a stripe's lock also orders its
    /// admissions against its invalidations.
    stripes: Box<[Mutex<u64>]>,
    /// Bumped by every flush, under every stripe lock.
    generation: AtomicU64,
    lease: Lease,
    /// Off when Redis refused `CLIENT TRACKING`.
    enabled: AtomicBool,
    pub(super) options: CacheOptions,
    pub(super) metrics: CacheMetrics,
}

impl SessionCache {
    /// An empty cache with no lease yet.
    pub(crate) fn new(options: CacheOptions, metrics: CacheMetrics) -> Arc<Self> {
        let weigh = |key: &String, entry: &Arc<Entry>| {
            u32::try_from(key.len() + entry.record.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
        };
        let entries = moka::sync::Cache::builder()
            .max_capacity(options.size_bytes)
            .weigher(weigh)
            .time_to_live(MAX_TTL)
            .build();
        metrics.enabled.set(1);
        Arc::new(Self {
            entries,
            stripes: (0..STRIPES).map(|_| Mutex::new(0)).collect(),
            generation: AtomicU64::new(0),
            lease: Lease::new(),
            enabled: AtomicBool::new(true),
            options,
            metrics,
        })
    }

    /// The record under `key`, if cached and a lease allows serving it.
    pub(crate) fn hit(&self, key: &str) -> Option<Arc<[u8]>> {
        // One clock read per hit.
        let instant = Instant::now();
        let now = self.lease.at(instant);
        if !self.lease.valid_at(now) {
            self.metrics.misses.inc();
            return None;
        }
        let Some(entry) = self.entries.get(key).filter(|e| instant < e.until) else {
            self.metrics.misses.inc();
            return None;
        };
        // Only outage grace reads it: no shared write per hit without it.
        if self.options.outage_grace.is_some() {
            entry.served_at.store(now, Ordering::Relaxed);
        }
        self.metrics.hits.inc();
        Some(Arc::clone(&entry.record))
    }

    /// What a miss must see unchanged to admit its reply: taken before the
    /// read is sent.
    pub(crate) fn ticket(&self, key: &str) -> Ticket {
        let stripe = stripe_of(key);
        let invalidations = *self.lock(stripe);
        Ticket {
            stripe,
            invalidations,
            generation: self.generation.load(Ordering::Acquire),
        }
    }

    /// Caches `record` under `key` until `until`, if no invalidation of its
    /// stripe and no flush came since `ticket`, and a lease holds.
    pub(crate) fn admit(&self, key: &str, ticket: &Ticket, record: Arc<[u8]>, until: Instant) {
        if !self.enabled.load(Ordering::Relaxed) || !self.lease.valid() {
            return;
        }
        let counter = self.lock(ticket.stripe);
        if *counter != ticket.invalidations
            || self.generation.load(Ordering::Acquire) != ticket.generation
        {
            self.metrics.race_dropped.inc();
            return;
        }
        let until = until.min(Instant::now() + MAX_TTL);
        let entry = Entry {
            record,
            until,
            served_at: AtomicU64::new(self.lease.now()),
        };
        self.entries.insert(key.to_owned(), Arc::new(entry));
        drop(counter);
    }

    /// Forgets `key` (a write of this pod, or an invalidation push).
    pub(crate) fn evict(&self, key: &str) {
        let mut counter = self.lock(stripe_of(key));
        *counter = counter.wrapping_add(1);
        self.entries.invalidate(key);
    }

    /// Forgets everything (flush: lost listener, failover, `FLUSHALL`).
    pub(crate) fn clear(&self) {
        let _all: Vec<MutexGuard<'_, u64>> = (0..STRIPES).map(|s| self.lock(s)).collect();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
        self.metrics.flushes.inc();
    }

    /// The record under `key` while Redis is unreachable: only with outage
    /// grace on, within the grace since the lease was lost, and only for a
    /// session served under a valid lease within the grace.
    pub(crate) fn grace_hit(&self, key: &str) -> Option<Arc<[u8]>> {
        let grace = self.options.outage_grace?;
        let lost_for = self.lease.lost_for()?;
        if lost_for >= grace {
            return None;
        }
        let entry = self.entries.get(key)?;
        let served_at = entry.served_at.load(Ordering::Relaxed);
        let since = Duration::from_nanos(self.lease.now().saturating_sub(served_at));
        if since >= grace || Instant::now() >= entry.until {
            return None;
        }
        self.metrics.grace_hits.inc();
        Some(Arc::clone(&entry.record))
    }

    /// Turns the cache off for good (Redis refused tracking).
    pub(crate) fn disable(&self) {
        self.enabled.store(false, Ordering::Relaxed);
        self.lease.drop_lease();
        self.clear();
        self.metrics.enabled.set(0);
    }

    /// Whether the cache may still be used (tracking not refused).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The lease the listener renews.
    pub(super) fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The configured staleness bound.
    pub(super) fn max_staleness(&self) -> Duration {
        self.options.max_staleness
    }

    /// Refreshes the lease-age and bytes gauges.
    pub(super) fn report(&self) {
        let age = self.lease.age(self.options.max_staleness);
        let age_ms = age.map_or(-1, |a| i64::try_from(a.as_millis()).unwrap_or(i64::MAX));
        self.metrics.lease_age_ms.set(age_ms);
        self.entries.run_pending_tasks();
        let bytes = i64::try_from(self.entries.weighted_size()).unwrap_or(i64::MAX);
        self.metrics.bytes.set(bytes);
    }

    fn lock(&self, stripe: usize) -> MutexGuard<'_, u64> {
        // A poisoned stripe still holds a valid counter.
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The stripe of a key (FNV-1a: cheap, and keys are random already).
fn stripe_of(key: &str) -> usize {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    usize::try_from(hash).unwrap_or(0) & (STRIPES - 1)
}
