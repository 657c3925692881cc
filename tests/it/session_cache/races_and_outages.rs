//! K3 and K4: reads racing writes never cache the older record; outage
//! grace serves recent sessions for a bounded time, never a 401; and the
//! cache's fallbacks (tracking refused, switched off).

use std::time::{Duration, Instant};

use bff::Running;

use super::{cache_metric, two_pods, warm};
use crate::support::harness::{API, Browser, Stack, Store, path_and_query};
use crate::support::redis_server::RedisServer;

#[tokio::test]
async fn k3_reads_racing_writes_never_cache_the_older_record() {
    let Some((stack, pod_b)) = two_pods(&[]).await else {
        return;
    };
    let mut browser = warm(&stack, &pod_b).await;
    let (id, mut current) = stack.session_of(&browser).await;
    let pod_b = std::sync::Arc::new(pod_b);
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (pod, id) = (std::sync::Arc::clone(&pod_b), id.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(3) {
                    let _seen = pod.load_session(&id).await;
                }
            })
        })
        .collect();
    for write in 0..300 {
        current = stack
            .bff
            .touch_session(&id, &current)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("write {write} lost"));
        // Acknowledged: pod B converges on this version (or a newer one)
        // within the staleness bound, and a stale entry never sticks.
        let acked = Instant::now();
        loop {
            let seen = pod_b.load_session(&id).await.unwrap().unwrap();
            if seen.version >= current.version {
                break;
            }
            assert!(
                acked.elapsed() < Duration::from_secs(1),
                "write {write}: pod B still read version {} 1 s after version {} was acknowledged",
                seen.version,
                current.version
            );
        }
    }
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(browser.logout(&stack).await.status, 302);
    assert!(
        pod_b.load_session(&id).await.unwrap().is_none(),
        "deleted, yet cached"
    );
}

/// Pod B with outage grace `grace` (or none), its cache warm for `browser`.
async fn grace_pod(grace: Option<&str>) -> Option<(Stack, Running, Browser)> {
    let mut extra = vec![
        "--redis-command-timeout",
        "300ms",
        "--redis-connect-timeout",
        "300ms",
    ];
    if let Some(grace) = grace {
        extra.extend(["--redis-outage-grace", grace]);
    }
    let (stack, pod_b) = two_pods(&extra).await?;
    let browser = warm(&stack, &pod_b).await;
    Some((stack, pod_b, browser))
}

#[tokio::test]
async fn k4_outage_grace_serves_recent_sessions_for_its_time_then_503() {
    let Some((mut stack, pod_b, mut browser)) = grace_pod(Some("3s")).await else {
        return;
    };
    let mut stranger = stack.logged_in_browser().await;
    stack.redis.as_mut().unwrap().stop();
    let stopped = Instant::now();
    let mut served = Duration::ZERO;
    loop {
        let res = browser.get_at(&pod_b, "/app", &API).await;
        match res.status.as_u16() {
            200 => served = stopped.elapsed(),
            503 => break,
            other => panic!("status {other} in an outage: {}", res.text()),
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(6),
            "grace outlived 3 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        served >= Duration::from_secs(2),
        "grace ended early: {served:?}"
    );
    assert!(
        served <= Duration::from_millis(3500),
        "grace too long: {served:?}"
    );
    assert!(cache_metric(&pod_b, "grace_hits_total").await > 0.0);
    // A session pod B never served is not in grace: 503, never 401.
    assert_eq!(stranger.get_at(&pod_b, "/app", &API).await.status, 503);
    assert_eq!(browser.get_at(&pod_b, "/app", &API).await.status, 503);
}

#[tokio::test]
async fn k4_without_outage_grace_an_outage_is_503_at_once_never_401() {
    let Some((mut stack, pod_b, mut browser)) = grace_pod(None).await else {
        return;
    };
    stack.redis.as_mut().unwrap().stop();
    for _ in 0..5 {
        let res = browser.get_at(&pod_b, "/app", &API).await;
        assert_eq!(res.status, 503, "{}", res.text());
    }
    assert_eq!(cache_metric(&pod_b, "grace_hits_total").await, 0.0);
    stack.redis.as_mut().unwrap().restart();
}

#[tokio::test]
async fn the_cache_turns_itself_off_when_redis_refuses_client_tracking() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let _ok: () = redis::cmd("ACL")
        .arg(
            &[
                "SETUSER",
                "bff",
                "on",
                ">bff-password",
                "~*",
                "&*",
                "+@all",
                "-client",
            ][..],
        )
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    let url = format!("redis://bff:bff-password@127.0.0.1:{}/", redis.port());
    let stack = Stack::start(Store::Memory).await.unwrap();
    let pod = crate::support::harness::start_bff(&crate::support::harness::args(
        stack.idp.issuer(),
        &stack.upstream.url(),
        Some(&url),
        &[],
    ))
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache_metric(&pod, "enabled").await != 0.0 {
        assert!(
            Instant::now() < deadline,
            "the cache stayed on without tracking"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // bff works as without a cache: a whole login and an API call on that
    // pod, every one a Redis read.
    let mut browser = Browser::default();
    let started = browser
        .get_at(&pod, "/auth/login?return_to=%2Fapp", &[])
        .await;
    assert_eq!(started.status, 302, "{}", started.text());
    let callback = stack
        .idp
        .authorize_redirect(started.location().unwrap())
        .await;
    let done = browser.get_at(&pod, &path_and_query(&callback), &[]).await;
    assert_eq!(done.status, 302, "{}", done.text());
    for _ in 0..3 {
        assert_eq!(browser.get_at(&pod, "/app", &API).await.status, 200);
    }
    assert_eq!(cache_metric(&pod, "hits_total").await, 0.0);
}

#[tokio::test]
async fn with_the_cache_off_every_request_reads_redis() {
    let Some((stack, pod_b)) = two_pods_off().await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    for _ in 0..3 {
        assert_eq!(browser.get_at(&pod_b, "/app", &API).await.status, 200);
    }
    assert_eq!(cache_metric(&pod_b, "enabled").await, 0.0);
    assert_eq!(cache_metric(&pod_b, "hits_total").await, 0.0);
    assert_eq!(browser.logout(&stack).await.status, 302);
    assert_eq!(browser.get_at(&pod_b, "/app", &API).await.status, 401);
}

async fn two_pods_off() -> Option<(Stack, Running)> {
    let stack = Stack::start(Store::Redis).await?;
    let pod_b = stack.another_bff(&["--session-cache", "off"]).await;
    Some((stack, pod_b))
}
