//! Redis Cluster under load (case R10): a slot migration (`redis-cli
//! --cluster reshard`) and a master failover while 16 clients use 50
//! sessions. bff follows `MOVED`/`ASK` and the promoted replica: 0 × 401,
//! no session lost, and back-channel logout still finds every session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::cluster::{keys_on_every_node, on_cluster};
use crate::support::cluster::Cluster;
use crate::support::harness::{COOKIE, Stack, session_request};
use crate::support::http as test_http;
use crate::support::load::{Log, load, report, wait_for_recovery};

const SESSIONS: usize = 50;

async fn log_in_many(stack: &Stack) -> Arc<Vec<String>> {
    let mut cookies = Vec::new();
    for _ in 0..SESSIONS {
        let browser = stack.logged_in_browser().await;
        cookies.push(browser.cookie(COOKIE).unwrap().to_owned());
    }
    Arc::new(cookies)
}

/// Session records on each live master (0 for dead nodes and for
/// replicas, whose copies would count twice).
async fn sessions_per_node(cluster: &Cluster) -> Vec<usize> {
    let mut counts = Vec::new();
    for node in &cluster.nodes {
        let count = if node.is_running() && node.is_master().await {
            node.raw_keys("bff:s:*").await.len()
        } else {
            0
        };
        counts.push(count);
    }
    counts
}

/// Every session still opens.
async fn all_open(stack: &Stack, cookies: &[String]) {
    for cookie in cookies {
        let res = test_http::send(session_request(stack.bff.public_addr, cookie)).await;
        assert_eq!(res.status, 200, "a session was lost");
    }
}

/// Back-channel logout by `sub` ends every session, wherever it now is.
async fn back_channel_finds_every_session(stack: &Stack, cluster: &Cluster, cookies: &[String]) {
    let token = crate::support::jwt::sign_rs256(
        serde_json::Value::Null,
        &super::backchannel::claims(
            stack,
            serde_json::json!({ "sub": "user-0001", "sid": null }),
        ),
    );
    let out = super::backchannel::post_logout_token(stack.bff.public_addr, &token).await;
    assert_eq!(out.status, 200, "{}", out.text());
    assert_eq!(keys_on_every_node(cluster, "bff:s:*").await, 0);
    for cookie in cookies {
        let res = test_http::send(session_request(stack.bff.public_addr, cookie)).await;
        assert_eq!(
            res.status, 401,
            "a session outlived its back-channel logout"
        );
    }
}

#[tokio::test]
async fn r10_a_slot_migration_under_load_loses_no_session() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let stack = on_cluster(&cluster, &[]).await;
    let cookies = log_in_many(&stack).await;
    let per_node_before = sessions_per_node(&cluster).await;
    let stop = Arc::new(AtomicBool::new(false));
    let log: Log = Arc::default();
    let started = Instant::now();
    let mut clients = load(&[stack.bff.public_addr], &cookies, &stop, started, &log);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let moved_at = i64::try_from(started.elapsed().as_millis()).unwrap();
    // A third of node 0's slots to node 1, then half of node 2's to node 0.
    cluster.reshard(0, 1, 1800).await;
    cluster.reshard(2, 0, 2700).await;
    eprintln!(
        "reshard took {} ms",
        started.elapsed().as_millis() as i64 - moved_at
    );
    wait_for_recovery(&log, Instant::now() + Duration::from_secs(20)).await;
    stop.store(true, Ordering::Relaxed);
    while clients.join_next().await.is_some() {}
    let log = log.lock().unwrap().clone();
    report("cluster reshard", &log, moved_at);
    let failed = log.iter().filter(|(_, s)| *s != 200).count();
    assert_eq!(
        failed, 0,
        "a slot migration is not an outage: {failed} failures"
    );
    let per_node_after = sessions_per_node(&cluster).await;
    eprintln!("sessions per master: {per_node_before:?} -> {per_node_after:?}");
    assert_ne!(per_node_before, per_node_after, "no session moved");
    all_open(&stack, &cookies).await;
    back_channel_finds_every_session(&stack, &cluster, &cookies).await;
}

#[tokio::test]
async fn r10_a_master_failover_under_load_logs_no_one_out() {
    let Some(mut cluster) = Cluster::start_with_replicas(1).await else {
        return;
    };
    let stack = on_cluster(&cluster, &["--redis-min-replicas-ack", "1"]).await;
    let cookies = log_in_many(&stack).await;
    // The master holding the most sessions dies.
    let held = sessions_per_node(&cluster).await;
    let victim = (0..held.len()).max_by_key(|at| held[*at]).unwrap();
    assert!(held[victim] > 0, "{held:?}");
    let stop = Arc::new(AtomicBool::new(false));
    let log: Log = Arc::default();
    let started = Instant::now();
    let mut clients = load(&[stack.bff.public_addr], &cookies, &stop, started, &log);
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.nodes[victim].stop();
    let killed_at = i64::try_from(started.elapsed().as_millis()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    cluster.wait_until_ok(Duration::from_secs(30)).await;
    wait_for_recovery(&log, deadline).await;
    stop.store(true, Ordering::Relaxed);
    while clients.join_next().await.is_some() {}
    let log = log.lock().unwrap().clone();
    report("cluster master failover", &log, killed_at);
    let metrics = crate::support::metrics::scrape(&stack.bff).await;
    let failures = "bff_redis_connection_failures_total";
    let seen = crate::support::metrics::value(&metrics, failures);
    assert!(seen >= 1.0, "the failover is not visible in /metrics");
    let after = sessions_per_node(&cluster).await;
    eprintln!("sessions per node: {held:?} -> {after:?}");
    assert_eq!(
        after.iter().sum::<usize>(),
        SESSIONS,
        "sessions lost in the failover"
    );
    all_open(&stack, &cookies).await;
    back_channel_finds_every_session(&stack, &cluster, &cookies).await;
}
