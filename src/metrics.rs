//! Prometheus metrics (prometheus-client, one explicit registry per app so
//! tests get independent counters), served on the admin `/metrics`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// How a refresh attempt ended (the `outcome` label).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum RefreshOutcome {
    /// This request refreshed the tokens.
    Success,
    /// Another request in this process refreshed them first.
    Joined,
    /// Another pod refreshed them while this one waited on the lock.
    Waited,
    /// The provider said `invalid_grant`/`invalid_client` (or the new ID
    /// token was invalid): the session was ended.
    InvalidGrant,
    /// Provider timeout/5xx or store error: session kept, request got 503
    /// or the still-valid old token.
    TransientFailure,
    /// The cross-pod lock was not released in time.
    LockTimeout,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: RefreshOutcome,
}

/// The app's metrics.
pub struct Metrics {
    registry: Registry,
    refresh: Family<OutcomeLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every bff metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("bff");
        let refresh = Family::<OutcomeLabel, Counter>::default();
        registry.register("token_refresh", "Token refresh attempts by outcome", refresh.clone());
        // Export every outcome from the start (0 is information too).
        for outcome in [
            RefreshOutcome::Success,
            RefreshOutcome::Joined,
            RefreshOutcome::Waited,
            RefreshOutcome::InvalidGrant,
            RefreshOutcome::TransientFailure,
            RefreshOutcome::LockTimeout,
        ] {
            let _zero = refresh.get_or_create(&OutcomeLabel { outcome });
        }
        Self { registry, refresh }
    }

    /// Counts one refresh outcome.
    pub fn refresh(&self, outcome: RefreshOutcome) {
        self.refresh.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// The current count for `outcome` (tests, logs).
    pub fn refresh_count(&self, outcome: RefreshOutcome) -> u64 {
        self.refresh.get_or_create(&OutcomeLabel { outcome }).get()
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
