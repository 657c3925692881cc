//! K2: a lost, killed, silenced or flushed invalidation listener stops
//! cache hits within `BFF_SESSION_CACHE_MAX_STALENESS`.

use std::time::{Duration, Instant};

use bff::Running;

use super::topologies::kill_tracking as kill_listeners;
use super::{cache_metric, leased, refused_after, two_pods, warm};
use crate::support::harness::{API, Stack, Store};
use crate::support::relay::Relay;

#[tokio::test]
async fn k2_a_silenced_listener_stops_hits_within_the_staleness_bound() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let port = stack.redis.as_ref().unwrap().port();
    let relay = Relay::start(([127, 0, 0, 1], port).into()).await;
    let pod_b = crate::support::harness::start_bff(&crate::support::harness::args(
        stack.idp.issuer(),
        &stack.upstream.url(),
        Some(&relay.url()),
        &["--session-cache-max-staleness", "500ms"],
    ))
    .await;
    leased(&pod_b).await;
    let mut browser = warm(&stack, &pod_b).await;
    let silenced = Instant::now();
    relay.silence_listeners();
    // The logout's invalidation never reaches pod B: only the lease can end its hits.
    let mut on_a = browser.clone();
    assert_eq!(on_a.logout(&stack).await.status, 302);
    let after = refused_after(&mut browser, &pod_b, silenced).await;
    assert!(
        after <= Duration::from_millis(500 + 100),
        "pod B served a revoked session {after:?} after its listener went silent (bound 500 ms)"
    );
    let deadline = Instant::now() + Duration::from_secs(1);
    while cache_metric(&pod_b, "lease_age_milliseconds").await >= 0.0 {
        assert!(Instant::now() < deadline, "pod B still reports a lease");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `pod`'s cache was flushed more than `before` times.
async fn flushed_after(pod: &Running, before: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache_metric(pod, "flushes_total").await <= before {
        assert!(Instant::now() < deadline, "no flush within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn k2_a_killed_listener_debug_sleep_and_flushall_each_flush_the_cache() {
    let Some((stack, pod_b)) = two_pods(&[]).await else {
        return;
    };
    let redis = stack.redis.as_ref().unwrap();
    let mut browser = warm(&stack, &pod_b).await;
    let before = cache_metric(&pod_b, "flushes_total").await;
    assert_eq!(kill_listeners(redis).await, 2, "one listener per pod");
    flushed_after(&pod_b, before).await;
    leased(&pod_b).await;
    assert_eq!(browser.get_at(&pod_b, "/app", &API).await.status, 200);

    let before = cache_metric(&pod_b, "flushes_total").await;
    let mut sleeper = redis.connection().await;
    let slept = Instant::now();
    let sleep = tokio::spawn(async move {
        redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg("1.5")
            .query_async::<()>(&mut sleeper)
            .await
    });
    flushed_after(&pod_b, before).await;
    // The test connection's own reply timeout may end the wait first.
    let _reply = sleep.await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600).saturating_sub(slept.elapsed())).await;
    leased(&pod_b).await;
    let mut browser = warm(&stack, &pod_b).await;

    let before = cache_metric(&pod_b, "flushes_total").await;
    redis.flush_all().await;
    flushed_after(&pod_b, before).await;
    let res = browser.get_at(&pod_b, "/app", &API).await;
    assert_eq!(res.status, 401, "pod B served a session FLUSHALL removed");
}
