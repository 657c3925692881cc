//! How the Redis store survives failovers: `WAIT` for replicas
//! (`BFF_REDIS_MIN_REPLICAS_ACK`), one retry of idempotent commands after a
//! failover-like error behind Sentinel (case R12), pruning of dangling
//! index members, and counting connection failures.

use redis::AsyncCommands as _;

use super::StoreError;
use super::redis::{Conns, RedisStore, millis};
use super::redis_cluster;
use super::redis_conn::Conn;
use super::redis_errors::redis_error;
use super::redis_sentinel as sentinel;
use crate::session::keys;

impl RedisStore {
    /// With `BFF_REDIS_MIN_REPLICAS_ACK`, waits until that many replicas
    /// hold the writes made so far on this connection (`WAIT`), so a
    /// failover right after cannot lose them; fewer in time is an error.
    /// In a cluster, `WAIT` goes to the master of `key`'s slot only.
    pub(super) async fn durable(&self, conn: &mut Conn, key: &str) -> Result<(), StoreError> {
        let wanted = self.min_replicas_ack;
        if wanted == 0 {
            return Ok(());
        }
        let mut wait = redis::cmd("WAIT");
        wait.arg(wanted).arg(millis(self.ack_timeout));
        let acked: redis::RedisResult<u32> = match conn {
            Conn::Cluster(cluster) => redis_cluster::on_master_of(cluster, key, wait).await,
            Conn::Node(_) => wait.query_async(conn).await,
        };
        let acked = acked.map_err(|e| self.failed(e))?;
        if acked < wanted {
            return Err(StoreError(format!(
                "only {acked} of {wanted} Redis replicas acknowledged the write"
            )));
        }
        Ok(())
    }

    /// Runs an idempotent command. Behind Sentinel, a failure that looks
    /// like a failover (`READONLY` from a demoted node, a refused or dropped
    /// connection) makes bff ask the sentinels at once and run it once more.
    pub(super) async fn idempotent<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(Conn) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let err = match op(self.conn()?).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        // Safe to repeat whether or not the first attempt ran.
        let retry = sentinel::is_failover(&err);
        match &self.conns {
            Conns::Sentinel(master) if retry => {
                self.events.connection_failures.inc();
                master.resolve().await?;
                op(self.conn()?).await.map_err(|e| self.failed(e))
            }
            _ => Err(self.failed(err)),
        }
    }

    /// The members of `index` whose session record still exists; dead ones
    /// are removed (each record is its own slot, so this is one step per
    /// member, not a script).
    pub(super) async fn live_members(&self, index: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let members: Vec<String> = conn.smembers(index).await.map_err(|e| self.failed(e))?;
        let mut live = Vec::with_capacity(members.len());
        for hash in members {
            let exists: bool = conn
                .exists(keys::record(&hash))
                .await
                .map_err(|e| self.failed(e))?;
            if exists {
                live.push(hash);
            } else {
                let _gone: i64 = conn.srem(index, &hash).await.map_err(|e| self.failed(e))?;
            }
        }
        Ok(live)
    }

    /// A failed command as a store error; behind Sentinel, one that looks
    /// like a failover also sends the store looking for the new master.
    pub(super) fn failed(&self, err: redis::RedisError) -> StoreError {
        if sentinel::is_failover(&err) {
            self.events.connection_failures.inc();
            if let Conns::Sentinel(master) = &self.conns {
                master.suspect();
            }
        }
        redis_error(err)
    }
}
