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
