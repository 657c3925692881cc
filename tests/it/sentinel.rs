//! Redis Sentinel (cases R9, R12): bff finds the master through the
//! sentinels and, when the master is SIGKILLed under load, follows the
//! promoted replica without a restart: only 503s in the window, 0 × 401,
//! and no session lost. `BFF_REDIS_MIN_REPLICAS_ACK` holds a login until a
//! replica has it; writes after a forced failover reach the new master with
//! one retry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::harness::{COOKIE, Stack, Store, session_request};
use crate::support::http as test_http;
use crate::support::load::{Log, load, report, wait_for_recovery};
use crate::support::redis_server::RedisServer;
use crate::support::sentinel::SentinelGroup;

const SESSIONS: usize = 50;

/// A stack whose bff finds its Redis through `group`'s sentinels.
async fn behind(group: &SentinelGroup, extra: &[&str]) -> Stack {
    let sentinels = group.addresses();
    // The URL's host is ignored behind Sentinel: it carries db and password.
    let mut flags = vec![
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--redis-sentinels",
        &sentinels,
    ];
    flags.extend_from_slice(extra);
    Stack::start_with(Store::Memory, &flags).await.unwrap()
}

#[tokio::test]
async fn r9_a_sentinel_failover_under_load_loses_no_session_and_logs_no_one_out() {
    let Some(mut group) = SentinelGroup::start().await else {
        return;
    };
    // Every session is on the replica before its login completes.
    let stack = behind(&group, &["--redis-min-replicas-ack", "1"]).await;
    let mut cookies = Vec::new();
    for _ in 0..SESSIONS {
        let browser = stack.logged_in_browser().await;
        cookies.push(browser.cookie(COOKIE).unwrap().to_owned());
    }
    // Every session is on the replica before the master dies.
    let mut master = group.master.connection().await;
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query_async(&mut master)
        .await
        .unwrap();
    assert_eq!(acked, 1);
    let old_port = group.master.port();
    let cookies = Arc::new(cookies);
    let stop = Arc::new(AtomicBool::new(false));
    let log: Log = Arc::default();
    let killed = Instant::now();
    let mut clients = load(&[stack.bff.public_addr], &cookies, &stop, killed, &log);
    tokio::time::sleep(Duration::from_millis(500)).await;
    group.master.stop();
    let killed_at = i64::try_from(killed.elapsed().as_millis()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while group.master_port().await == Some(old_port) {
        assert!(
            Instant::now() < deadline,
            "the sentinels never promoted the replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for_recovery(&log, deadline).await;
    stop.store(true, Ordering::Relaxed);
    while clients.join_next().await.is_some() {}
    let log = log.lock().unwrap().clone();
    report("sentinel failover", &log, killed_at);
    let metrics = crate::support::metrics::scrape(&stack.bff).await;
    let changes = crate::support::metrics::value(&metrics, "bff_redis_master_changes_total");
    assert_eq!(changes, 1.0, "one failover, seen once");
    let failures = "bff_redis_connection_failures_total";
    assert!(crate::support::metrics::value(&metrics, failures) >= 1.0);
    for cookie in cookies.iter() {
        let res = test_http::send(session_request(stack.bff.public_addr, cookie)).await;
        assert_eq!(res.status, 200, "a session was lost in the failover");
    }
}

#[tokio::test]
async fn r9_min_replicas_ack_holds_a_login_until_a_replica_has_it() {
    let Some(master) = RedisServer::start() else {
        return;
    };
    let replica = RedisServer::start_replica_of(master.port()).unwrap();
    let mut conn = replica.connection().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut conn)
            .await
            .unwrap();
        if info.contains("master_link_status:up") {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = master.url();
    let flags = [
        "--redis-url",
        &url,
        "--redis-min-replicas-ack",
        "1",
        "--redis-command-timeout",
        "600ms",
    ];
    let stack = Stack::start_with(Store::Memory, &flags).await.unwrap();
    let browser = stack.logged_in_browser().await;
    assert!(browser.cookie(COOKIE).is_some());
    drop(replica);
    let mut late = crate::support::harness::Browser::default();
    let res = stack.login(&mut late).await;
    assert_eq!(
        res.status,
        503,
        "a session no replica holds was confirmed: {}",
        res.text()
    );
    assert!(res.set_cookie(COOKIE).is_none());
}

#[tokio::test]
async fn r12_writes_after_a_forced_failover_reach_the_new_master_with_one_retry() {
    let Some(group) = SentinelGroup::start().await else {
        return;
    };
    let stack = behind(&group, &[]).await;
    let before = stack.logged_in_browser().await;
    // A graceful, forced failover: the old master stays up and is demoted
    // to a replica, so bff's open connection now answers writes READONLY.
    let old_port = group.master.port();
    group
        .sentinel_command(&["FAILOVER", crate::support::sentinel::MASTER])
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The demoted node drops its clients: a fresh connection each time.
        let mut old = group.master.connection().await;
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut old)
            .await
            .unwrap_or_default();
        if group.master_port().await != Some(old_port) && info.contains("role:slave") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the forced failover never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first write after the switch meets the dropped connection (or
    // READONLY from the demoted node), asks the sentinels and succeeds on
    // the new master with one retry: no 503, no logout.
    let after = stack.logged_in_browser().await;
    assert!(after.cookie(COOKIE).is_some());
    let cookie = before.cookie(COOKIE).unwrap();
    let res = test_http::send(session_request(stack.bff.public_addr, cookie)).await;
    assert_eq!(
        res.status, 200,
        "the session from before the failover was lost"
    );
}

#[tokio::test]
async fn r8_behind_sentinels_with_their_own_password_and_a_wrong_one_stops_start_up() {
    let data = "data-pass-0123456789";
    let guard = "sentinel-pass-0123456789";
    let Some(group) = SentinelGroup::start_with_passwords(Some(data), Some(guard)).await else {
        return;
    };
    let sentinels = group.addresses();
    let url = format!("redis://:{data}@127.0.0.1:1/0");
    let flags = |url: &str, guard: &str| -> Vec<String> {
        [
            "--redis-url",
            url,
            "--redis-sentinels",
            &sentinels,
            "--redis-sentinel-password",
            guard,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let good = flags(&url, guard);
    let good: Vec<&str> = good.iter().map(String::as_str).collect();
    let stack = Stack::start_with(Store::Memory, &good).await.unwrap();
    stack.logged_in_browser().await;
    assert_eq!(group.master.raw_keys("bff:s:*").await.len(), 1);
    let wrong_data = "redis://:not-the-data-pass@127.0.0.1:1/0".to_owned();
    for (url, guard) in [
        (wrong_data.as_str(), guard),
        (url.as_str(), "not-the-guard-pass"),
    ] {
        let argv = flags(url, guard);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let args =
            crate::support::harness::args(stack.idp.issuer(), &stack.upstream.url(), None, &argv);
        let config = bff::config::Config::load(&args).unwrap();
        let err = bff::start(config).await.err().map(|e| e.to_string());
        let err = err.unwrap_or_else(|| format!("started with {url} / {guard}"));
        eprintln!("refused: {err}");
        assert!(err.contains("BFF_REDIS_SENTINEL_PASSWORD"), "{err}");
        assert!(
            !err.contains("not-the") && !err.contains("pass-0123"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}
