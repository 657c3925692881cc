//! The session cache on replicated topologies, with real processes: on a
//! three-master Redis Cluster a logout on one pod is a 401 at once on
//! another pod's warm cache wherever the session's slot lives, and losing
//! the tracking connection to one master flushes the cache; behind
//! Sentinel a failover flushes it, the lease comes back on the new master,
//! and a revoked session is never served from a stale entry.

use std::time::{Duration, Instant};

use bff::Running;

use super::{cache_metric, warm};
use crate::cluster::{cluster_flags, on_cluster};
use crate::support::cluster::Cluster;
use crate::support::harness::{API, Browser, Stack, Store};
use crate::support::redis_server::RedisServer;
use crate::support::sentinel::SentinelGroup;

/// Logouts checked on the cluster, spread over its slots and masters.
const TRIALS: usize = 100;

/// A staleness bound that a loaded test machine does not outlast between
/// two probes: here invalidations and flushes, never lease expiry, end
/// hits (an entry whose invalidation was lost would be served for 5 s).
const STALENESS: [&str; 2] = ["--session-cache-max-staleness", "5s"];

/// Waits (at most `within`) until `pod`'s cache metric `name` exceeds
/// `above`; returns its value then.
async fn metric_above(pod: &Running, name: &str, above: f64, within: Duration) -> f64 {
    let deadline = Instant::now() + within;
    loop {
        let now = cache_metric(pod, name).await;
        if now > above {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{name} still {now} after {within:?} (waited for > {above})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `pod`'s cache counters and why listeners (of any test in this
/// process) lost their lease, for failure messages.
async fn cache_counters(pod: &Running) -> String {
    let text = crate::support::metrics::scrape(pod).await;
    let counters: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("bff_session_cache_"))
        .collect();
    let lost = crate::support::logs::lines_with(&["session cache listener lost"]);
    format!("{}; {lost:?}", counters.join(", "))
}

/// Waits (at most `within`) until `pod`'s listener holds a lease.
async fn leased_within(pod: &Running, within: Duration) {
    metric_above(pod, "lease_age_milliseconds", -0.5, within).await;
}

/// The ids of `node`'s clients with `CLIENT TRACKING` on (flag `t`): the
/// pods' invalidation listeners.
pub(super) async fn tracking_ids(node: &RedisServer) -> Vec<String> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut node.connection().await)
        .await
        .unwrap();
    list.lines()
        .filter(|l| {
            l.split(' ')
                .any(|f| f.starts_with("flags=") && f.contains('t'))
        })
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(str::to_owned)
        .collect()
}

/// Kills `node`'s tracking connections (`CLIENT KILL ID`); returns how
/// many there were.
pub(super) async fn kill_tracking(node: &RedisServer) -> usize {
    let ids = tracking_ids(node).await;
    let mut conn = node.connection().await;
    for id in &ids {
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(killed, 1, "client {id} was not killed");
    }
    ids.len()
}

/// Session records on each node of `cluster`.
async fn records_per_node(cluster: &Cluster) -> Vec<usize> {
    let mut counts = Vec::new();
    for node in &cluster.nodes {
        counts.push(node.raw_keys("bff:s:*").await.len());
    }
    counts
}

/// A browser logged in on pod A, and the master its record landed on.
async fn logged_in_on(stack: &Stack, cluster: &Cluster) -> (Browser, usize) {
    let before = records_per_node(cluster).await;
    let browser = stack.logged_in_browser().await;
    let after = records_per_node(cluster).await;
    let grew: Vec<usize> = (0..after.len())
        .filter(|n| after[*n] > before[*n])
        .collect();
    assert_eq!(grew.len(), 1, "one new record: {before:?} -> {after:?}");
    (browser, grew[0])
}

/// `count` browsers logged in on pod A, each served once by pod A and
/// twice by pod B (both caches warm), with the master of each record.
async fn warm_sessions(
    stack: &Stack,
    pod_b: &Running,
    cluster: &Cluster,
    count: usize,
) -> Vec<(Browser, usize)> {
    let mut sessions = Vec::new();
    for _ in 0..count {
        let (mut browser, master) = logged_in_on(stack, cluster).await;
        assert_eq!(browser.get(stack, "/app", &API).await.status, 200);
        for _ in 0..2 {
            let res = browser.get_at(pod_b, "/app", &API).await;
            assert_eq!(res.status, 200, "warming on pod B: {}", res.text());
        }
        sessions.push((browser, master));
    }
    sessions
}

/// Two pods on `cluster`, both leased, each with one listener per master.
async fn cluster_pods(cluster: &Cluster) -> (Stack, Running) {
    crate::support::logs::capture();
    let stack = on_cluster(cluster, &STALENESS).await;
    let seeds = cluster.seeds();
    let pod_b = stack.another_bff(&cluster_flags(&seeds, &STALENESS)).await;
    leased_within(&stack.bff, Duration::from_secs(10)).await;
    leased_within(&pod_b, Duration::from_secs(10)).await;
    one_listener_per_pod(cluster).await;
    (stack, pod_b)
}

/// Waits (at most 2 s) until every master has exactly one tracking
/// connection per pod: none missing, none left over from a lost lease.
async fn one_listener_per_pod(cluster: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut counts = Vec::new();
        for node in &cluster.nodes {
            counts.push(tracking_ids(node).await.len());
        }
        if counts == [2, 2, 2] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "tracking connections per master: {counts:?}, not one per pod"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Logs `browser`'s session out on pod A (on a copy of the browser, which
/// keeps its cookie) and asserts pod B refuses it on the very next request.
async fn logout_is_401_on(stack: &Stack, pod_b: &Running, browser: &mut Browser, what: &str) {
    let mut on_a = browser.clone();
    assert_eq!(on_a.logout(stack).await.status, 302, "{what}: logout");
    assert!(browser.cookie(crate::support::harness::COOKIE).is_some());
    let res = browser.get_at(pod_b, "/app", &API).await;
    assert_eq!(res.status, 401, "{what}: pod B served a logged-out session");
}

#[tokio::test]
async fn on_a_cluster_a_logout_on_one_pod_is_a_401_at_once_on_the_other_pods_warm_cache() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let (stack, pod_b) = cluster_pods(&cluster).await;
    let mut sessions = warm_sessions(&stack, &pod_b, &cluster, TRIALS).await;
    let per_master = records_per_node(&cluster).await;
    assert!(
        per_master.iter().all(|n| *n > 0),
        "sessions not spread over the masters: {per_master:?}"
    );
    let hits_before = cache_metric(&pod_b, "hits_total").await;
    for (trial, (browser, master)) in sessions.iter_mut().enumerate() {
        let res = browser.get_at(&pod_b, "/app", &API).await;
        assert_eq!(res.status, 200, "trial {trial}: {}", res.text());
        let what = format!("trial {trial} (master {master})");
        logout_is_401_on(&stack, &pod_b, browser, &what).await;
    }
    let hits = cache_metric(&pod_b, "hits_total").await - hits_before;
    assert!(
        hits >= TRIALS as f64,
        "pod B's cache did not serve every session before its logout: {hits} hits; {}",
        cache_counters(&pod_b).await
    );
    let age = cache_metric(&pod_b, "lease_age_milliseconds").await;
    assert!(age >= 0.0, "pod B holds no lease over the masters: {age}");
    one_listener_per_pod(&cluster).await;
    assert_eq!(records_per_node(&cluster).await, vec![0, 0, 0]);
}

#[tokio::test]
async fn on_a_cluster_losing_the_tracking_connection_to_one_master_flushes_and_serves_nothing_stale()
 {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let (stack, pod_b) = cluster_pods(&cluster).await;
    let sessions = warm_sessions(&stack, &pod_b, &cluster, 15).await;
    let held = |at: usize| sessions.iter().filter(|(_, m)| *m == at).count();
    let victim = (0..cluster.nodes.len()).max_by_key(|at| held(*at)).unwrap();
    let (mut on_victim, mut elsewhere): (Vec<_>, Vec<_>) =
        sessions.into_iter().partition(|(_, m)| *m == victim);
    assert!(on_victim.len() >= 2 && !elsewhere.is_empty(), "not spread");
    let flushes = cache_metric(&pod_b, "flushes_total").await;
    let reconnects = cache_metric(&pod_b, "listener_reconnects_total").await;
    assert_eq!(kill_tracking(&cluster.nodes[victim]).await, 2);
    // Logged out while pod B listens to that master no more: its
    // invalidations are lost, so pod B must not serve its cached entries.
    let (mut on_a, _) = on_victim.pop().unwrap();
    logout_is_401_on(&stack, &pod_b, &mut on_a, "on the master that lost it").await;
    let (mut other, _) = elsewhere.pop().unwrap();
    logout_is_401_on(&stack, &pod_b, &mut other, "on another master").await;
    // Logged out in the gap and asked for only after the new lease.
    let (mut in_gap, _) = on_victim.pop().unwrap();
    assert_eq!(in_gap.clone().logout(&stack).await.status, 302);
    metric_above(&pod_b, "flushes_total", flushes, Duration::from_secs(5)).await;
    leased_within(&pod_b, Duration::from_secs(10)).await;
    metric_above(
        &pod_b,
        "listener_reconnects_total",
        reconnects,
        Duration::ZERO,
    )
    .await;
    let res = in_gap.get_at(&pod_b, "/app", &API).await;
    assert_eq!(res.status, 401, "pod B kept an entry its listener missed");
    one_listener_per_pod(&cluster).await;
    still_cached_then_refused(&stack, &pod_b, on_victim.into_iter().chain(elsewhere)).await;
}

/// The surviving `sessions` are served again from pod B's cache under the
/// new lease, and a logout on pod A is still a 401 at once on pod B.
async fn still_cached_then_refused(
    stack: &Stack,
    pod_b: &Running,
    sessions: impl Iterator<Item = (Browser, usize)>,
) {
    let hits_before = cache_metric(pod_b, "hits_total").await;
    let mut count = 0;
    for (mut browser, master) in sessions {
        for _ in 0..2 {
            assert_eq!(browser.get_at(pod_b, "/app", &API).await.status, 200);
        }
        let what = format!("after the new lease (master {master})");
        logout_is_401_on(stack, pod_b, &mut browser, &what).await;
        count += 1;
    }
    let hits = cache_metric(pod_b, "hits_total").await - hits_before;
    assert!(hits >= f64::from(count), "{hits} hits for {count} sessions");
}

/// bff's flags to find its Redis through `sentinels`.
fn sentinel_flags(sentinels: &str) -> [&str; 6] {
    // The URL's host is ignored behind Sentinel.
    [
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--redis-sentinels",
        sentinels,
        STALENESS[0],
        STALENESS[1],
    ]
}

/// Until `pod` holds a lease again (at most `within`): `kept` is served
/// or 503 (no master known yet), `revoked` is never served.
async fn through_the_failover(
    pod: &Running,
    kept: &mut Browser,
    revoked: &Browser,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    while cache_metric(pod, "lease_age_milliseconds").await < 0.0 {
        let res = kept.get_at(pod, "/app", &API).await;
        let status = res.status.as_u16();
        assert!(status == 200 || status == 503, "{status}: {}", res.text());
        // A copy: a 401 would clear the cookie the last check needs.
        let status = revoked.clone().get_at(pod, "/app", &API).await.status;
        assert!(
            status == 401 || status == 503,
            "a revoked session got {status}"
        );
        assert!(
            Instant::now() < deadline,
            "no lease {within:?} after the failover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs `browser` out on pod A, retrying while pod A has no master (503).
async fn logout_when_possible(stack: &Stack, browser: &Browser, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let res = browser.clone().logout(stack).await;
        match res.status.as_u16() {
            302 => return,
            503 => assert!(Instant::now() < deadline, "pod A found no master"),
            other => assert_eq!(other, 302, "logout failed: {}", res.text()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn behind_sentinel_a_failover_flushes_the_cache_and_no_revoked_session_is_served() {
    let Some(mut group) = SentinelGroup::start().await else {
        return;
    };
    let sentinels = group.addresses();
    let flags = sentinel_flags(&sentinels);
    let stack = Stack::start_with(Store::Memory, &flags).await.unwrap();
    let pod_b = stack.another_bff(&flags).await;
    leased_within(&pod_b, Duration::from_secs(10)).await;
    let hits = cache_metric(&pod_b, "hits_total").await;
    let mut revoked = warm(&stack, &pod_b).await;
    let mut kept = warm(&stack, &pod_b).await;
    metric_above(&pod_b, "hits_total", hits + 1.0, Duration::ZERO).await;
    replicated(&group).await;
    let flushes = cache_metric(&pod_b, "flushes_total").await;
    let old_port = group.master.port();
    group.master.stop();
    metric_above(&pod_b, "flushes_total", flushes, Duration::from_secs(5)).await;
    let age = cache_metric(&pod_b, "lease_age_milliseconds").await;
    assert!(age < 0.0, "a lease without a master: {age}");
    promoted(&group, old_port).await;
    // Revoked on pod A as soon as it finds the new master, before pod B
    // (which finds it by its own traffic) listens there: only the flush
    // keeps pod B's entry from before the failover from answering for it.
    logout_when_possible(&stack, &revoked, Duration::from_secs(15)).await;
    through_the_failover(&pod_b, &mut kept, &revoked, Duration::from_secs(15)).await;
    let res = revoked.get_at(&pod_b, "/app", &API).await;
    assert_eq!(
        res.status, 401,
        "pod B served a stale entry under its new lease"
    );
    let res = kept.get_at(&pod_b, "/app", &API).await;
    assert_eq!(res.status, 200, "a session was lost: {}", res.text());
    let hits = cache_metric(&pod_b, "hits_total").await;
    for trial in 0..20 {
        let mut browser = warm(&stack, &pod_b).await;
        let what = format!("trial {trial} after the failover");
        logout_is_401_on(&stack, &pod_b, &mut browser, &what).await;
    }
    let hits = cache_metric(&pod_b, "hits_total").await - hits;
    assert!(
        hits >= 20.0,
        "pod B's cache was not used after the failover: {hits}"
    );
}

/// Waits until the replica holds every write of the master (`WAIT`).
async fn replicated(group: &SentinelGroup) {
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query_async(&mut group.master.connection().await)
        .await
        .unwrap();
    assert_eq!(acked, 1, "the replica did not catch up");
}

/// Waits (at most 30 s) until the sentinels name a master other than
/// `old_port`.
async fn promoted(group: &SentinelGroup, old_port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while group.master_port().await == Some(old_port) {
        assert!(Instant::now() < deadline, "the sentinels promoted no one");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
