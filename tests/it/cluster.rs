//! Redis Cluster (case R10): on three real masters, bff logs in, proxies,
//! refreshes once for a burst over 2 pods, ends sessions by back-channel
//! logout by `sid` and by `sub` through indexes in other slots (posted to
//! the other pod), and lists, counts and revokes sessions spread over every
//! master. Slot migration and failover under load are in `cluster_load`.

use crate::support::cluster::Cluster;
use bff::Running;

use crate::support::harness::{Stack, Store};
use crate::support::http as test_http;

const ADMIN_TOKEN: &str = "admin-token-0123456789-abcdefghijkl";

/// bff's flags for `cluster`, then `extra`.
pub(crate) fn cluster_flags<'a>(seeds: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut flags = vec![
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--redis-cluster-nodes",
        seeds,
    ];
    flags.extend_from_slice(extra);
    flags
}

/// A stack whose bff stores sessions in `cluster`, with `extra` flags.
pub(crate) async fn on_cluster(cluster: &Cluster, extra: &[&str]) -> Stack {
    let seeds = cluster.seeds();
    let flags = cluster_flags(&seeds, extra);
    Stack::start_with(Store::Memory, &flags).await.unwrap()
}

/// A second pod on the same cluster (and IdP and upstream).
async fn second_pod(stack: &Stack, cluster: &Cluster, extra: &[&str]) -> Running {
    let seeds = cluster.seeds();
    stack.another_bff(&cluster_flags(&seeds, extra)).await
}

/// The status of an API call with `cookie` on `pod`.
async fn api_on(pod: &Running, cookie: &str) -> u16 {
    let url = format!("http://{}/app", pod.public_addr);
    let res = test_http::get(&url, &[("accept", "application/json"), ("cookie", cookie)]).await;
    res.status.as_u16()
}

/// How many keys match `pattern` over all the cluster's nodes.
pub(crate) async fn keys_on_every_node(cluster: &Cluster, pattern: &str) -> usize {
    let mut total = 0;
    for node in cluster.nodes.iter().filter(|n| n.is_running()) {
        total += node.raw_keys(pattern).await.len();
    }
    total
}

#[tokio::test]
async fn a_three_master_test_cluster_serves_every_slot() {
    let started = std::time::Instant::now();
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    eprintln!(
        "cluster of 3 masters ready in {:?}: {}",
        started.elapsed(),
        cluster.seeds()
    );
    assert_eq!(cluster.nodes.len(), 3);
}

#[tokio::test]
async fn bff_connects_to_the_cluster_and_starts_logins_on_it() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let stack = on_cluster(&cluster, &[]).await;
    let ready = crate::support::http::get(&stack.admin_url("/readyz"), &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let login = crate::support::http::get(&stack.url("/auth/login"), &[]).await;
    assert_eq!(login.status, 302, "{}", login.text());
    let pending = keys_on_every_node(&cluster, "bff:login:*").await;
    assert_eq!(pending, 1, "the pending login is in the cluster");
}

#[tokio::test]
async fn r10_the_whole_flow_works_on_a_cluster() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let stack = on_cluster(&cluster, &[]).await;
    let api = crate::support::harness::API;
    let mut alice = stack.logged_in_browser().await;
    assert_eq!(alice.get(&stack, "/app", &api).await.status, 200);
    // Back-channel logout by sid finds the session through its index.
    let token = crate::support::jwt::sign_rs256(
        serde_json::Value::Null,
        &super::backchannel::claims(&stack, serde_json::json!({ "sid": "idp-session-0001" })),
    );
    let out = super::backchannel::post_logout_token(stack.bff.public_addr, &token).await;
    assert_eq!(out.status, 200, "{}", out.text());
    assert_eq!(alice.get(&stack, "/app", &api).await.status, 401);
    let left = keys_on_every_node(&cluster, "bff:s:*").await;
    assert_eq!(left, 0, "a session survived its back-channel logout");
}

#[tokio::test]
async fn r10_operators_list_count_and_revoke_sessions_spread_over_the_masters() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let token = ADMIN_TOKEN;
    let stack = on_cluster(&cluster, &["--admin-token", token]).await;
    for _ in 0..9 {
        stack.logged_in_browser().await;
    }
    let per_node: Vec<usize> = {
        let mut counts = Vec::new();
        for node in &cluster.nodes {
            counts.push(node.raw_keys("bff:s:*").await.len());
        }
        counts
    };
    assert_eq!(per_node.iter().sum::<usize>(), 9);
    assert!(
        per_node.iter().filter(|n| **n > 0).count() >= 2,
        "not spread: {per_node:?}"
    );
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let listed =
        crate::support::http::get(&stack.admin_url("/admin/sessions?sub=user-0001"), &auth).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let sessions = listed.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 9, "{}", listed.text());
    let count = crate::support::http::get(&stack.admin_url("/admin/sessions/count"), &auth).await;
    assert_eq!(
        count.json()["active"],
        9,
        "count over all masters: {}",
        count.text()
    );
    let revoke_url = stack.admin_url("/admin/sessions?sub=user-0001");
    let revoked = test_http::request(http::Method::DELETE, &revoke_url, &auth, "").await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(keys_on_every_node(&cluster, "bff:s:*").await, 0);
}

#[tokio::test]
async fn r10_a_burst_over_two_pods_on_a_cluster_makes_one_refresh() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let extra = ["--refresh-skew", "1s"];
    let stack = on_cluster(&cluster, &extra).await;
    let pod2 = second_pod(&stack, &cluster, &extra).await;
    let browser = super::refresh::login_with_token_ttl(&stack, 2).await;
    // The refreshed token lives long: a burst slower than its skew on a
    // loaded machine must not need a second refresh.
    stack.idp.set(|b| b.expires_in = 300);
    let cookie = browser.cookie_header();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40 {
        let pod = if i % 2 == 0 {
            stack.bff.public_addr
        } else {
            pod2.public_addr
        };
        let cookie = cookie.clone();
        calls.spawn(async move {
            let url = format!("http://{pod}/app/{i}");
            let headers = [("accept", "application/json"), ("cookie", cookie.as_str())];
            test_http::get(&url, &headers).await.status.as_u16()
        });
    }
    let statuses = calls.join_all().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(stack.idp.token_requests_for("refresh_token"), 1);
}

#[tokio::test]
async fn r10_back_channel_logout_by_sub_on_one_pod_ends_sessions_made_on_the_other() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let stack = on_cluster(&cluster, &[]).await;
    let pod2 = second_pod(&stack, &cluster, &[]).await;
    let mut cookies = Vec::new();
    for _ in 0..6 {
        cookies.push(stack.logged_in_browser().await.cookie_header());
    }
    for cookie in &cookies {
        assert_eq!(api_on(&pod2, cookie).await, 200);
    }
    let token = crate::support::jwt::sign_rs256(
        serde_json::Value::Null,
        &super::backchannel::claims(
            &stack,
            serde_json::json!({ "sub": "user-0001", "sid": null }),
        ),
    );
    let out = super::backchannel::post_logout_token(pod2.public_addr, &token).await;
    assert_eq!(out.status, 200, "{}", out.text());
    for cookie in &cookies {
        assert_eq!(api_on(&stack.bff, cookie).await, 401);
        assert_eq!(api_on(&pod2, cookie).await, 401);
    }
    assert_eq!(keys_on_every_node(&cluster, "bff:s:*").await, 0);
}

#[tokio::test]
async fn readiness_on_a_cluster_needs_every_slot_served() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let stack = on_cluster(&cluster, &[]).await;
    let ready = || async { test_http::get(&stack.admin_url("/readyz"), &[]).await };
    assert_eq!(ready().await.status, 200);
    // Nobody serves slots 0-99 any more: not ready, and it says why.
    let owner = owner_of_slot_zero(&cluster).await;
    for node in &cluster.nodes {
        cluster_cmd(node, &["DELSLOTSRANGE", "0", "99"]).await;
    }
    let unready = ready().await;
    assert_eq!(unready.status, 503, "{}", unready.text());
    assert!(
        unready.text().contains("100 of 16384 slots have no master"),
        "{}",
        unready.text()
    );
    cluster_cmd(&cluster.nodes[owner], &["ADDSLOTSRANGE", "0", "99"]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ready().await.status != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Runs `CLUSTER args…` on `node` (errors ignored: a node may not own
/// the slots it is told to drop).
async fn cluster_cmd(node: &crate::support::redis_server::RedisServer, args: &[&str]) {
    let mut conn = node.connection().await;
    let _: redis::RedisResult<redis::Value> =
        redis::cmd("CLUSTER").arg(args).query_async(&mut conn).await;
}

/// Which node serves slot 0, from `CLUSTER SLOTS`.
async fn owner_of_slot_zero(cluster: &Cluster) -> usize {
    let mut conn = cluster.nodes[0].connection().await;
    let slots: Vec<Vec<redis::Value>> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut conn)
        .await
        .unwrap();
    let port = slots
        .iter()
        .find(|range| redis::from_redis_value::<u16>(range[0].clone()).ok() == Some(0))
        .map(|range| {
            let master: Vec<redis::Value> = redis::from_redis_value(range[2].clone()).unwrap();
            redis::from_redis_value::<u16>(master[1].clone()).unwrap()
        })
        .expect("somebody serves slot 0");
    cluster.nodes.iter().position(|n| n.port() == port).unwrap()
}

#[tokio::test]
async fn r8_a_cluster_over_tls_with_a_password_serves_the_flow_and_a_wrong_password_or_ca_stops_start_up()
 {
    let pki = crate::support::certs::TestPki::generate();
    let tls = crate::support::redis_server::Tls {
        port: 0,
        cert: pki.file("server.pem"),
        key: pki.file("server.key"),
        ca: pki.file("ca.pem"),
        require_client_cert: false,
    };
    let Some(cluster) = Cluster::start_tls(tls, "cluster-pass-0123").await else {
        return;
    };
    let seeds = cluster.seeds();
    let ca = pki.file("ca.pem");
    let url = "rediss://default:cluster-pass-0123@localhost/";
    let flags = [
        "--redis-url",
        url,
        "--redis-cluster-nodes",
        &seeds,
        "--redis-ca-file",
        &ca,
    ];
    let stack = Stack::start_with(Store::Memory, &flags).await.unwrap();
    let ready = test_http::get(&stack.admin_url("/readyz"), &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let mut alice = stack.logged_in_browser().await;
    let api = crate::support::harness::API;
    assert_eq!(alice.get(&stack, "/app", &api).await.status, 200);
    assert_eq!(keys_on_every_node(&cluster, "bff:s:*").await, 1);
    // A wrong password or CA stops start-up with one line, without the secret.
    let other_ca = pki.file("other-ca.pem");
    let cases = [
        (
            "rediss://default:not-the-password@localhost/",
            ca.as_str(),
            "password",
        ),
        (url, other_ca.as_str(), "BFF_REDIS_CA_FILE"),
    ];
    refused_at_start(&stack, &seeds, &cases).await;
}

/// Each (URL, CA file, what the error names) stops bff's start with one
/// line that names it and carries no password.
async fn refused_at_start(stack: &Stack, seeds: &str, cases: &[(&str, &str, &str)]) {
    for &(url, ca_file, names) in cases {
        let flags = [
            "--redis-url",
            url,
            "--redis-cluster-nodes",
            seeds,
            "--redis-ca-file",
            ca_file,
        ];
        let args =
            crate::support::harness::args(stack.idp.issuer(), &stack.upstream.url(), None, &flags);
        let config = bff::config::Config::load(&args).unwrap();
        let err = bff::start(config).await.err().map(|e| e.to_string());
        let err = err.unwrap_or_else(|| format!("{names}: started"));
        assert!(err.contains(names), "{err}");
        assert!(
            !err.contains("not-the-password") && !err.contains("cluster-pass"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}

#[tokio::test]
async fn r1_r3_a_cluster_down_at_start_delays_readiness_and_a_flushed_one_means_a_clean_relogin() {
    let Some(mut cluster) = Cluster::start().await else {
        return;
    };
    for node in &mut cluster.nodes {
        node.stop();
    }
    let stack = on_cluster(&cluster, &[]).await;
    let ready = || async {
        test_http::get(&stack.admin_url("/readyz"), &[])
            .await
            .status
    };
    assert_eq!(ready().await, 503, "ready without a cluster");
    for node in &mut cluster.nodes {
        node.restart();
    }
    cluster
        .wait_until_ok(std::time::Duration::from_secs(20))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while ready().await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "never ready after the cluster came up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut alice = stack.logged_in_browser().await;
    let api = crate::support::harness::API;
    assert_eq!(alice.get(&stack, "/app", &api).await.status, 200);
    for node in &cluster.nodes {
        node.flush_all().await;
    }
    assert_eq!(
        alice.get(&stack, "/app", &api).await.status,
        401,
        "flushed: a clean 401"
    );
    let mut again = stack.logged_in_browser().await;
    assert_eq!(again.get(&stack, "/app", &api).await.status, 200);
}
