//! Redis Cluster (case R10, in part): on three real masters, bff logs in,
//! proxies, ends a session by back-channel logout through its index in
//! another slot, and lists and counts sessions spread over every master.
//! Slot migration under load and failover are not tested yet.

use crate::support::cluster::Cluster;

/// A stack whose bff stores sessions in `cluster`, with `extra` flags.
async fn on_cluster(cluster: &Cluster, extra: &[&str]) -> crate::support::harness::Stack {
    let seeds = cluster.seeds();
    let mut flags = vec![
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--redis-cluster-nodes",
        &seeds,
    ];
    flags.extend_from_slice(extra);
    crate::support::harness::Stack::start_with(crate::support::harness::Store::Memory, &flags)
        .await
        .unwrap()
}

/// How many keys match `pattern` over all the cluster's nodes.
async fn keys_on_every_node(cluster: &Cluster, pattern: &str) -> usize {
    let mut total = 0;
    for node in &cluster.nodes {
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
    let token = "admin-token-0123456789-abcdefghijkl";
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
}
