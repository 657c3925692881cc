//! Provider call metrics: `bff_provider_request_duration_seconds{endpoint}`
//! and `bff_provider_errors_total{endpoint}`, for the calls bff makes to
//! the OpenID provider (a fixed set of endpoint names, never a URL).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Bucket bounds in seconds: a provider answers in milliseconds, a slow
/// one in seconds (the provider timeout is the last bound that matters).
const BUCKETS: [f64; 12] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Which provider endpoint a call went to (the `endpoint` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// The `jwks_uri`.
    Jwks,
    /// The token endpoint (code exchange, refresh).
    Token,
    /// The RFC 7009 revocation endpoint.
    Revocation,
    /// The RFC 9126 pushed authorization request endpoint.
    Par,
}

impl Endpoint {
    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Token => "token",
            Self::Revocation => "revocation",
            Self::Par => "par",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: &'static str,
}

/// Latency and errors of provider calls. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct ProviderMetrics {
    duration: Family<EndpointLabel, Histogram, fn() -> Histogram>,
    errors: Family<EndpointLabel, Counter>,
}

impl Default for ProviderMetrics {
    /// Unregistered families (an adapter built outside an app).
    fn default() -> Self {
        Self {
            duration: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
            errors: Family::default(),
        }
    }
}

impl ProviderMetrics {
    /// Registers both families in `registry`, every endpoint from 0.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let this = Self::default();
        registry.register_with_unit(
            "provider_request_duration",
            "Calls to the OpenID provider by endpoint, successful or not",
            Unit::Seconds,
            this.duration.clone(),
        );
        registry.register(
            "provider_errors",
            "Provider calls that failed (timeout, unreachable, 5xx, oversized body), by endpoint",
            this.errors.clone(),
        );
        for endpoint in [
            Endpoint::Discovery,
            Endpoint::Jwks,
            Endpoint::Token,
            Endpoint::Revocation,
            Endpoint::Par,
        ] {
            let _zero = this.errors.get_or_create(&EndpointLabel {
                endpoint: endpoint.label(),
            });
        }
        this
    }

    /// Records one call to `endpoint` that took `seconds`.
    pub(crate) fn observe(&self, endpoint: Endpoint, seconds: f64, failed: bool) {
        let label = EndpointLabel {
            endpoint: endpoint.label(),
        };
        self.duration.get_or_create(&label).observe(seconds);
        if failed {
            self.errors.get_or_create(&label).inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_families_have_base_units_endpoint_labels_and_zeros() {
        let mut registry = Registry::with_prefix("bff");
        let metrics = ProviderMetrics::register(&mut registry);
        metrics.observe(Endpoint::Token, 0.003, true);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "# TYPE bff_provider_request_duration_seconds histogram",
            "# UNIT bff_provider_request_duration_seconds seconds",
            r#"bff_provider_request_duration_seconds_bucket{le="0.0025",endpoint="token"} 0"#,
            r#"bff_provider_request_duration_seconds_bucket{le="0.005",endpoint="token"} 1"#,
            "# TYPE bff_provider_errors counter",
            r#"bff_provider_errors_total{endpoint="token"} 1"#,
            r#"bff_provider_errors_total{endpoint="jwks"} 0"#,
            r#"bff_provider_errors_total{endpoint="revocation"} 0"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
