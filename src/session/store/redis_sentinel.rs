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
use redis::ConnectionAddr;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};

use super::StoreError;
use super::redis_client::certificates;
use super::redis_errors::redis_error;
use crate::config::RedisOptions;
use crate::metrics::RedisEvents;

/// Least time between two rounds of asking the sentinels.
const RESOLVE_EVERY: Duration = Duration::from_millis(250);

/// The master of one Sentinel-monitored group.
pub(crate) struct SentinelMaster {
    sentinels: tokio::sync::Mutex<SentinelClient>,
    current: ArcSwapOption<ConnectionManager>,
    /// How the current master is reached (the invalidation listener).
    current_info: ArcSwapOption<redis::ConnectionInfo>,
    config: ConnectionManagerConfig,
    started: Instant,
    last_resolve_ms: AtomicU64,
    resolving: AtomicBool,
    /// The master's address last named, to count changes.
    master_addr: std::sync::Mutex<Option<String>>,
    events: RedisEvents,
}

impl SentinelMaster {
    /// A client of the sentinels in `options` for its group, reaching the
    /// data nodes with `redis` (database, ACL user, password of
    /// `BFF_REDIS_URL`), over TLS if `data_tls`; the TLS files of `options`
    /// apply to the data nodes and, with `BFF_REDIS_SENTINEL_TLS`, to the
    /// sentinels. Does not connect yet.
    pub(crate) fn new(
        options: &RedisOptions,
        redis: &redis::RedisConnectionInfo,
        data_tls: bool,
        config: ConnectionManagerConfig,
        events: RedisEvents,
    ) -> Result<Arc<Self>, StoreError> {
        let client = sentinel_client(options, redis, data_tls)?;
        Ok(Arc::new(Self {
            sentinels: tokio::sync::Mutex::new(client),
            current: ArcSwapOption::empty(),
            current_info: ArcSwapOption::empty(),
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

    /// How the current master is reached, if one is known.
    pub(crate) fn master_info(&self) -> Option<redis::ConnectionInfo> {
        self.current_info.load_full().map(|info| (*info).clone())
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
        let info = client.get_connection_info().clone();
        let conn = ConnectionManager::new_lazy_with_config(client, self.config.clone())
            .map_err(redis_error)?;
        self.current.store(Some(Arc::new(conn)));
        self.current_info.store(Some(Arc::new(info)));
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

/// The sentinels' client: their addresses, password and TLS, and how the
/// data nodes are reached (the database, ACL user, password and TLS of
/// `BFF_REDIS_URL`, whose host is ignored).
fn sentinel_client(
    options: &RedisOptions,
    redis: &redis::RedisConnectionInfo,
    data_tls: bool,
) -> Result<SentinelClient, StoreError> {
    let bad = |e: redis::RedisError| StoreError(format!("bad BFF_REDIS_SENTINELS: {:?}", e.kind()));
    let addrs = options
        .sentinels
        .iter()
        .map(|address| sentinel_addr(address, options.sentinel_tls))
        .collect::<Result<Vec<_>, _>>()?;
    let master = options.sentinel_master.as_str();
    let mut builder =
        SentinelClientBuilder::new(addrs, master, SentinelServerType::Master).map_err(bad)?;
    builder = builder.set_client_to_redis_db(redis.db());
    if let Some(user) = redis.username() {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(password) = redis.password() {
        builder = builder.set_client_to_redis_password(password);
    }
    if let Some(password) = &options.sentinel_password {
        builder = builder.set_client_to_sentinel_password(password.expose());
    }
    let certificates = certificates(options)?;
    if data_tls {
        builder = builder.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
        if let Some(certs) = certificates.clone() {
            builder = builder.set_client_to_redis_certificates(certs);
        }
    }
    if options.sentinel_tls {
        builder = builder.set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
        if let Some(certs) = certificates {
            builder = builder.set_client_to_sentinel_certificates(certs);
        }
    }
    builder.build().map_err(bad)
}

/// One sentinel's address (`host:port`), over TLS or not.
fn sentinel_addr(address: &str, tls: bool) -> Result<ConnectionAddr, StoreError> {
    let (host, port) = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((unbracket(host), port.parse().ok()?)))
        .ok_or_else(|| StoreError(format!("bad sentinel address `{address}`")))?;
    Ok(if tls {
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host, port)
    })
}

/// `[::1]` → `::1` (an IPv6 literal in `host:port`).
fn unbracket(host: &str) -> String {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_addresses_parse_with_or_without_tls_and_ipv6_brackets() {
        let plain = sentinel_addr("[::1]:26379", false).unwrap();
        assert_eq!(plain, ConnectionAddr::Tcp("::1".into(), 26379));
        let tls = sentinel_addr("sentinel-0.internal:26380", true).unwrap();
        assert!(
            matches!(tls, ConnectionAddr::TcpTls { ref host, port: 26380, insecure: false, .. } if host == "sentinel-0.internal")
        );
        assert!(sentinel_addr("no-port", false).is_err());
        assert!(sentinel_addr("host:99999", false).is_err());
    }
}
