//! Redis Cluster: seed nodes from `BFF_REDIS_CLUSTER_NODES`, slots
//! discovered and `MOVED`/`ASK` followed by the redis crate. Connects
//! lazily (in the background, readiness waits for it), so a cluster that is
//! down at start only delays readiness (case R1).
//! Every script touches one slot (see `redis_scripts`); the session count
//! scans each master.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwapOption;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;

use super::StoreError;
use super::redis_client::certificates;
use super::redis_conn::Conn;
use super::redis_errors::redis_error;
use crate::config::RedisOptions;

/// The cluster connection, once made.
pub(crate) struct ClusterNodes {
    client: ClusterClient,
    current: ArcSwapOption<ClusterConnection>,
    connecting: AtomicBool,
}

impl ClusterNodes {
    /// A client of the cluster behind `seeds` (`host:port`), with the
    /// credentials and scheme of `url` (whose host is ignored), the TLS
    /// files and the timeouts of `options`. Does not connect yet.
    pub(crate) fn new(
        seeds: &[String],
        url: &str,
        options: &RedisOptions,
    ) -> Result<Arc<Self>, StoreError> {
        let mut nodes = Vec::with_capacity(seeds.len());
        for seed in seeds {
            let mut node =
                url::Url::parse(url).map_err(|_err| StoreError("bad BFF_REDIS_URL".into()))?;
            let (host, port) = seed
                .rsplit_once(':')
                .ok_or_else(|| StoreError(format!("bad cluster node `{seed}`")))?;
            let port: u16 = port
                .parse()
                .map_err(|_err| StoreError(format!("bad cluster node `{seed}`")))?;
            let placed = node.set_host(Some(host)).is_ok() && node.set_port(Some(port)).is_ok();
            if !placed {
                return Err(StoreError(format!("bad cluster node `{seed}`")));
            }
            node.set_path("");
            nodes.push(node.to_string());
        }
        let client = builder(nodes, options)?
            .build()
            .map_err(|e| StoreError(format!("bad BFF_REDIS_CLUSTER_NODES: {:?}", e.kind())))?;
        Ok(Arc::new(Self {
            client,
            current: ArcSwapOption::empty(),
            connecting: AtomicBool::new(false),
        }))
    }

    /// Whether the connection is made.
    pub(crate) fn known(&self) -> bool {
        self.current.load().is_some()
    }

    /// The connection, if made; else starts making it (503 meanwhile).
    pub(crate) fn conn(self: &Arc<Self>) -> Result<ClusterConnection, StoreError> {
        if let Some(conn) = self.current.load_full() {
            return Ok((*conn).clone());
        }
        if !self.connecting.swap(true, Ordering::AcqRel) {
            let this = Arc::clone(self);
            tokio::spawn(async move {
                if let Err(err) = this.connect().await {
                    tracing::warn!(error = %err, "Redis Cluster not reachable yet");
                }
                this.connecting.store(false, Ordering::Release);
            });
        }
        Err(StoreError("Redis Cluster not connected yet".into()))
    }

    /// Connects now (discovering the slots).
    pub(crate) async fn connect(&self) -> Result<(), StoreError> {
        let conn = self
            .client
            .get_async_connection()
            .await
            .map_err(redis_error)?;
        self.current.store(Some(Arc::new(conn)));
        Ok(())
    }
}

impl ClusterNodes {
    /// Ready only if every one of the 16384 slots has a master
    /// (`CLUSTER SLOTS`): else some sessions would be unreachable.
    pub(crate) async fn all_slots_served(self: &Arc<Self>) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let mut served = 0u32;
        for (range, _master) in slot_ranges(&mut conn).await.map_err(redis_error)? {
            served += u32::from(range.1 - range.0) + 1;
        }
        if served == SLOTS {
            Ok(())
        } else {
            Err(StoreError(format!(
                "Redis Cluster: {} of {SLOTS} slots have no master",
                SLOTS.saturating_sub(served)
            )))
        }
    }
}

/// Hash slots in a Redis Cluster.
const SLOTS: u32 = 16384;

/// The cluster client's settings: TLS files, timeouts, and a few quick
/// retries (the crate follows `MOVED`/`ASK` and waits out `TRYAGAIN` and a
/// failover within them; the whole call stays within the command timeout).
fn builder(nodes: Vec<String>, options: &RedisOptions) -> Result<ClusterClientBuilder, StoreError> {
    let mut builder = ClusterClient::builder(nodes)
        .connection_timeout(options.connect_timeout)
        .response_timeout(options.command_timeout)
        .retries(6)
        .min_retry_wait(20)
        .max_retry_wait(400);
    if let Some(certificates) = certificates(options)? {
        builder = builder.certs(certificates);
    }
    Ok(builder)
}

/// Runs `cmd` (a keyless command such as `WAIT`) on the master of `key`'s
/// slot, where the write it follows went.
pub(crate) async fn on_master_of<T: redis::FromRedisValue>(
    conn: &mut ClusterConnection,
    key: &str,
    cmd: redis::Cmd,
) -> redis::RedisResult<T> {
    use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
    let route = Route::with_key(key, SlotAddr::Master);
    let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
    let reply = conn.route_command(cmd, node).await?;
    Ok(redis::from_redis_value(reply)?)
}

/// Keys matching `pattern` on every master (`SCAN` node by node: a
/// cluster-wide `SCAN` would see one node only).
pub(crate) async fn count_on_every_master(
    conn: &mut ClusterConnection,
    pattern: &str,
) -> redis::RedisResult<u64> {
    use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
    let mut total = 0;
    for (host, port) in masters(conn).await? {
        let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
        let mut on_node = Conn::Cluster(conn.clone());
        total += count_on_node(&mut on_node, pattern, Some(node)).await?;
    }
    Ok(total)
}

/// Keys matching `pattern` on one node (`SCAN`; `route` picks the node
/// in a cluster).
pub(crate) async fn count_on_node(
    conn: &mut Conn,
    pattern: &str,
    route: Option<redis::cluster_routing::RoutingInfo>,
) -> redis::RedisResult<u64> {
    let mut cursor: u64 = 0;
    let mut total = 0;
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000);
        let reply = match (&mut *conn, &route) {
            (Conn::Cluster(cluster), Some(route)) => {
                cluster.route_command(scan, route.clone()).await?
            }
            (other, _) => scan.query_async(other).await?,
        };
        let (next, keys): (u64, Vec<String>) = redis::from_redis_value(reply)?;
        total += keys.len() as u64;
        if next == 0 {
            return Ok(total);
        }
        cursor = next;
    }
}

/// The masters' addresses, from `CLUSTER SLOTS`.
pub(crate) async fn masters(
    conn: &mut ClusterConnection,
) -> redis::RedisResult<Vec<(String, u16)>> {
    let ranges = slot_ranges(conn).await?;
    let masters: std::collections::BTreeSet<_> = ranges.into_iter().map(|(_, m)| m).collect();
    Ok(masters.into_iter().collect())
}

/// Each served slot range (first, last) with its master's address, from
/// `CLUSTER SLOTS`.
async fn slot_ranges(
    conn: &mut ClusterConnection,
) -> redis::RedisResult<Vec<((u16, u16), (String, u16))>> {
    let slots: Vec<Vec<redis::Value>> =
        redis::cmd("CLUSTER").arg("SLOTS").query_async(conn).await?;
    let mut ranges = Vec::with_capacity(slots.len());
    for range in slots {
        // [start, end, [host, port, id, …], replicas…]
        let mut range = range.into_iter();
        let (Some(first), Some(last), Some(master)) = (range.next(), range.next(), range.next())
        else {
            continue;
        };
        let fields: Vec<redis::Value> = redis::from_redis_value(master)?;
        let mut fields = fields.into_iter();
        if let (Some(host), Some(port)) = (fields.next(), fields.next()) {
            let bounds = (
                redis::from_redis_value(first)?,
                redis::from_redis_value(last)?,
            );
            let master = (
                redis::from_redis_value(host)?,
                redis::from_redis_value(port)?,
            );
            ranges.push((bounds, master));
        }
    }
    Ok(ranges)
}
