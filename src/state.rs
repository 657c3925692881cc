//! `AppState`: the shared, read-mostly state every request handler gets.
//!
//! It only holds things; each part is built in [`crate::app`] and owns its
//! own behaviour in its own module. Cheap to share behind an `Arc`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::config::Config;
use crate::http_client::HttpClient;
use crate::metrics::Metrics;
use crate::oidc::provider::ProviderHandle;
use crate::per_worker::PerWorker;
use crate::refresh::Refresher;
use crate::route_table::RouteTable;
use crate::session::Vault;
use crate::session::cookie::CookieNames;
use crate::throttle::LoginThrottle;

/// Everything a request handler needs.
pub(crate) struct AppState {
    /// The validated configuration.
    pub(crate) config: Arc<Config>,
    /// The OpenID provider.
    pub(crate) provider: Arc<ProviderHandle>,
    /// Sealed sessions and pending logins.
    pub(crate) vault: Vault,
    /// Cookie names and attributes.
    pub(crate) cookies: CookieNames,
    /// The proxy's outbound client: one pool per worker thread.
    pub(crate) upstream: PerWorker<HttpClient>,
    /// Proxy routes.
    pub(crate) routes: RouteTable,
    /// Keeps access tokens fresh.
    pub(crate) refresher: Refresher,
    /// Metrics registry.
    pub(crate) metrics: Arc<Metrics>,
    /// Login flood limits.
    pub(crate) throttle: LoginThrottle,
    /// Set at SIGTERM: `/readyz` answers 503 while bff still serves.
    pub(crate) draining: AtomicBool,
}
