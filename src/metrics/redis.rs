//! Redis topology events: `bff_redis_connection_failures_total` (commands
//! that failed at the connection or hit a demoted master; bff reconnects
//! or rediscovers after each) and `bff_redis_master_changes_total` (the
//! sentinels named a master at a new address: a failover bff followed).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// Counters the Redis store bumps. Cheap to clone (shared); a default one
/// counts into nothing registered (tests, tools).
#[derive(Clone, Default)]
pub(crate) struct RedisEvents {
    /// Refused, dropped or timed-out connections and `READONLY` replies.
    pub(crate) connection_failures: Counter,
    /// Times the Sentinel master moved to a new address.
    pub(crate) master_changes: Counter,
}

impl RedisEvents {
    /// Registers both counters in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let events = Self::default();
        registry.register(
            "redis_connection_failures",
            "Redis commands that failed at the connection (refused, dropped, timed out) \
             or reached a demoted master (READONLY); bff reconnects or rediscovers",
            events.connection_failures.clone(),
        );
        registry.register(
            "redis_master_changes",
            "Times the sentinels named the Redis master at a new address (a failover followed)",
            events.master_changes.clone(),
        );
        events
    }
}
