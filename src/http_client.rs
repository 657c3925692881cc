//! The outbound HTTP clients (pooled hyper-util clients over rustls,
//! HTTP/1.1 and h2): the shared one, used by the proxy and the OpenID
//! provider adapter, and per-route ones that trust a private CA. They never
//! follow redirects, which closes the SSRF hole openidconnect's docs warn
//! about.

use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::http_util::Body;

/// The pooled outbound client.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Body>;

/// Upstream TCP connect timeout.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the shared client: Mozilla roots for https upstreams.
pub(crate) fn build() -> HttpClient {
    pooled(connector_any_scheme())
}

/// A rustls connector for http and https with Mozilla roots (the OTLP
/// exporter's).
pub(crate) fn connector_any_scheme() -> HttpsConnector<HttpConnector> {
    HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(connector())
}

/// A client whose TLS uses `tls` (e.g. trusting only a private CA).
pub(crate) fn with_tls(tls: rustls::ClientConfig) -> HttpClient {
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(connector());
    pooled(https)
}

/// TCP: 5 s connect timeout, TCP_NODELAY, any scheme (TLS is layered on).
fn connector() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http
}

/// Idle connections kept 90 s, at most 256 per host.
fn pooled(https: HttpsConnector<HttpConnector>) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(https)
}
