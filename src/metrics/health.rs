//! Health gauges: `bff_ready` (1 while `/readyz` answers 200, so a
//! flapping readiness shows as changes) and `bff_sessions_active` (an
//! approximate count of live sessions, refreshed in the background, never
//! by a scrape).

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The health gauges. Cheap to clone (shared).
#[derive(Clone, Default)]
pub(crate) struct HealthMetrics {
    /// 1 while ready, 0 while not (or draining at shutdown).
    pub(crate) ready: Gauge,
    /// Approximate live sessions in the store.
    pub(crate) sessions_active: Gauge,
}

impl HealthMetrics {
    /// Registers both gauges in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let this = Self::default();
        registry.register(
            "ready",
            "1 while /readyz answers 200 (provider discovered, store answering, not draining)",
            this.ready.clone(),
        );
        registry.register(
            "sessions_active",
            "Approximate live sessions in the store (HyperLogLog of sessions started minus ended)",
            this.sessions_active.clone(),
        );
        this
    }
}
