//! The Redis store: a `ConnectionManager` (multiplexed, reconnecting) per
//! worker thread (see [`crate::worker`]), with bounded connect and response
//! timeouts, so a slow or dead Redis turns into a fast [`StoreError`]
//! (→ 503) instead of a stuck request.
//! Multi-key updates run as Lua scripts ([`super::redis_scripts`]).

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::redis_client::client;
use super::redis_cluster::{self, ClusterNodes};
use super::redis_conn::Conn;
use super::redis_errors::redis_error;
use super::redis_scripts::Scripts;
use super::redis_sentinel::SentinelMaster;
use super::redis_tally::{self, Tally};
use super::{BoxFuture, Cas, NewSession, SessionStore, StoreError, Swap};
use crate::config::RedisOptions;
use crate::metrics::RedisEvents;
use crate::per_worker::PerWorker;
use crate::session::keys;
use crate::session::meta::SessionMeta;

/// A Redis-backed store shared by all bff pods.
pub struct RedisStore {
    pub(super) conns: Conns,
    scripts: Scripts,
    /// Replicas that must acknowledge a session write (`WAIT`), 0 = none.
    pub(super) min_replicas_ack: u32,
    /// How long `WAIT` may take.
    pub(super) ack_timeout: Duration,
    pub(super) events: RedisEvents,
    /// How `BFF_REDIS_URL` reaches a node (password, database, TLS).
    pub(super) node_info: redis::ConnectionInfo,
}

/// How commands reach Redis.
pub(super) enum Conns {
    /// One server (`BFF_REDIS_URL`): a reconnecting connection per worker.
    Direct(PerWorker<ConnectionManager>),
    /// The master a Sentinel group names (`BFF_REDIS_SENTINELS`), shared.
    Sentinel(Arc<SentinelMaster>),
    /// A Redis Cluster (`BFF_REDIS_CLUSTER_NODES`), shared.
    Cluster(Arc<ClusterNodes>),
}

impl RedisStore {
    /// Connects lazily to `url` (`redis://` or `rediss://`): start-up never
    /// blocks on Redis; readiness reports it instead (security case R1).
    /// Each of `workers` threads gets its own connection on first use.
    pub fn connect(url: &str, options: &RedisOptions, workers: usize) -> Result<Self, StoreError> {
        Self::connect_counting(url, options, workers, RedisEvents::default())
    }

    /// Like [`Self::connect`], counting reconnects and failovers in `events`.
    pub(crate) fn connect_counting(
        url: &str,
        options: &RedisOptions,
        workers: usize,
        events: RedisEvents,
    ) -> Result<Self, StoreError> {
        let client = client(url, options)?;
        let node_info = client.get_connection_info().clone();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.command_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conns = if !options.cluster_nodes.is_empty() {
            Conns::Cluster(ClusterNodes::new(&options.cluster_nodes, url, options)?)
        } else if options.sentinels.is_empty() {
            let shared = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                .map_err(redis_error)?;
            Conns::Direct(PerWorker::new(workers, shared, move || {
                ConnectionManager::new_lazy_with_config(client.clone(), config.clone()).ok()
            }))
        } else {
            Conns::Sentinel(SentinelMaster::new(
                options,
                client.get_connection_info().redis_settings(),
                url.starts_with("rediss://"),
                config,
                events.clone(),
            )?)
        };
        let scripts = Scripts::new();
        Ok(Self {
            conns,
            scripts,
            min_replicas_ack: options.min_replicas_ack,
            // Half the command timeout: the reply comes before the
            // connection's own timeout, with the count of replicas.
            ack_timeout: options.command_timeout / 2,
            events,
            node_info,
        })
    }

    /// Redis's `maxmemory-policy`, if it lets bff read it (managed services
    /// may refuse `CONFIG`).
    pub async fn eviction_policy(&self) -> Option<String> {
        let reply: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut self.conn().ok()?)
            .await
            .ok()?;
        reply.into_iter().nth(1)
    }

    pub(super) fn conn(&self) -> Result<Conn, StoreError> {
        match &self.conns {
            Conns::Direct(conns) => Ok(Conn::Node(conns.get().clone())),
            Conns::Sentinel(master) => master.conn().map(Conn::Node),
            Conns::Cluster(nodes) => nodes.conn().map(Conn::Cluster),
        }
    }
}

impl RedisStore {
    /// Adds `hash` to a session tally; best effort (the count is an
    /// estimate, never a reason to fail a login or logout).
    async fn tally(&self, tally: Tally, hash: &str) {
        let Ok(mut conn) = self.conn() else { return };
        if let Err(err) = redis_tally::note(&mut conn, tally, hash).await {
            tracing::debug!(error = %err, "session tally not updated");
        }
    }
}

pub(super) fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl SessionStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(self.idempotent(move |mut conn| async move { conn.get(key).await }))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.idempotent(move |mut conn| {
            let value = value.clone();
            async move { conn.pset_ex(key, value, millis(ttl)).await }
        }))
    }

    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { self.conn()?.get_del(key).await.map_err(|e| self.failed(e)) })
    }

    fn put_session<'a>(&'a self, new: NewSession<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // Index entries first (other slots): a crash before the session
            // write leaves a dangling member, pruned here next time, never
            // a session that logout cannot find.
            let index_ttl = millis(new.index_ttl.max(new.ttl));
            for index in &new.indexes {
                self.live_members(index).await?;
                let mut add = self.scripts.index_add.key(index);
                add.arg(new.hash).arg(index_ttl);
                let add = &add;
                self.idempotent(
                    move |mut conn| async move { add.invoke_async::<i64>(&mut conn).await },
                )
                .await?;
            }
            let mut call = self.scripts.put_session.key(keys::record(new.hash));
            call.key(keys::meta(new.hash))
                .arg(new.record)
                .arg(new.meta)
                .arg(millis(new.ttl));
            // Idempotent: the same record and metadata again.
            let call = &call;
            let mut conn = self
                .idempotent(move |mut conn| async move {
                    call.invoke_async::<i64>(&mut conn).await.map(|_done| conn)
                })
                .await?;
            self.durable(&mut conn, &keys::record(new.hash)).await?;
            self.tally(Tally::Started, new.hash).await;
            Ok(())
        })
    }

    fn compare_and_swap<'a>(&'a self, swap: Swap<'a>) -> BoxFuture<'a, Result<Cas, StoreError>> {
        Box::pin(async move {
            let mut call = self.scripts.cas.key(keys::record(swap.hash));
            call.key(keys::meta(swap.hash));
            let ttl = swap.ttl.map_or(0, millis);
            call.arg(swap.expected_prefix)
                .arg(swap.record)
                .arg(ttl)
                .arg(swap.meta.unwrap_or_default());
            let mut conn = self.conn()?;
            let result: i64 = call
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.failed(e))?;
            match result {
                1 => self
                    .durable(&mut conn, &keys::record(swap.hash))
                    .await
                    .map(|()| Cas::Swapped),
                0 => Ok(Cas::Missing),
                _ => Ok(Cas::Conflict),
            }
        })
    }

    fn remove_session<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut call = self.scripts.remove.key(keys::record(hash));
            call.key(keys::meta(hash));
            let (deleted, meta): (i64, Option<String>) = call
                .invoke_async(&mut self.conn()?)
                .await
                .map_err(|e| self.failed(e))?;
            // The index entries go after the session (other slots).
            if let Some(meta) = meta.as_deref().and_then(SessionMeta::from_json) {
                for index in std::iter::once(meta.sub_index).chain(meta.sid_index) {
                    let _gone: i64 = self
                        .conn()?
                        .srem(&index, hash)
                        .await
                        .map_err(|e| self.failed(e))?;
                }
            }
            if deleted > 0 {
                self.tally(Tally::Ended, hash).await;
            }
            Ok(deleted > 0)
        })
    }

    fn index_members<'a>(
        &'a self,
        index: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(self.live_members(index))
    }

    fn session_meta<'a>(
        &'a self,
        hashes: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, StoreError>> {
        Box::pin(async move {
            if hashes.is_empty() {
                return Ok(Vec::new());
            }
            let metas: Vec<String> = hashes.iter().map(|h| keys::meta(h)).collect();
            redis::cmd("MGET")
                .arg(metas)
                .query_async(&mut self.conn()?)
                .await
                .map_err(|e| self.failed(e))
        })
    }

    fn estimate_live(&self, lifetime: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            redis_tally::estimate(&mut self.conn()?, lifetime)
                .await
                .map_err(|e| self.failed(e))
        })
    }

    fn count_sessions(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn()?;
            if let Conn::Cluster(cluster) = &mut conn {
                let pattern = format!("{}*", keys::RECORD_PREFIX);
                return redis_cluster::count_on_every_master(cluster, &pattern)
                    .await
                    .map_err(|e| self.failed(e));
            }
            let pattern = format!("{}*", keys::RECORD_PREFIX);
            redis_cluster::count_on_node(&mut conn, &pattern, None)
                .await
                .map_err(|e| self.failed(e))
        })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(token)
                .arg("NX")
                .arg("PX")
                .arg(millis(lease))
                .query_async(&mut self.conn()?)
                .await
                .map_err(|e| self.failed(e))?;
            Ok(set.is_some())
        })
    }

    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut call = self.scripts.renew.key(key);
            call.arg(token).arg(millis(lease));
            let renewed: i64 = call
                .invoke_async(&mut self.conn()?)
                .await
                .map_err(|e| self.failed(e))?;
            Ok(renewed == 1)
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut call = self.scripts.unlock.key(key);
            call.arg(token);
            let _deleted: i64 = call
                .invoke_async(&mut self.conn()?)
                .await
                .map_err(|e| self.failed(e))?;
            Ok(())
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            // Behind Sentinel, readiness asks the sentinels at once; a
            // cluster is connected (slots discovered) at once, its `PING`
            // reaches every master, and every slot must have one.
            match &self.conns {
                Conns::Sentinel(master) if !master.known() => master.resolve().await?,
                Conns::Cluster(nodes) if !nodes.known() => nodes.connect().await?,
                _ => {}
            }
            let pong: String = redis::cmd("PING")
                .query_async(&mut self.conn()?)
                .await
                .map_err(|e| self.failed(e))?;
            if pong != "PONG" {
                return Err(StoreError("unexpected PING answer".into()));
            }
            match &self.conns {
                Conns::Cluster(nodes) => nodes.all_slots_served().await,
                _ => Ok(()),
            }
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
