//! OpenTelemetry traces (issue 14, item 4): the real binary exports its
//! spans over OTLP/HTTP to a receiver in this test, which decodes the
//! protobuf. A request from a trusted proxy continues the proxy's trace;
//! the span tree is `request` → `session_load`, `refresh` (→ `provider`),
//! `upstream`; the upstream receives `traceparent` naming the `upstream`
//! span. An untrusted client's `traceparent` is never passed on.

use std::time::Duration;

use crate::refresh::login_expired;
use crate::support::harness::{self, API, COOKIE, Stack, Store};
use crate::support::http as test_http;
use crate::support::otlp::{OtlpReceiver, ReceivedSpan};
use crate::support::process::BffProcess;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PROXY_SPAN: &str = "00f067aa0ba902b7";

fn one<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let named: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(named.len(), 1, "one {name} span in {spans:#?}");
    named[0]
}

/// A bff process trusting 127.0.0.1 and exporting to `receiver`.
async fn traced_bff(stack: &Stack, receiver: &OtlpReceiver) -> BffProcess {
    let redis = stack.redis.as_ref().map(|r| r.url());
    let extra = ["--trusted-proxies", "127.0.0.1/32"];
    let issuer = stack.idp.issuer();
    let argv = harness::argv(issuer, &stack.upstream.url(), redis.as_deref(), &extra);
    let endpoint = receiver.server.base_url();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "bff-under-test"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("BFF_SHUTDOWN_DELAY", "0s"),
    ];
    let bff = BffProcess::spawn(&argv[1..], &env);
    bff.wait_ready().await;
    bff
}

/// `request` continues the proxy's span; `session_load`, `refresh` and
/// `upstream` are its children, `provider` (token) the refresh's; the
/// upstream's `traceparent` names the `upstream` span.
fn assert_span_tree(spans: &[ReceivedSpan], upstream_parent: &str) {
    let request = one(spans, "request");
    assert_eq!(
        request.parent_span_id, PROXY_SPAN,
        "continues the proxy's trace"
    );
    assert_eq!(request.service, "bff-under-test");
    for child in ["session_load", "refresh", "upstream"] {
        let parent = &one(spans, child).parent_span_id;
        assert_eq!(parent, &request.span_id, "{child} under request");
    }
    let provider = one(spans, "provider");
    assert_eq!(provider.parent_span_id, one(spans, "refresh").span_id);
    let token = ("endpoint".to_owned(), "token".to_owned());
    assert!(provider.attributes.contains(&token));
    let upstream = one(spans, "upstream");
    let expected = format!("00-{TRACE_ID}-{}-01", upstream.span_id);
    assert_eq!(upstream_parent, expected);
}

#[tokio::test]
async fn traces_continue_a_trusted_proxys_trace_and_reach_the_upstream() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let receiver = OtlpReceiver::start().await;
    let mut bff = traced_bff(&stack, &receiver).await;
    let browser = login_expired(&stack).await;
    let cookie = format!("{COOKIE}={}", browser.cookie(COOKIE).unwrap());
    let traceparent = format!("00-{TRACE_ID}-{PROXY_SPAN}-01");
    let mut headers = API.to_vec();
    headers.extend([
        ("cookie", cookie.as_str()),
        ("traceparent", traceparent.as_str()),
    ]);
    let res = test_http::get(&bff.url("/app"), &headers).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let sent = stack.upstream.last_request().unwrap();
    let upstream_parent = sent
        .header("traceparent")
        .expect("traceparent upstream")
        .to_owned();
    // The last batch is exported at shutdown.
    bff.terminate();
    assert!(bff.wait_exit(Duration::from_secs(20)).await.success());
    let spans = receiver.spans();
    let ours: Vec<ReceivedSpan> = spans
        .into_iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .collect();
    assert_span_tree(&ours, &upstream_parent);
}

#[tokio::test]
async fn an_untrusted_clients_traceparent_is_not_passed_on() {
    let Some(stack) = Stack::start(Store::Memory).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let traceparent = format!("00-{TRACE_ID}-{PROXY_SPAN}-01");
    let mut headers = API.to_vec();
    headers.extend([("traceparent", traceparent.as_str()), ("tracestate", "k=v")]);
    assert_eq!(browser.get(&stack, "/app", &headers).await.status, 200);
    let sent = stack.upstream.last_request().unwrap();
    assert_eq!(sent.header("traceparent"), None);
    assert_eq!(sent.header("tracestate"), None);
}

#[tokio::test]
async fn without_tracing_a_trusted_proxys_traceparent_passes_unchanged() {
    let trusted = ["--trusted-proxies", "127.0.0.1/32"];
    let Some(stack) = Stack::start_with(Store::Memory, &trusted).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let traceparent = format!("00-{TRACE_ID}-{PROXY_SPAN}-01");
    let mut headers = API.to_vec();
    headers.push(("traceparent", traceparent.as_str()));
    assert_eq!(browser.get(&stack, "/app", &headers).await.status, 200);
    let sent = stack.upstream.last_request().unwrap();
    assert_eq!(sent.header("traceparent"), Some(traceparent.as_str()));
}
