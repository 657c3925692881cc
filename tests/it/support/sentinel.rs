//! A Redis Sentinel group for failover tests: one master, one replica and
//! three `redis-sentinel` processes (quorum 2, a node is down after 1 s),
//! all real processes on free loopback ports, killed on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::redis_server::RedisServer;

/// The group name the sentinels monitor.
pub const MASTER: &str = "mymaster";

/// A running group.
pub struct SentinelGroup {
    pub master: RedisServer,
    pub replica: RedisServer,
    sentinels: Vec<(u16, Child)>,
    dir: PathBuf,
    /// The data nodes' password (`sentinel auth-pass`).
    data_password: Option<String>,
    /// The sentinels' own password (`requirepass`, `sentinel sentinel-pass`).
    sentinel_password: Option<String>,
}

impl SentinelGroup {
    /// Starts everything and waits until the replica is in sync and every
    /// sentinel knows the other two; `None` without `redis-sentinel`.
    pub async fn start() -> Option<Self> {
        Self::start_with_passwords(None, None).await
    }

    /// Like [`Self::start`], with a password on the data nodes and another
    /// on the sentinels.
    pub async fn start_with_passwords(data: Option<&str>, sentinel: Option<&str>) -> Option<Self> {
        let installed = Command::new("redis-sentinel")
            .arg("--version")
            .output()
            .is_ok();
        if !installed {
            assert!(
                std::env::var_os(super::redis_server::REQUIRE_REDIS_ENV).is_none(),
                "install redis-sentinel (Debian package redis-sentinel)"
            );
            return None;
        }
        let master = match data {
            Some(password) => RedisServer::start_with_password(password)?,
            None => RedisServer::start()?,
        };
        let replica = RedisServer::start_replica_with(master.port(), data)?;
        let dir = std::env::temp_dir().join(format!("bff-sentinel-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("sentinel dir");
        let mut group = Self {
            master,
            replica,
            sentinels: Vec::new(),
            dir,
            data_password: data.map(str::to_owned),
            sentinel_password: sentinel.map(str::to_owned),
        };
        for _ in 0..3 {
            group.spawn_sentinel();
        }
        group.wait_until_formed().await;
        Some(group)
    }

    /// `host:port,…` of the sentinels (`BFF_REDIS_SENTINELS`).
    pub fn addresses(&self) -> String {
        let list: Vec<String> = self
            .sentinels
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect();
        list.join(",")
    }

    /// Runs `SENTINEL <args>` on the first sentinel.
    pub async fn sentinel_command(&self, args: &[&str]) {
        let (port, _) = self.sentinels.first().expect("a sentinel");
        let client = redis::Client::open(self.sentinel_url(*port)).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _reply: redis::Value = redis::cmd("SENTINEL")
            .arg(args)
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    /// The master's port as the first sentinel sees it now.
    pub async fn master_port(&self) -> Option<u16> {
        let (port, _) = self.sentinels.first()?;
        let client = redis::Client::open(self.sentinel_url(*port)).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        let addr: Vec<String> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER)
            .query_async(&mut conn)
            .await
            .ok()?;
        addr.get(1)?.parse().ok()
    }

    /// How the tests reach sentinel `port` (with its password).
    fn sentinel_url(&self, port: u16) -> String {
        match &self.sentinel_password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{port}/"),
            None => format!("redis://127.0.0.1:{port}/"),
        }
    }

    fn spawn_sentinel(&mut self) {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = self.dir.join(format!("sentinel-{port}.conf"));
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\n\
             sentinel monitor {MASTER} 127.0.0.1 {master} 2\n\
             sentinel down-after-milliseconds {MASTER} 1000\n\
             sentinel failover-timeout {MASTER} 3000\n\
             sentinel parallel-syncs {MASTER} 1\n",
            dir = self.dir.display(),
            master = self.master.port(),
        );
        let mut text = text;
        if let Some(password) = &self.data_password {
            text.push_str(&format!("sentinel auth-pass {MASTER} {password}\n"));
        }
        if let Some(password) = &self.sentinel_password {
            text.push_str(&format!(
                "requirepass {password}\nsentinel sentinel-pass {password}\n"
            ));
        }
        let child = spawn_sentinel(&conf, &text);
        self.sentinels.push((port, child));
    }

    async fn wait_until_formed(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.formed().await {
                return;
            }
            assert!(Instant::now() < deadline, "the sentinel group never formed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Replica in sync, and every sentinel sees two others and the replica.
    async fn formed(&self) -> bool {
        let mut replica = self.replica.connection().await;
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut replica)
            .await
            .unwrap_or_default();
        if !info.contains("master_link_status:up") {
            return false;
        }
        for (port, _) in &self.sentinels {
            let Ok(client) = redis::Client::open(self.sentinel_url(*port)) else {
                return false;
            };
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                return false;
            };
            let fields: Vec<String> = redis::cmd("SENTINEL")
                .arg("master")
                .arg(MASTER)
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            let field = |name: &str| {
                fields
                    .iter()
                    .position(|f| f == name)
                    .and_then(|i| fields.get(i + 1))
                    .cloned()
            };
            if field("num-other-sentinels").as_deref() != Some("2")
                || field("num-slaves").as_deref() != Some("1")
            {
                return false;
            }
        }
        true
    }
}

/// Writes `text` to `conf` and starts `redis-sentinel` on it.
pub fn spawn_sentinel(conf: &std::path::Path, text: &str) -> Child {
    std::fs::write(conf, text).expect("sentinel config");
    Command::new("redis-sentinel")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-sentinel")
}

impl Drop for SentinelGroup {
    fn drop(&mut self) {
        for (_, child) in &mut self.sentinels {
            let _killed = child.kill();
            let _reaped = child.wait();
        }
        let _gone = std::fs::remove_dir_all(&self.dir);
    }
}
