//! Session cache metrics (`bff_session_cache_*`): hits and misses, inserts
//! dropped by the miss-path race guard, invalidations received, flushes,
//! listener reconnects, the lease's age, bytes held, outage-grace hits and
//! the time spent in grace, and whether the cache is on at all.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The cache's counters and gauges. Cheap to clone (shared); a default one
/// counts into nothing registered (tests, tools).
#[derive(Clone, Default)]
pub(crate) struct CacheMetrics {
    /// Requests served from the cache under a valid lease.
    pub(crate) hits: Counter,
    /// Cache lookups that went to Redis (absent, or no valid lease).
    pub(crate) misses: Counter,
    /// Replies not cached because an invalidation or flush raced the read.
    pub(crate) race_dropped: Counter,
    /// Keys named by invalidation pushes.
    pub(crate) invalidations: Counter,
    /// Whole-cache flushes (lost listener, failover, `FLUSHALL`).
    pub(crate) flushes: Counter,
    /// Listener connections established after the first.
    pub(crate) reconnects: Counter,
    /// Milliseconds since the lease was last proven (PING sent), or -1.
    pub(crate) lease_age_ms: Gauge,
    /// Approximate bytes of records held.
    pub(crate) bytes: Gauge,
    /// 1 while the cache is on (tracking accepted), 0 when off.
    pub(crate) enabled: Gauge,
    /// Requests served from the cache during a Redis outage.
    pub(crate) grace_hits: Counter,
    /// Milliseconds spent serving in outage grace, in total.
    pub(crate) grace_ms: Counter,
}

/// Counter names and help texts, in the order of [`CacheMetrics::counters`].
const COUNTERS: [(&str, &str); 8] = [
    (
        "session_cache_hits",
        "Session loads served from the cache under a valid lease",
    ),
    (
        "session_cache_misses",
        "Session loads that read Redis (not cached, or no valid lease)",
    ),
    (
        "session_cache_race_dropped",
        "Redis replies not cached because an invalidation or flush raced the read",
    ),
    (
        "session_cache_invalidations",
        "Keys named by Redis invalidation pushes",
    ),
    (
        "session_cache_flushes",
        "Whole-cache flushes: listener lost or reconnected, failover, FLUSHALL",
    ),
    (
        "session_cache_listener_reconnects",
        "Invalidation listener connections after the first",
    ),
    (
        "session_cache_grace_hits",
        "Session loads served from the cache while Redis was unreachable (outage grace)",
    ),
    (
        "session_cache_grace_milliseconds",
        "Time spent serving from the cache in outage grace",
    ),
];

/// Gauge names and help texts, in the order of [`CacheMetrics::gauges`].
const GAUGES: [(&str, &str); 3] = [
    (
        "session_cache_lease_age_milliseconds",
        "Age of the invalidation lease's last proof (PING sent), -1 without a lease",
    ),
    (
        "session_cache_bytes",
        "Approximate bytes of sealed records in the session cache",
    ),
    (
        "session_cache_enabled",
        "1 while the session cache is on (Redis accepted CLIENT TRACKING), else 0",
    ),
];

impl CacheMetrics {
    /// Registers every cache metric in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let this = Self::default();
        for ((name, help), counter) in COUNTERS.into_iter().zip(this.counters()) {
            registry.register(name, help, counter.clone());
        }
        for ((name, help), gauge) in GAUGES.into_iter().zip(this.gauges()) {
            registry.register(name, help, gauge.clone());
        }
        this.lease_age_ms.set(-1);
        this
    }

    /// The counters, in the order of [`COUNTERS`].
    fn counters(&self) -> [&Counter; 8] {
        [
            &self.hits,
            &self.misses,
            &self.race_dropped,
            &self.invalidations,
            &self.flushes,
            &self.reconnects,
            &self.grace_hits,
            &self.grace_ms,
        ]
    }

    /// The gauges, in the order of [`GAUGES`].
    fn gauges(&self) -> [&Gauge; 3] {
        [&self.lease_age_ms, &self.bytes, &self.enabled]
    }
}
