//! Request metrics (RED) for the public listener:
//! `bff_http_requests_total{route,method,status}`,
//! `bff_http_request_duration_seconds{route}`,
//! `bff_upstream_duration_seconds{route}` and
//! `bff_http_requests_in_flight`. Labels are bounded: `route` is a
//! configured prefix or one of bff's own endpoints (never the raw path),
//! `method` one of the standard methods or `other`, `status` a class.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Bucket bounds in seconds, from 100 µs: bff adds well under a
/// millisecond to a request.
const BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

type Histograms = Family<RouteLabel, Histogram, fn() -> Histogram>;

/// The request families. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Histograms,
    upstream: Histograms,
    /// Requests being served now.
    in_flight: Gauge,
}

/// One request counted in `bff_http_requests_in_flight` until dropped
/// (also when the client goes away and the request is abandoned).
pub(crate) struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn histograms() -> Histograms {
    Family::new_with_constructor(|| Histogram::new(BUCKETS))
}

impl HttpMetrics {
    /// Registers every family in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let this = Self {
            requests: Family::default(),
            duration: histograms(),
            upstream: histograms(),
            in_flight: Gauge::default(),
        };
        registry.register(
            "http_requests",
            "Requests answered on the public listener, by route, method and status class",
            this.requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from request head to response head, by route",
            Unit::Seconds,
            this.duration.clone(),
        );
        registry.register_with_unit(
            "upstream_duration",
            "Time the upstream took to answer (response head), by route",
            Unit::Seconds,
            this.upstream.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests on the public listener not yet answered (until the response head)",
            this.in_flight.clone(),
        );
        this
    }

    /// Counts a request in flight until the guard is dropped.
    pub(crate) fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Records one answered request.
    pub(crate) fn answered(&self, route: &str, method: &http::Method, status: u16, seconds: f64) {
        let labels = RequestLabels {
            route: route.to_owned(),
            method: method_label(method),
            status: status_class(status),
        };
        self.requests.get_or_create(&labels).inc();
        let route = RouteLabel {
            route: labels.route,
        };
        self.duration.get_or_create(&route).observe(seconds);
    }

    /// Records the upstream's part of a request on `route`.
    pub(crate) fn upstream(&self, route: &str, seconds: f64) {
        let route = RouteLabel {
            route: route.to_owned(),
        };
        self.upstream.get_or_create(&route).observe(seconds);
    }
}

/// The method as a bounded label.
fn method_label(method: &http::Method) -> &'static str {
    use http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `2xx`, `3xx`, … for a status code.
fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }

    #[test]
    fn requests_are_counted_by_route_method_and_status_class() {
        let mut registry = Registry::with_prefix("bff");
        let http = HttpMetrics::register(&mut registry);
        http.answered("/api/", &http::Method::GET, 204, 0.000_3);
        http.answered(
            "/api/",
            &http::Method::from_bytes(b"PROPFIND").unwrap(),
            503,
            0.2,
        );
        http.upstream("/api/", 0.000_2);
        let text = render(&registry);
        for series in [
            r#"bff_http_requests_total{route="/api/",method="GET",status="2xx"} 1"#,
            r#"bff_http_requests_total{route="/api/",method="other",status="5xx"} 1"#,
            r#"bff_http_request_duration_seconds_bucket{le="0.0005",route="/api/"} 1"#,
            r#"bff_upstream_duration_seconds_count{route="/api/"} 1"#,
            "# TYPE bff_http_requests_in_flight gauge",
        ] {
            assert!(text.contains(series), "{series} missing from\n{text}");
        }
    }
}
