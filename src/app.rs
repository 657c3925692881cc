//! Builds the application from a [`Config`] and runs its listeners.
//!
//! [`start`] builds the [`AppState`] (session store, provider, refresher,
//! routes), binds both listeners (port 0 is fine, for tests), wires the
//! public listener to the front door ([`crate::edge`]) and the admin
//! listener to [`crate::admin`], spawns provider discovery and returns a
//! [`Running`] handle. Binding happens here, never while loading config.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::{Metrics, RedisEvents, RefreshOutcome};
use crate::oidc::http::OidcHttp;
use crate::oidc::provider::ProviderHandle;
use crate::per_worker::PerWorker;
use crate::refresh::{RefreshSettings, Refresher};
use crate::route_table::RouteTable;
use crate::server::{ConnectionLimit, Handler, Timeouts};
use crate::session::cookie::CookieNames;
use crate::session::store::instrumented::Instrumented;
use crate::session::store::memory::MemoryStore;
use crate::session::store::redis::RedisStore;
use crate::session::store::redis_startup;
use crate::session::{SessionData, SessionId, SessionStore, StoreError, Vault, key_holders};
use crate::session::{cache, census};
use crate::state::AppState;
use crate::throttle::LoginThrottle;
use crate::worker::{self, WorkerPool};
use crate::{admin, edge, http_client, server};

/// Most sessions the memory store holds before evicting.
const MEMORY_STORE_CAPACITY: u64 = 100_000;

/// A running bff.
pub struct Running {
    /// Bound public address.
    pub public_addr: SocketAddr,
    /// Bound admin address.
    pub admin_addr: SocketAddr,
    state: Arc<AppState>,
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
    /// The provider cannot serve the configured profile (case P5).
    #[error("{0}")]
    Provider(String),
}

/// Builds the state, binds the listeners and starts serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    install_crypto_provider();
    let shutdown = CancellationToken::new();
    let state = build_state(Arc::new(config), &shutdown).await?;
    state
        .provider
        .check_at_start()
        .await
        .map_err(StartError::Provider)?;
    let config = Arc::clone(&state.config);
    let (public, public_addr) = bind(config.listen).await?;
    let (admin, admin_addr) = bind(config.admin_listen).await?;
    let timeouts = Timeouts {
        idle: config.client_idle_timeout,
        grace: config.shutdown_grace,
    };
    let workers = WorkerPool::start(config.workers, &public_handler(&state), timeouts)
        .map_err(StartError::Workers)?;
    let limit = ConnectionLimit::new(config.max_connections, state.metrics.connections.clone());
    let mut tasks = background(&state, &shutdown).await;
    tasks.extend([
        tokio::spawn(worker::serve_on_workers(
            public,
            workers,
            limit,
            shutdown.clone(),
        )),
        tokio::spawn(server::serve(
            admin,
            admin_handler(&state),
            timeouts,
            shutdown.clone(),
        )),
    ]);
    tracing::info!(%public_addr, %admin_addr, store = state.vault.store().kind(), "bff listening");
    Ok(Running {
        public_addr,
        admin_addr,
        state,
        shutdown,
        tasks,
    })
}

/// The tasks beside serving: the session-key announcements, the session
/// count and provider re-discovery.
async fn background(
    state: &AppState,
    shutdown: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    // Announced before serving, so a pod lacking one of these keys never
    // mistakes this pod's fresh records for a removed key.
    let config = &state.config;
    let (store, keys) = (state.vault.shared_store(), config.session.keys.clone());
    if let Err(err) = key_holders::announce(store.as_ref(), &keys).await {
        tracing::warn!(error = %err, "could not announce the session keys this pod holds");
    }
    let gauge = state.metrics.health.sessions_active.clone();
    let lifetime = config.session.ttl;
    vec![
        census::spawn(Arc::clone(&store), gauge, lifetime, shutdown.clone()),
        key_holders::spawn(store, keys, shutdown.clone()),
        state.provider.spawn(shutdown.clone()),
    ]
}

/// The vault over `store`, reading through a session cache when the store
/// is Redis and the cache is on.
fn vault_for(
    config: &Config,
    store: Arc<dyn SessionStore>,
    redis: Option<Arc<RedisStore>>,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Vault {
    let session = &config.session;
    let issuer = config.oidc.issuer_url.clone();
    let vault = Vault::new(store, session.keys.clone(), issuer, session.idle_timeout);
    let cache_metrics = metrics.cache.clone();
    match redis
        .and_then(|redis| cache::start(&session.cache, cache_metrics, redis, shutdown.clone()))
    {
        Some(cache) => vault.with_cache(cache),
        None => vault,
    }
}

/// The shared state: store, vault, provider, refresher, routes, metrics.
async fn build_state(
    config: Arc<Config>,
    shutdown: &CancellationToken,
) -> Result<Arc<AppState>, StartError> {
    let client = http_client::build();
    let metrics = Arc::new(Metrics::new());
    let timeout = config.oidc.provider_timeout;
    let http = OidcHttp::new(client.clone(), timeout, metrics.provider.clone());
    let provider = ProviderHandle::new(config.oidc.clone(), http);
    let (backend, redis) = store_for(&config, metrics.redis.clone()).await?;
    let store: Arc<dyn SessionStore> = Arc::new(Instrumented::new(backend, metrics.store.clone()));
    let session = &config.session;
    let vault = vault_for(&config, Arc::clone(&store), redis, &metrics, shutdown);
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
    Ok(Arc::new(AppState {
        vault,
        refresher,
        metrics,
        cookies: CookieNames::new(&session.cookie_name, session.secure_cookies),
        routes: RouteTable::new(config.proxy.routes.clone(), config.workers),
        // Off the workers the proxy shares the provider's pool (the public
        // listener is always served on workers, so that is only a fallback).
        upstream: PerWorker::new(config.workers, client, || Some(http_client::build())),
        provider,
        throttle: LoginThrottle::new(config.login_rate, config.login_burst),
        draining: AtomicBool::new(false),
        config,
    }))
}

/// The public listener's handler: the front door.
fn public_handler(state: &Arc<AppState>) -> Handler {
    let state = Arc::clone(state);
    Arc::new(move |peer, req| {
        let state = Arc::clone(&state);
        Box::pin(async move { Ok(edge::handle(&state, peer, req).await) })
    })
}

/// The admin listener's handler: health, readiness, metrics, sessions.
fn admin_handler(state: &Arc<AppState>) -> Handler {
    let state = Arc::clone(state);
    Arc::new(move |_peer, req| {
        let state = Arc::clone(&state);
        Box::pin(async move { Ok(admin::handle(&state, &req).await) })
    })
}

/// Installs rustls' ring provider process-wide (idempotent).
pub fn install_crypto_provider() {
    // Already installed is fine: the first caller wins with the same provider.
    let _already = rustls::crypto::ring::default_provider().install_default();
}

async fn store_for(
    config: &Config,
    events: RedisEvents,
) -> Result<(Arc<dyn SessionStore>, Option<Arc<RedisStore>>), StartError> {
    match &config.session.redis_url {
        Some(url) => {
            let options = &config.session.redis;
            let store = RedisStore::connect_counting(url.expose(), options, config.workers, events)
                .map_err(|e| StartError::Store(e.to_string()))?;
            redis_startup::check(&store)
                .await
                .map_err(StartError::Store)?;
            let store = Arc::new(store);
            Ok((Arc::clone(&store) as Arc<dyn SessionStore>, Some(store)))
        }
        None => {
            tracing::warn!(
                "using the in-memory session store: sessions are lost on restart and not shared between replicas; set BFF_REDIS_URL for production"
            );
            Ok((Arc::new(MemoryStore::new(MEMORY_STORE_CAPACITY)), None))
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let err = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let bound = listener.local_addr().map_err(err)?;
    Ok((listener, bound))
}

// === impl Running ===

impl Running {
    /// The drained shutdown of a rolling update (on SIGTERM): `/readyz`
    /// answers 503 at once, serving goes on for `BFF_SHUTDOWN_DELAY` so
    /// load balancers take this instance out, then [`Self::shutdown`].
    pub async fn drain_and_shutdown(self) {
        self.state.draining.store(true, Ordering::Relaxed);
        self.state.metrics.health.ready.set(0);
        let delay = self.state.config.shutdown_delay;
        tracing::info!(
            delay_ms = delay.as_millis() as u64,
            "draining: /readyz answers 503; still serving until the delay ends"
        );
        tokio::time::sleep(delay).await;
        tracing::info!("no longer accepting connections; finishing in-flight requests");
        self.shutdown().await;
    }

    /// Stops accepting, lets in-flight requests finish (bounded by
    /// `BFF_SHUTDOWN_GRACE`), and waits.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.wait().await;
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

    /// The validated configuration this instance runs with.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Whether the provider has been discovered (readiness, first half).
    pub fn provider_discovered(&self) -> bool {
        self.state.provider.current().is_some()
    }

    /// Runs provider discovery now; whether it succeeded.
    pub async fn discover_provider(&self) -> bool {
        self.state.provider.discover().await.is_ok()
    }

    /// The on-demand re-discovery a token with an unknown `kid` triggers
    /// (rate-limited); whether it ran and succeeded.
    pub async fn rediscover_on_unknown_key(&self) -> bool {
        self.state.provider.rediscover_on_unknown_key().await
    }

    /// How many refreshes ended with `outcome` (`bff_token_refresh_total`).
    pub fn refresh_count(&self, outcome: RefreshOutcome) -> u64 {
        self.state.metrics.refresh_count(outcome)
    }

    /// Opens the stored session `id`, as a request would.
    pub async fn load_session(&self, id: &SessionId) -> Result<Option<SessionData>, StoreError> {
        self.state.vault.load(id).await
    }

    /// Records activity on session `id` (the idle-timer touch).
    pub async fn touch_session(
        &self,
        id: &SessionId,
        current: &SessionData,
    ) -> Result<Option<SessionData>, StoreError> {
        self.state.vault.touch(id, current).await
    }
}
