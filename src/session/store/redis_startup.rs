//! Redis at start-up: an unreachable Redis only delays readiness (case
//! R1), one that refuses bff's credentials or TLS stops the start (R8),
//! and an evicting `maxmemory-policy` is warned about.

use std::time::Duration;

use super::SessionStore as _;
use super::redis::RedisStore;
use super::redis_errors;

/// An unreachable Redis only delays readiness (R1); a Redis that refuses
/// our credentials or TLS is a configuration error: refuse to start,
/// never fall back (security case R8).
pub(crate) async fn check(store: &RedisStore) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(3), store.ping()).await {
        Ok(Ok(())) => {
            warn_if_evicting(store.eviction_policy().await.as_deref());
            Ok(())
        }
        Ok(Err(err)) if is_config_error(&err.0) => Err(format!("Redis refused bff: {err}")),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "Redis not reachable yet; not ready until it is");
            Ok(())
        }
        Err(_elapsed) => {
            tracing::warn!("Redis did not answer at start-up; not ready until it does");
            Ok(())
        }
    }
}

/// An evicting `maxmemory-policy` silently drops session records and, worse,
/// the index sets back-channel logout and operators use to find sessions.
fn warn_if_evicting(policy: Option<&str>) {
    if let Some(policy) = policy.filter(|p| evicts(p)) {
        tracing::warn!(
            policy,
            "Redis maxmemory-policy evicts keys: sessions and their logout indexes can vanish \
             under memory pressure; use noeviction for bff's Redis"
        );
    }
}

/// Whether a `maxmemory-policy` may evict bff's keys.
fn evicts(policy: &str) -> bool {
    policy.starts_with("allkeys-") || policy.starts_with("volatile-")
}

fn is_config_error(reason: &str) -> bool {
    [
        "Auth",
        "NOAUTH",
        "WRONGPASS",
        "NoPerm",
        "InvalidClientConfig",
        "Tls",
        redis_errors::TLS_FAILURE,
    ]
    .iter()
    .any(|k| reason.contains(k))
}

#[cfg(test)]
mod tests {
    use super::evicts;

    #[test]
    fn a4_evicting_redis_policies_are_recognised() {
        for policy in [
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-ttl",
        ] {
            assert!(evicts(policy), "{policy}");
        }
        assert!(!evicts("noeviction"));
    }
}
