//! The one outbound HTTP client (pooled hyper-util client over rustls,
//! HTTP/1.1 and h2), shared by the proxy and the OpenID provider adapter.
//! It never follows redirects, which closes the SSRF hole openidconnect's
//! docs warn about.

use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::http_util::Body;

/// The pooled outbound client.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Body>;

/// Builds the shared client: 5 s connect timeout, TCP_NODELAY, idle
/// connections kept 90 s, Mozilla roots for https upstreams.
pub fn build() -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let https = HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_all_versions().wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(https)
}
