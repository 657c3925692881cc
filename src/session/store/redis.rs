//! The Redis store: a `ConnectionManager` (multiplexed, reconnecting) with
//! bounded connect and response timeouts, so a slow or dead Redis turns
//! into a fast [`StoreError`] (→ 503) instead of a stuck request.

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{BoxFuture, SessionStore, StoreError};

/// A Redis-backed store shared by all bff pods.
pub struct RedisStore {
    conn: ConnectionManager,
}

impl RedisStore {
    /// Connects lazily to `url` (`redis://` or `rediss://`): start-up never
    /// blocks on Redis; readiness reports it instead (security case R1).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError(format!("bad Redis URL: {:?}", e.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(redis_error)?;
        Ok(Self { conn })
    }
}

/// Redis errors are reported by kind only: messages can echo arguments.
fn redis_error(err: redis::RedisError) -> StoreError {
    StoreError(format!("redis: {:?}", err.kind()))
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl SessionStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { self.conn.clone().get(key).await.map_err(redis_error) })
    }

    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.conn.clone().pset_ex(key, value, millis(ttl)).await.map_err(redis_error) })
    }

    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { self.conn.clone().get_del(key).await.map_err(redis_error) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.conn.clone().del(key).await.map_err(redis_error) })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let pong: String = redis::cmd("PING").query_async(&mut self.conn.clone()).await.map_err(redis_error)?;
            if pong == "PONG" { Ok(()) } else { Err(StoreError("unexpected PING answer".into())) }
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
