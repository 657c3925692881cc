//! Client connection metrics of the public listener:
//! `bff_connections_open`, `bff_connections_refused_total`,
//! `bff_http_connections_open{protocol="http1"|"h2"}` (a connection counts
//! under its protocol from its first request), `bff_websocket_relays_open`
//! and `bff_websocket_relays_total`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabel {
    protocol: &'static str,
}

/// The connection families. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct ConnectionMetrics {
    /// Client connections open on the public listener.
    pub(crate) open: Gauge,
    /// Client connections closed at once because `BFF_MAX_CONNECTIONS`
    /// were open (security case A7).
    pub(crate) refused: Counter,
    http1: Gauge,
    h2: Gauge,
    relays_open: Gauge,
    relays: Counter,
}

/// One count on a gauge (a connection under its protocol, a relay), until dropped.
pub(crate) struct GaugeSlot(Gauge);

impl Drop for GaugeSlot {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl ConnectionMetrics {
    /// Registers every family in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let by_protocol = Family::<ProtocolLabel, Gauge>::default();
        let gauge = |protocol| {
            by_protocol
                .get_or_create(&ProtocolLabel { protocol })
                .clone()
        };
        let this = Self {
            open: Gauge::default(),
            refused: Counter::default(),
            http1: gauge("http1"),
            h2: gauge("h2"),
            relays_open: Gauge::default(),
            relays: Counter::default(),
        };
        registry.register(
            "connections_open",
            "Client connections open on the public listener",
            this.open.clone(),
        );
        registry.register(
            "connections_refused",
            "Client connections closed at once because BFF_MAX_CONNECTIONS were open",
            this.refused.clone(),
        );
        registry.register(
            "http_connections_open",
            "Client connections open on the public listener that sent a request, by protocol",
            by_protocol,
        );
        registry.register(
            "websocket_relays_open",
            "WebSocket connections being relayed to an upstream now",
            this.relays_open.clone(),
        );
        registry.register(
            "websocket_relays",
            "WebSocket connections relayed to an upstream since start",
            this.relays.clone(),
        );
        this
    }

    /// Counts a connection under its protocol until the slot is dropped.
    pub(crate) fn protocol(&self, h2: bool) -> GaugeSlot {
        let gauge = if h2 { &self.h2 } else { &self.http1 };
        gauge.inc();
        GaugeSlot(gauge.clone())
    }

    /// Counts a WebSocket relay as open until the slot is dropped.
    pub(crate) fn relay(&self) -> GaugeSlot {
        self.relays.inc();
        self.relays_open.inc();
        GaugeSlot(self.relays_open.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_count_by_protocol_and_relays_until_dropped() {
        let mut registry = Registry::with_prefix("bff");
        let metrics = ConnectionMetrics::register(&mut registry);
        let h2 = metrics.protocol(true);
        let relay = metrics.relay();
        let render = || {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
            text
        };
        let text = render();
        assert!(
            text.contains(r#"bff_http_connections_open{protocol="h2"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"bff_http_connections_open{protocol="http1"} 0"#));
        assert!(text.contains("bff_websocket_relays_open 1"));
        assert!(text.contains("bff_websocket_relays_total 1"));
        drop((h2, relay));
        let text = render();
        assert!(
            text.contains(r#"bff_http_connections_open{protocol="h2"} 0"#),
            "{text}"
        );
        assert!(text.contains("bff_websocket_relays_open 0"));
        assert!(text.contains("bff_websocket_relays_total 1"));
    }
}
