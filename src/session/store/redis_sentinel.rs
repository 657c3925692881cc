//! Redis Sentinel: the current master, found through the sentinels, and
//! found again after a failover. Writes only ever go to the master the
//! sentinels name (verified with `ROLE` by the redis crate). A connection
//! failure or a `READONLY` reply (the old master came back as a replica)
//! makes the store ask the sentinels again, at most every 250 ms; meanwhile
//! requests fail with a store error (503), never as "no session".

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};

use super::StoreError;
use super::redis_errors::redis_error;
use crate::metrics::RedisEvents;

/// Least time between two rounds of asking the sentinels.
const RESOLVE_EVERY: Duration = Duration::from_millis(250);

/// The master of one Sentinel-monitored group.
pub(crate) struct SentinelMaster {
    sentinels: tokio::sync::Mutex<SentinelClient>,
    current: ArcSwapOption<ConnectionManager>,
    config: ConnectionManagerConfig,
    started: Instant,
    last_resolve_ms: AtomicU64,
    resolving: AtomicBool,
    /// The master's address last named, to count changes.
    master_addr: std::sync::Mutex<Option<String>>,
    events: RedisEvents,
}

impl SentinelMaster {
    /// A client of the sentinels at `addresses` (`host:port`) for the group
    /// `master`, reaching its nodes with `node` (database, ACL user,
    /// password, TLS). Does not connect yet.
    pub(crate) fn new(
        addresses: &[String],
        master: &str,
        node: SentinelNodeConnectionInfo,
        sentinel_password: Option<&str>,
        config: ConnectionManagerConfig,
        events: RedisEvents,
    ) -> Result<Arc<Self>, StoreError> {
        let mut urls = Vec::with_capacity(addresses.len());
        for address in addresses {
            let mut url = url::Url::parse(&format!("redis://{address}/"))
                .map_err(|_err| StoreError(format!("bad sentinel address `{address}`")))?;
            if url.set_password(sentinel_password).is_err() {
                return Err(StoreError(format!("bad sentinel address `{address}`")));
            }
            urls.push(url.to_string());
        }
        let client = SentinelClient::build(urls, master, Some(node), SentinelServerType::Master)
            .map_err(|e| StoreError(format!("bad BFF_REDIS_SENTINELS: {:?}", e.kind())))?;
        Ok(Arc::new(Self {
            sentinels: tokio::sync::Mutex::new(client),
            current: ArcSwapOption::empty(),
            config,
            started: Instant::now(),
            last_resolve_ms: AtomicU64::new(0),
            resolving: AtomicBool::new(false),
            master_addr: std::sync::Mutex::new(None),
            events,
        }))
    }

    /// Whether a master is known yet.
    pub(crate) fn known(&self) -> bool {
        self.current.load().is_some()
    }

    /// The connection to the current master, if one is known.
    pub(crate) fn conn(self: &Arc<Self>) -> Result<ConnectionManager, StoreError> {
        if let Some(conn) = self.current.load_full() {
            return Ok((*conn).clone());
        }
        self.suspect();
        Err(StoreError(
            "no Redis master known yet (asking the sentinels)".into(),
        ))
    }

    /// Asks the sentinels who the master is now (in the background, at
    /// most every 250 ms): the last command failed as after a failover.
    pub(crate) fn suspect(self: &Arc<Self>) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_resolve_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= millis(RESOLVE_EVERY);
        if !due || self.resolving.swap(true, Ordering::AcqRel) {
            return;
        }
        self.last_resolve_ms.store(now.max(1), Ordering::Relaxed);
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(err) = this.resolve().await {
                tracing::warn!(error = %err, "Redis sentinels did not name a master");
            }
            this.resolving.store(false, Ordering::Release);
        });
    }

    /// Asks the sentinels now and switches to the master they name.
    pub(crate) async fn resolve(&self) -> Result<(), StoreError> {
        let client = self
            .sentinels
            .lock()
            .await
            .async_get_client()
            .await
            .map_err(redis_error)?;
        let addr = client.get_connection_info().addr().to_string();
        let conn = ConnectionManager::new_lazy_with_config(client, self.config.clone())
            .map_err(redis_error)?;
        self.current.store(Some(Arc::new(conn)));
        let previous = self
            .master_addr
            .lock()
            .map(|mut last| last.replace(addr.clone()))
            .unwrap_or_default();
        match previous {
            Some(previous) if previous != addr => {
                self.events.master_changes.inc();
                tracing::warn!(master = %addr, %previous, "Redis master moved (failover)");
            }
            Some(_) => {}
            None => tracing::info!(master = %addr, "Redis master (from the sentinels)"),
        }
        Ok(())
    }
}

/// How the sentinels' master is reached: the database, ACL user, password
/// and TLS of `BFF_REDIS_URL` (whose host is ignored).
pub(crate) fn node_info(info: &redis::ConnectionInfo, url: &str) -> SentinelNodeConnectionInfo {
    let node = SentinelNodeConnectionInfo::default()
        .set_redis_connection_info(info.redis_settings().clone());
    if url.starts_with("rediss://") {
        node.set_tls_mode(redis::TlsMode::Secure)
    } else {
        node
    }
}

/// Whether `err` looks like the master moved: a refused or broken
/// connection, a timeout, or `READONLY` from a node demoted to replica.
pub(crate) fn is_failover(err: &redis::RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.code() == Some("READONLY")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
