//! Process-wide telemetry.
//!
//! - Logs: `RUST_LOG` levels (default `info`), JSON or pretty lines on
//!   stdout, written in batches by a background thread ([`log_writer`]),
//!   so no serving thread makes a `write(2)` or a wake-up per line. Lines
//!   are never dropped (a full buffer makes the writer wait instead) and
//!   are flushed at exit.
//! - Traces (off by default): with `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, bff's spans (`request`,
//!   and its `session_load`, `refresh`, `provider` and `upstream`
//!   children) go to that OTLP/HTTP collector in protobuf batches;
//!   `OTEL_SERVICE_NAME` names the service (default `bff`) and the other
//!   standard `OTEL_BSP_*` settings apply. W3C `traceparent` propagation
//!   is in [`crate::trace_context`].

pub(crate) mod access_line;
mod log_filter;
mod log_writer;
mod span_fields;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogFormat;
use log_filter::LogFilter;

/// Longest wait for the collector per export.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Keeps the log thread and the trace exporter alive; [`Self::shutdown`]
/// exports the last spans, and dropping it flushes the buffered lines.
#[must_use = "dropping it stops and flushes the log writer"]
pub struct Telemetry {
    _log_writer: Option<log_writer::LogGuard>,
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still batched (bounded by the export timeout).
    pub async fn shutdown(self) {
        if let Some(traces) = self.traces {
            // Blocks until the batch task, on this runtime, has exported.
            let done = tokio::task::spawn_blocking(move || traces.shutdown()).await;
            if let Ok(Err(err)) = done {
                tracing::warn!(error = %err, "last spans not exported");
            }
        }
    }
}

/// Installs the global subscriber. Call once, inside the runtime, before
/// anything logs.
pub fn init(format: LogFormat) -> Telemetry {
    let (writer, guard) = log_thread(format);
    let filter = LogFilter::parse(std::env::var("RUST_LOG").ok().as_deref());
    let (traces, exporter_error) = match otlp_configured().then(tracer_provider) {
        Some(Ok(provider)) => (Some(provider), None),
        Some(Err(err)) => (None, Some(err)),
        None => (None, None),
    };
    match &traces {
        // bff's own spans only (no client-library internals), debug and
        // up; no per-span code location, thread or busy/idle attributes.
        // The log lines get their own filter, beside the spans'.
        Some(provider) => {
            let spans = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("bff"))
                .with_location(false)
                .with_threads(false)
                .with_target(false)
                .with_tracked_inactivity(false)
                .with_filter(Targets::new().with_target("bff", LevelFilter::DEBUG));
            tracing_subscriber::registry()
                .with(lines(format, writer).with_filter(filter.boxed()))
                .with(spans)
                .init();
        }
        // The log layer alone, behind the filter for the whole subscriber:
        // a callsite it filters out is skipped for good, and no span pays
        // for per-layer filter bookkeeping on each enter and exit.
        None => tracing_subscriber::registry()
            .with(filter.layer())
            .with(lines(format, writer))
            .init(),
    }
    if let Some(err) = exporter_error {
        tracing::error!(error = %err, "OpenTelemetry tracing is off: the OTLP exporter could not be set up");
    } else if traces.is_some() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        crate::trace_context::enable();
        tracing::info!("OpenTelemetry tracing on (OTLP/HTTP protobuf)");
    }
    Telemetry {
        _log_writer: guard,
        traces,
    }
}

/// The log line formatter (`BFF_LOG_FORMAT`) writing to `writer`.
fn lines<S>(format: LogFormat, writer: BoxMakeWriter) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(writer);
    match format {
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .fmt_fields(span_fields::SpanFieldsJson)
            .boxed(),
        LogFormat::Pretty => lines.boxed(),
    }
}

/// The batching log thread, or (if no thread can be started) lines
/// written straight to stdout by the thread that logs them.
/// With the JSON format, access lines skip the formatter ([`access_line`]).
fn log_thread(format: LogFormat) -> (BoxMakeWriter, Option<log_writer::LogGuard>) {
    match log_writer::spawn(std::io::stdout()) {
        Ok((writer, guard)) => {
            if format == LogFormat::Json {
                access_line::install(writer.clone());
            }
            (BoxMakeWriter::new(writer), Some(guard))
        }
        Err(_no_thread) => (BoxMakeWriter::new(std::io::stdout), None),
    }
}

/// Whether an OTLP endpoint is set (the standard variables).
fn otlp_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

/// The OTLP/HTTP exporter over bff's rustls client, batched on the
/// runtime.
fn tracer_provider() -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let client = opentelemetry_http::hyper::HyperClient::new(
        crate::http_client::connector_any_scheme(),
        EXPORT_TIMEOUT,
        None,
    );
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .build()?;
    let batches = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("bff");
    }
    Ok(SdkTracerProvider::builder()
        .with_span_processor(batches)
        .with_resource(resource.build())
        .build())
}
