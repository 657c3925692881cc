//! Session store metrics: `bff_store_operation_duration_seconds{op}` and
//! `bff_store_errors_total{op}`, by store operation (a fixed set of names,
//! never a key). Buckets start at 50 µs: a healthy Redis answers in well
//! under a millisecond.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Bucket bounds in seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    2.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: &'static str,
}

/// Latency and errors of store operations. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct StoreMetrics {
    duration: Family<OpLabel, Histogram, fn() -> Histogram>,
    errors: Family<OpLabel, Counter>,
}

impl StoreMetrics {
    /// Registers both families in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let duration: Family<OpLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register_with_unit(
            "store_operation_duration",
            "Session store operations by operation, successful or not",
            prometheus_client::registry::Unit::Seconds,
            duration.clone(),
        );
        let errors = Family::<OpLabel, Counter>::default();
        registry.register(
            "store_errors",
            "Session store operations that failed (timeouts, connection and server errors)",
            errors.clone(),
        );
        Self { duration, errors }
    }

    /// Records one operation `op` that took `seconds`.
    pub(crate) fn observe(&self, op: &'static str, seconds: f64, failed: bool) {
        self.duration
            .get_or_create(&OpLabel { op })
            .observe(seconds);
        if failed {
            self.errors.get_or_create(&OpLabel { op }).inc();
        }
    }
}
