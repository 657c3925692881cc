//! A Redis Cluster for the cluster tests: three masters (`redis-server
//! --cluster-enabled yes`) on free loopback ports, optionally one replica
//! each, joined with `redis-cli --cluster create`; slots moved with
//! `redis-cli --cluster reshard`. Killed, and its files removed, on drop.

use std::process::Command;
use std::time::{Duration, Instant};

use super::redis_server::{RedisServer, Tls};

/// A running cluster: `nodes[..3]` start as masters, the rest as replicas.
pub struct Cluster {
    pub nodes: Vec<RedisServer>,
    dir: std::path::PathBuf,
    /// With TLS: the CA file; seeds are then the TLS ports on `localhost`.
    tls_ca: Option<String>,
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
        let dir = temp_dir();
        let mut nodes = Vec::new();
        for _ in 0..3 * (1 + replicas) {
            nodes.push(RedisServer::start_cluster_node(&dir, 1000)?);
        }
        let addrs: Vec<String> = nodes.iter().map(|n| addr(n.port())).collect();
        create(&addrs, replicas, &[]);
        Self::ready(nodes, dir, None).await
    }

    /// Three masters speaking TLS (`tls`: server certificate for
    /// `localhost`, its CA) that require `password`; created over TLS.
    pub async fn start_tls(tls: Tls, password: &str) -> Option<Self> {
        let dir = temp_dir();
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let node =
                RedisServer::start_cluster_node_with(&dir, 1000, Some(tls.clone()), Some(password));
            nodes.push(node?);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("localhost:{}", n.tls_port().unwrap()))
            .collect();
        create(&addrs, 0, &["--tls", "--cacert", &tls.ca, "-a", password]);
        Self::ready(nodes, dir, Some(tls.ca)).await
    }

    async fn ready(
        nodes: Vec<RedisServer>,
        dir: std::path::PathBuf,
        tls_ca: Option<String>,
    ) -> Option<Self> {
        let cluster = Self { nodes, dir, tls_ca };
        cluster.wait_until_ok(Duration::from_secs(20)).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.replicas_linked().await {
            assert!(Instant::now() < deadline, "the replicas never synced");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(cluster)
    }

    /// `host:port,…` of the seed nodes (the TLS ports with TLS).
    pub fn seeds(&self) -> String {
        let list: Vec<String> = match &self.tls_ca {
            None => self.nodes.iter().map(|n| addr(n.port())).collect(),
            Some(_) => self
                .nodes
                .iter()
                .map(|n| format!("localhost:{}", n.tls_port().unwrap()))
                .collect(),
        };
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

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("bff-cluster-{}", rand::random::<u64>()))
}

/// `redis-cli --cluster create` over `addrs`, with `replicas` per master
/// and `flags` (TLS, password).
fn create(addrs: &[String], replicas: usize, flags: &[&str]) {
    // Bounded: a cluster that cannot join would make it wait forever.
    let out = Command::new("timeout")
        .args(["30", "redis-cli"])
        .args(flags)
        .args(["--cluster", "create"])
        .args(addrs)
        .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
        .output()
        .expect("run redis-cli --cluster create");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}
