//! Builds the application from a [`Config`] and runs its listeners.
//!
//! [`start`] binds both listeners (port 0 is fine, for tests), picks the
//! session store, spawns provider discovery and returns a [`Running`]
//! handle. Binding happens here, never while loading config.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::oidc_http::OidcHttp;
use crate::auth::provider::ProviderHandle;
use crate::auth::refresh::{RefreshSettings, Refresher};
use crate::config::Config;
use crate::error::Error;
use crate::metrics::{Metrics, RejectReason};
use crate::per_worker::PerWorker;
use crate::proxy::RouteTable;
use crate::session::cookie::{CookieNames, Lookup, lookup};
use crate::session::store::memory::MemoryStore;
use crate::session::store::redis::RedisStore;
use crate::session::{SessionData, SessionId, SessionStore, Vault};
use crate::worker::WorkerPool;
use crate::{http_client, server};

/// Most sessions the memory store holds before evicting.
const MEMORY_STORE_CAPACITY: u64 = 100_000;

/// Everything a request handler needs; cheap to share.
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The OpenID provider.
    pub provider: Arc<ProviderHandle>,
    /// Sealed sessions and pending logins.
    pub vault: Vault,
    /// Cookie names and attributes.
    pub cookies: CookieNames,
    /// The proxy's outbound client: one pool per worker thread.
    pub upstream: PerWorker<http_client::HttpClient>,
    /// Proxy routes.
    pub routes: RouteTable,
    /// Keeps access tokens fresh.
    pub refresher: Refresher,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
}

/// A running bff.
pub struct Running {
    /// Bound public address.
    pub public_addr: SocketAddr,
    /// Bound admin address.
    pub admin_addr: SocketAddr,
    /// Shared state (tests inspect it).
    pub state: Arc<AppState>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Why bff could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The store could not be set up.
    #[error("{0}")]
    Store(String),
    /// The worker threads could not be started.
    #[error("cannot start worker threads: {0}")]
    Workers(std::io::Error),
}

// === impl AppState ===

impl AppState {
    /// The request's session, if its cookie names a live one. A malformed,
    /// duplicated, unknown or undecryptable cookie is no session (C2, C7);
    /// a store failure is an error, never "anonymous" (R2).
    pub async fn current_session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<(SessionId, SessionData)>, Error> {
        let value = match lookup(headers, &self.cookies.session) {
            Lookup::Missing => return Ok(None),
            Lookup::Duplicate => return Ok(self.rejected(RejectReason::Malformed)),
            Lookup::One(value) => value,
        };
        let Some(id) = SessionId::parse(&value) else {
            return Ok(self.rejected(RejectReason::Malformed));
        };
        let Some(data) = self.vault.load(&id).await? else {
            return Ok(self.rejected(RejectReason::Unknown));
        };
        Ok(Some((id, data)))
    }

    /// Counts a cookie that named no live session (`bff_session_rejected_total`).
    fn rejected<T>(&self, reason: RejectReason) -> Option<T> {
        self.metrics.session_rejected(reason);
        None
    }

    /// Like [`AppState::current_session`], with the access token refreshed
    /// if it is about to expire, and (when `slide`) activity recorded for
    /// the idle timeout. A session the provider ended is gone.
    pub async fn fresh_session(
        &self,
        headers: &HeaderMap,
        slide: bool,
    ) -> Result<Option<(SessionId, SessionData)>, Error> {
        let Some((id, data)) = self.current_session(headers).await? else {
            return Ok(None);
        };
        let data = match self.refresher.ensure_fresh(&id, data).await {
            Ok(data) => data,
            Err(Error::Unauthenticated) => return Ok(None),
            Err(err) => return Err(err),
        };
        if slide && touch_due(&data, self.vault.idle_timeout()) {
            match self.vault.touch(&id, &data).await {
                Ok(Some(next)) => return Ok(Some((id, next))),
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "could not record session activity"),
            }
        }
        Ok(Some((id, data)))
    }
}

/// Whether `last_seen` is old enough to record again: once a minute, or
/// every tenth of the idle timeout if that is shorter (not a write per
/// request).
fn touch_due(data: &SessionData, idle: Option<Duration>) -> bool {
    let every = idle.map_or(60, |idle| (idle.as_secs() / 10).clamp(1, 60));
    crate::session::now_unix().saturating_sub(data.last_seen) >= i64::try_from(every).unwrap_or(60)
}

/// Installs rustls' ring provider process-wide (idempotent).
pub fn install_crypto_provider() {
    // Already installed is fine: the first caller wins with the same provider.
    let _already = rustls::crypto::ring::default_provider().install_default();
}

async fn store_for(config: &Config) -> Result<Arc<dyn SessionStore>, StartError> {
    match &config.session.redis_url {
        Some(url) => {
            let store = RedisStore::connect(url.expose(), config.workers)
                .map_err(|e| StartError::Store(e.to_string()))?;
            check_redis_at_start(&store).await?;
            Ok(Arc::new(store))
        }
        None => {
            tracing::warn!(
                "using the in-memory session store: sessions are lost on restart and not shared between replicas; set BFF_REDIS_URL for production"
            );
            Ok(Arc::new(MemoryStore::new(MEMORY_STORE_CAPACITY)))
        }
    }
}

/// An unreachable Redis only delays readiness (R1); a Redis that refuses
/// our credentials or TLS is a configuration error: refuse to start,
/// never fall back (security case R8).
async fn check_redis_at_start(store: &RedisStore) -> Result<(), StartError> {
    match tokio::time::timeout(Duration::from_secs(3), store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) if is_config_error(&err.0) => {
            Err(StartError::Store(format!("Redis refused bff: {err}")))
        }
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "Redis not reachable yet; not ready until it is");
            Ok(())
        }
        Err(_elapsed) => {
            tracing::warn!("Redis did not answer at start-up; not ready until it does");
            Ok(())
        }
    }
}

fn is_config_error(reason: &str) -> bool {
    [
        "Auth",
        "NOAUTH",
        "WRONGPASS",
        "NoPerm",
        "InvalidClientConfig",
        "Tls",
    ]
    .iter()
    .any(|k| reason.contains(k))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// Builds the state, binds the listeners and starts serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    install_crypto_provider();
    let config = Arc::new(config);
    let client = http_client::build();
    let provider = ProviderHandle::new(
        config.oidc.clone(),
        OidcHttp::new(client.clone(), config.oidc.provider_timeout),
    );
    let store = store_for(&config).await?;
    let vault = Vault::new(
        Arc::clone(&store),
        config.session.keys.clone(),
        config.oidc.issuer_url.clone(),
        config.session.idle_timeout,
    );
    let metrics = Arc::new(Metrics::new());
    let settings = RefreshSettings {
        skew: config.oidc.refresh_skew,
        wait: config.oidc.refresh_wait,
        lease: config.oidc.refresh_lock_lease,
    };
    let refresher = Refresher::new(
        settings,
        vault.clone(),
        store,
        Arc::clone(&provider),
        Arc::clone(&metrics),
    );
    let state = Arc::new(AppState {
        vault,
        refresher,
        metrics,
        cookies: CookieNames::new(&config.session.cookie_name, config.session.secure_cookies),
        routes: RouteTable::new(config.proxy.routes.clone(), config.workers),
        // Off the workers the proxy shares the provider's pool (the public
        // listener is always served on workers, so that is only a fallback).
        upstream: PerWorker::new(config.workers, client, || Some(http_client::build())),
        provider,
        config: Arc::clone(&config),
    });
    let public = bind(config.listen).await?;
    let admin = bind(config.admin_listen).await?;
    let public_addr = public.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let admin_addr = admin.local_addr().map_err(|source| StartError::Bind {
        addr: config.admin_listen,
        source,
    })?;
    let workers = WorkerPool::start(config.workers, &state, server::Listener::Public)
        .map_err(StartError::Workers)?;
    let shutdown = CancellationToken::new();
    let tasks = vec![
        state.provider.spawn(shutdown.clone()),
        tokio::spawn(server::serve_on_workers(public, workers, shutdown.clone())),
        tokio::spawn(server::serve(
            admin,
            Arc::clone(&state),
            server::Listener::Admin,
            shutdown.clone(),
        )),
    ];
    tracing::info!(%public_addr, %admin_addr, store = state.vault.store().kind(), "bff listening");
    Ok(Running {
        public_addr,
        admin_addr,
        state,
        shutdown,
        tasks,
    })
}

// === impl Running ===

impl Running {
    /// Stops accepting, lets in-flight requests finish (bounded), and waits.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _joined = task.await;
        }
    }

    /// A token that stops this instance when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the instance stops.
    pub async fn wait(self) {
        for task in self.tasks {
            let _joined = task.await;
        }
    }
}
