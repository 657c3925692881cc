//! The Redis primaries that hold session records, for the session cache's
//! invalidation listener: the one server, the master the sentinels name,
//! or every master of a cluster (from `CLUSTER SLOTS`).

use redis::{ConnectionAddr, ConnectionInfo};

use super::StoreError;
use super::redis::{Conns, RedisStore};
use super::redis_cluster;
use super::redis_errors::redis_error;

impl RedisStore {
    /// How each primary is reached now (password, database and TLS of
    /// `BFF_REDIS_URL`).
    pub(crate) async fn primaries(&self) -> Result<Vec<ConnectionInfo>, StoreError> {
        match &self.conns {
            Conns::Direct(_) => Ok(vec![self.node_info.clone()]),
            Conns::Sentinel(master) => {
                if !master.known() {
                    master.resolve().await?;
                }
                master
                    .master_info()
                    .map(|info| vec![info])
                    .ok_or_else(|| StoreError("no Redis master known yet".into()))
            }
            Conns::Cluster(nodes) => {
                if !nodes.known() {
                    nodes.connect().await?;
                }
                let masters = redis_cluster::masters(&mut nodes.conn()?)
                    .await
                    .map_err(redis_error)?;
                Ok(masters
                    .into_iter()
                    .map(|(host, port)| at(&self.node_info, host, port))
                    .collect())
            }
        }
    }

    /// The listener lost a primary: behind Sentinel, ask the sentinels
    /// again (a failover may have happened with no request to notice it).
    pub(crate) fn suspect_primaries(&self) {
        if let Conns::Sentinel(master) = &self.conns {
            master.suspect();
        }
    }

    /// Whether the primaries can change under bff (Sentinel, Cluster).
    pub(crate) fn replicated(&self) -> bool {
        !matches!(self.conns, Conns::Direct(_))
    }

    /// Whether the primaries are still `known` (same addresses): a failover
    /// or resharding means the listener must start over.
    pub(crate) async fn primaries_are(&self, known: &[ConnectionInfo]) -> bool {
        let addresses = |infos: &[ConnectionInfo]| -> Vec<String> {
            let mut all: Vec<String> = infos.iter().map(|i| i.addr().to_string()).collect();
            all.sort();
            all
        };
        match &self.conns {
            Conns::Direct(_) => true,
            Conns::Sentinel(_) | Conns::Cluster(_) => self
                .primaries()
                .await
                .is_ok_and(|now| addresses(&now) == addresses(known)),
        }
    }
}

/// `info` with its host and port replaced (TLS settings kept).
fn at(info: &ConnectionInfo, host: String, port: u16) -> ConnectionInfo {
    let addr = match info.addr().clone() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure,
            tls_params,
        },
        _ => ConnectionAddr::Tcp(host, port),
    };
    info.clone().set_addr(addr)
}
