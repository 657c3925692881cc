//! W3C Trace Context (`traceparent`, `tracestate`) at bff's edges: taken
//! from trusted proxies only, and sent upstream as the child of bff's
//! `upstream` span when OpenTelemetry tracing is on. With tracing off this
//! module does nothing per request beyond one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName};
use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Set once by [`crate::telemetry`] when an OTLP exporter is configured.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The W3C Trace Context fields (W3C Trace Context §3.2, §3.3).
pub(crate) const FIELDS: [HeaderName; 2] = [
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
];

/// Turns propagation on (the exporter and the global propagator are set).
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether OpenTelemetry tracing is on.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

struct Read<'a>(&'a HeaderMap);

impl Extractor for Read<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct Write<'a>(&'a mut HeaderMap);

impl Injector for Write<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the trace a trusted proxy sent in `headers`
/// (an untrusted client's `traceparent` is never adopted: it could tie
/// bff's spans to a trace of the client's choosing).
pub(crate) fn adopt(span: &tracing::Span, headers: &HeaderMap, trusted: bool) {
    if !enabled() || !trusted || !headers.contains_key(&FIELDS[0]) {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Read(headers)));
    let _adopted = span.set_parent(parent);
}

/// Writes the current span's context into an upstream request's headers
/// (replacing any `traceparent` that came in).
pub(crate) fn inject(headers: &mut HeaderMap) {
    if !enabled() {
        return;
    }
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut Write(headers));
    });
}
