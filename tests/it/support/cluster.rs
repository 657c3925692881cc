//! A Redis Cluster for the cluster tests: three masters (`redis-server
//! --cluster-enabled yes`) on free loopback ports, optionally one replica
//! each, joined with `redis-cli --cluster create`; slots moved with
//! `redis-cli --cluster reshard`. Killed, and its files removed, on drop.

use std::process::Command;
use std::time::{Duration, Instant};

use super::redis_server::RedisServer;

/// A running cluster: `nodes[..3]` start as masters, the rest as replicas.
pub struct Cluster {
    pub nodes: Vec<RedisServer>,
    dir: std::path::PathBuf,
}

impl Cluster {
    /// Three masters, no replicas; waits until every slot is served.
    pub async fn start() -> Option<Self> {
        Self::start_with_replicas(0).await
    }

    /// Three masters with `replicas` replicas each. A dead master is
    /// noticed after one second (`cluster-node-timeout`), so failover tests
    /// stay short.
    pub async fn start_with_replicas(replicas: usize) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("bff-cluster-{}", rand::random::<u64>()));
        let mut nodes = Vec::new();
        for _ in 0..3 * (1 + replicas) {
            nodes.push(RedisServer::start_cluster_node(&dir, 1000)?);
        }
        let addrs: Vec<String> = nodes.iter().map(|n| addr(n.port())).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Self { nodes, dir };
        cluster.wait_until_ok(Duration::from_secs(20)).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.replicas_linked().await {
            assert!(Instant::now() < deadline, "the replicas never synced");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(cluster)
    }

    /// `host:port,…` of the seed nodes.
    pub fn seeds(&self) -> String {
        let list: Vec<String> = self.nodes.iter().map(|n| addr(n.port())).collect();
        list.join(",")
    }

    /// Moves `slots` slots from node `from` to node `to`, key by key
    /// (`MIGRATE`, with `ASK` redirections meanwhile), as an operator does.
    pub async fn reshard(&self, from: usize, to: usize, slots: u32) {
        let from_id = self.node_id(from).await;
        let to_id = self.node_id(to).await;
        let out = tokio::process::Command::new("redis-cli")
            .args(["--cluster", "reshard", &addr(self.nodes[from].port())])
            .args(["--cluster-from", &from_id, "--cluster-to", &to_id])
            .args(["--cluster-slots", &slots.to_string(), "--cluster-yes"])
            .args(["--cluster-pipeline", "10"])
            .output()
            .await
            .expect("run redis-cli --cluster reshard");
        assert!(
            out.status.success(),
            "reshard failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Node `at`'s cluster id (`CLUSTER MYID`).
    pub async fn node_id(&self, at: usize) -> String {
        let mut conn = self.nodes[at].connection().await;
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query_async(&mut conn)
            .await
            .expect("CLUSTER MYID")
    }

    /// Waits until every live node says `cluster_state:ok`.
    pub async fn wait_until_ok(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.healthy().await {
            assert!(Instant::now() < deadline, "the cluster never became ok");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether every replica has finished its first sync.
    async fn replicas_linked(&self) -> bool {
        for node in &self.nodes {
            let mut conn = node.connection().await;
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            if info.contains("role:slave") && !info.contains("master_link_status:up") {
                return false;
            }
        }
        true
    }

    async fn healthy(&self) -> bool {
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let mut conn = node.connection().await;
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            if !info.contains("cluster_state:ok") {
                return false;
            }
        }
        true
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Kill the nodes first: they write their node files until they die.
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}
