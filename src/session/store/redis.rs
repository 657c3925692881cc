//! The Redis store: a `ConnectionManager` (multiplexed, reconnecting) with
//! bounded connect and response timeouts, so a slow or dead Redis turns
//! into a fast [`StoreError`] (→ 503) instead of a stuck request.

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{BoxFuture, Cas, SessionStore, StoreError};

/// Replace only if the value still has the expected prefix; KEEPTTL keeps
/// the absolute lifetime (Redis ≥ 6.0). Returns 1 swapped, 0 missing, -1
/// conflict.
const CAS_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if string.sub(cur, 1, string.len(ARGV[1])) ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
";

/// Extend the lease only for the holder.
const RENEW_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Compare-and-delete: release only our own lock.
const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A Redis-backed store shared by all bff pods.
pub struct RedisStore {
    conn: ConnectionManager,
    cas: redis::Script,
    renew: redis::Script,
    unlock: redis::Script,
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
        Ok(Self {
            conn,
            cas: redis::Script::new(CAS_SCRIPT),
            renew: redis::Script::new(RENEW_SCRIPT),
            unlock: redis::Script::new(UNLOCK_SCRIPT),
        })
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

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected_prefix: &'a [u8],
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<Cas, StoreError>> {
        Box::pin(async move {
            let mut invocation = self.cas.key(key);
            invocation.arg(expected_prefix).arg(value);
            let result: i64 = invocation.invoke_async(&mut self.conn.clone()).await.map_err(redis_error)?;
            Ok(match result {
                1 => Cas::Swapped,
                0 => Cas::Missing,
                _ => Cas::Conflict,
            })
        })
    }

    fn try_lock<'a>(&'a self, key: &'a str, token: &'a str, lease: Duration) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(token)
                .arg("NX")
                .arg("PX")
                .arg(millis(lease))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(redis_error)?;
            Ok(set.is_some())
        })
    }

    fn renew_lock<'a>(&'a self, key: &'a str, token: &'a str, lease: Duration) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut invocation = self.renew.key(key);
            invocation.arg(token).arg(millis(lease));
            let renewed: i64 = invocation.invoke_async(&mut self.conn.clone()).await.map_err(redis_error)?;
            Ok(renewed == 1)
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut invocation = self.unlock.key(key);
            invocation.arg(token);
            let _deleted: i64 = invocation.invoke_async(&mut self.conn.clone()).await.map_err(redis_error)?;
            Ok(())
        })
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
