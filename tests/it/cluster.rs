//! Redis Cluster (case R10): work in progress. For now only the test
//! cluster itself is checked; bff's Cluster store is the next step.

use crate::support::cluster::Cluster;

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
    let seeds = cluster.seeds();
    let flags = [
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--redis-cluster-nodes",
        &seeds,
    ];
    let stack =
        crate::support::harness::Stack::start_with(crate::support::harness::Store::Memory, &flags)
            .await
            .unwrap();
    let ready = crate::support::http::get(&stack.admin_url("/readyz"), &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let login = crate::support::http::get(&stack.url("/auth/login"), &[]).await;
    assert_eq!(login.status, 302, "{}", login.text());
    let mut pending = 0;
    for node in &cluster.nodes {
        pending += node.raw_keys("bff:login:*").await.len();
    }
    assert_eq!(pending, 1, "the pending login is in the cluster");
}
