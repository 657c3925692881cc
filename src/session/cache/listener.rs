//! The invalidation listener: one RESP3 connection per Redis primary with
//! `CLIENT TRACKING ON BCAST PREFIX bff:s:` (Redis client-side caching,
//! "broadcasting mode"), its pushes applied inline in the connection's
//! reader, and a probe every `max_staleness / 4` that renews the lease.
//!
//! Any error, silence, reconnect or change of primaries drops the lease
//! at once; the cache is flushed before tracking serves hits again. If
//! Redis refuses tracking (no RESP3, `CLIENT` blocked), the cache turns
//! itself off with one warning and bff reads Redis on every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value};

use tokio_util::sync::CancellationToken;

use super::records::SessionCache;
use crate::session::keys::{self, RECORD_PREFIX};
use crate::session::store::redis::RedisStore;

/// Longest wait between two attempts to re-establish tracking.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why the listener stopped holding a lease.
enum Lost {
    /// Redis refused tracking: the cache turns off.
    Refused(String),
    /// A connection error, a timeout or a topology change: start over.
    Again(String),
}

/// Runs the listener until `shutdown` (or until Redis refuses tracking).
pub(crate) fn spawn(cache: Arc<SessionCache>, store: Arc<RedisStore>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown.cancelled() => cache.lease().drop_lease(),
            () = run(Arc::clone(&cache), store) => 0,
        };
    });
}

async fn run(cache: Arc<SessionCache>, store: Arc<RedisStore>) {
    let mut backoff = Duration::from_millis(50);
    let mut established = 0_u64;
    loop {
        let epoch = cache.lease().drop_lease();
        let started = Instant::now();
        let lost = match track(&cache, &store, epoch).await {
            Ok(conns) => {
                established += 1;
                if established > 1 {
                    cache.metrics.reconnects.inc();
                }
                backoff = Duration::from_millis(50);
                hold(&cache, &store, &conns, epoch).await
            }
            Err(lost) => lost,
        };
        cache.lease().drop_lease();
        cache.report();
        match lost {
            Lost::Refused(reason) => {
                tracing::warn!(
                    reason,
                    "Redis refused CLIENT TRACKING: the session cache is off, every request reads Redis"
                );
                cache.disable();
                return;
            }
            Lost::Again(reason) => {
                store.suspect_primaries();
                tracing::warn!(
                    reason,
                    "session cache listener lost: cache bypassed until it is back"
                );
            }
        }
        if cache.options.outage_grace.is_none() {
            cache.clear();
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        count_grace(&cache, started.elapsed());
    }
}

/// Adds time spent without a lease to the grace counter while grace
/// applies (approximate: one backoff step at a time).
fn count_grace(cache: &SessionCache, spent: Duration) {
    let (Some(grace), Some(lost_for)) = (cache.options.outage_grace, cache.lease().lost_for())
    else {
        return;
    };
    if lost_for <= grace + spent {
        let spent = u64::try_from(spent.min(grace).as_millis()).unwrap_or(0);
        cache.metrics.grace_ms.inc_by(spent);
    }
}

/// Connects to every primary and turns tracking on; then flushes the
/// cache, since invalidations may have been missed before.
async fn track(
    cache: &Arc<SessionCache>,
    store: &RedisStore,
    epoch: u64,
) -> Result<Vec<(ConnectionInfo, MultiplexedConnection)>, Lost> {
    let primaries = store
        .primaries()
        .await
        .map_err(|e| Lost::Again(e.to_string()))?;
    let mut conns = Vec::with_capacity(primaries.len());
    for info in primaries {
        let conn = connect(cache, &info, epoch).await?;
        conns.push((info, conn));
    }
    cache.clear();
    Ok(conns)
}

/// One RESP3 connection to `info` whose invalidation pushes reach `cache`.
async fn connect(
    cache: &Arc<SessionCache>,
    info: &ConnectionInfo,
    epoch: u64,
) -> Result<MultiplexedConnection, Lost> {
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = redis::Client::open(info.clone().set_redis_settings(settings))
        .map_err(|e| Lost::Refused(format!("{:?}", e.kind())))?;
    let timeout = cache.max_staleness();
    let target = Arc::clone(cache);
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout.max(Duration::from_secs(1))))
        .set_response_timeout(Some(timeout))
        .set_push_sender(move |push: PushInfo| {
            apply(&target, epoch, push);
            Ok::<(), std::convert::Infallible>(())
        });
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(classify)?;
    let _ok: () = redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .arg("BCAST")
        .arg("PREFIX")
        .arg(RECORD_PREFIX)
        .query_async(&mut conn)
        .await
        .map_err(classify)?;
    Ok(conn)
}

/// Applies one push, inline in the connection's reader: an invalidation
/// evicts its keys, a `null` one (`FLUSHALL`/`FLUSHDB`) clears everything,
/// a disconnection drops the lease.
fn apply(cache: &SessionCache, epoch: u64, push: PushInfo) {
    match push.kind {
        PushKind::Invalidate => match push.data.first() {
            Some(Value::Array(keys)) => {
                for key in keys {
                    if let Value::BulkString(bytes) = key {
                        let key = String::from_utf8_lossy(bytes);
                        cache.evict(&key);
                        cache.metrics.invalidations.inc();
                        // For bench/revocation.mjs: when the push landed.
                        tracing::debug!(session = log_id_of(&key), "invalidation applied");
                    }
                }
            }
            Some(Value::Nil) => cache.clear(),
            _ => {}
        },
        PushKind::Disconnection if cache.lease().epoch() == epoch => {
            cache.lease().drop_lease();
        }
        _ => {}
    }
}

/// The log ID of a record key's session (as `SessionId::log_id`); other
/// keys show their prefix only.
fn log_id_of(key: &str) -> &str {
    keys::record_hash(key).map_or_else(|| key.get(..6).unwrap_or(key), keys::log_id)
}

/// Renews the lease until a probe fails or the primaries change.
async fn hold(
    cache: &SessionCache,
    store: &RedisStore,
    conns: &[(ConnectionInfo, MultiplexedConnection)],
    epoch: u64,
) -> Lost {
    let staleness = cache.max_staleness();
    let primaries: Vec<ConnectionInfo> = conns.iter().map(|(info, _)| info.clone()).collect();
    loop {
        let sent = Instant::now();
        let proven = tokio::time::timeout(staleness / 2, probe(conns, store.replicated())).await;
        match proven {
            Ok(Ok(())) if store.primaries_are(&primaries).await => {
                cache.lease().grant(epoch, sent, staleness);
            }
            Ok(Ok(())) => return Lost::Again("the Redis primaries changed".into()),
            Ok(Err(reason)) => return Lost::Again(reason),
            Err(_elapsed) => return Lost::Again("Redis did not answer the probe in time".into()),
        }
        if cache.lease().epoch() != epoch {
            return Lost::Again("listener connection closed".into());
        }
        cache.report();
        tokio::time::sleep_until((sent + staleness / 4).into()).await;
    }
}

/// `PING` on every listener connection in turn, or `ROLE` behind Sentinel or in a
/// cluster (a demoted master must not renew the lease). Each reply follows
/// every invalidation Redis queued before the probe on that socket.
async fn probe(
    conns: &[(ConnectionInfo, MultiplexedConnection)],
    role: bool,
) -> Result<(), String> {
    let command = if role { "ROLE" } else { "PING" };
    for (_, conn) in conns {
        let reply = redis::cmd(command)
            .query_async::<Value>(&mut conn.clone())
            .await;
        let reply = reply.map_err(|err| format!("{:?}", err.kind()))?;
        let answer = match reply {
            Value::SimpleString(pong) => pong,
            Value::Array(role) => role
                .first()
                .and_then(|first| {
                    <String as redis::FromRedisValue>::from_redis_value_ref(first).ok()
                })
                .unwrap_or_default(),
            _ => String::new(),
        };
        let expected = if role { "master" } else { "PONG" };
        if answer != expected {
            return Err(format!("probe answered `{answer}`, not `{expected}`"));
        }
    }
    Ok(())
}

/// A refusal of RESP3 or tracking turns the cache off; anything else is
/// retried.
fn classify(err: redis::RedisError) -> Lost {
    let transient = err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || matches!(err.kind(), redis::ErrorKind::AuthenticationFailed);
    let reason = format!("{:?}: {}", err.kind(), err.code().unwrap_or("no code"));
    if transient {
        Lost::Again(reason)
    } else {
        Lost::Refused(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::log_id_of;
    use crate::session::SessionId;

    #[test]
    fn an_applied_invalidation_names_the_session_by_its_log_id_only() {
        let id = SessionId::generate().unwrap();
        assert_eq!(log_id_of(&id.store_key()), id.log_id());
        assert!(!id.store_key().contains(&id.encode()[..8]));
        assert_eq!(log_id_of("bff:m:{abcdefghijkl}"), "bff:m:");
        assert_eq!(log_id_of("bff"), "bff");
    }
}
