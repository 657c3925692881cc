//! An OTLP/HTTP trace receiver inside the test: `POST /v1/traces` bodies
//! decoded as `ExportTraceServiceRequest` (protobuf, opentelemetry-proto),
//! the spans kept for assertions.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;

use super::http::{TestServer, serve};

/// One received span, flattened.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    /// `service.name` of the exporting resource.
    pub service: String,
    /// String attributes.
    pub attributes: Vec<(String, String)>,
}

/// The receiver; spans arrive as bff exports them.
pub struct OtlpReceiver {
    pub server: TestServer,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn flatten(request: &ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource in &request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for span in resource.scope_spans.iter().flat_map(|s| &s.spans) {
            out.push(ReceivedSpan {
                name: span.name.clone(),
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
                service: service.clone(),
                attributes: span
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                    .collect(),
            });
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl OtlpReceiver {
    /// Listens on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&spans);
        let server = serve(move |req: http::Request<Bytes>| {
            let sink = Arc::clone(&sink);
            async move {
                assert_eq!(req.uri().path(), "/v1/traces");
                let header = req.headers().get("content-type");
                assert_eq!(
                    header.and_then(|v| v.to_str().ok()),
                    Some("application/x-protobuf")
                );
                let decoded = ExportTraceServiceRequest::decode(req.body().clone())
                    .expect("an OTLP protobuf export");
                sink.lock().expect("spans").extend(flatten(&decoded));
                Response::new(Full::new(Bytes::new()))
            }
        })
        .await;
        Self { server, spans }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("spans").clone()
    }
}
