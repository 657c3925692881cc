//! A throwaway `redis-server` per test, on a free loopback port.
//!
//! Owns the child process: started with persistence off, killed on drop, and
//! restartable on the same port for outage tests. Without `redis-server` on
//! `PATH`, [`RedisServer::start`] skips (returns `None`) unless
//! `BFF_REQUIRE_REDIS` is set, in which case it panics so CI cannot pass by
//! skipping. Also owns raw inspection helpers so tests can see what bff stored.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use redis::aio::MultiplexedConnection;

/// Env var: when set, a missing `redis-server` fails the test instead of skipping it.
pub const REQUIRE_REDIS_ENV: &str = "BFF_REQUIRE_REDIS";

/// How long a fresh server gets to answer `PING`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    password: Option<String>,
    tls: Option<Tls>,
    /// More `redis-server` arguments (e.g. `--replicaof`).
    extra: Vec<String>,
    child: Option<Child>,
}

/// A TLS listener next to the plain one (which stays for readiness and
/// inspection): certificate files and whether clients must present one.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The TLS port (set at start).
    pub port: u16,
    /// Server certificate, key and the CA that verifies client certificates.
    pub cert: String,
    pub key: String,
    pub ca: String,
    /// `--tls-auth-clients yes`: mutual TLS required.
    pub require_client_cert: bool,
}

// === impl RedisServer ===

impl RedisServer {
    /// Starts a server without a password; `None` (after a loud message) if
    /// `redis-server` is not installed and [`REQUIRE_REDIS_ENV`] is unset.
    pub fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// Starts a server that requires `password` (`--requirepass`).
    pub fn start_with_password(password: &str) -> Option<Self> {
        Self::start_with(Some(password.to_owned()))
    }

    /// Starts a server that also listens with TLS (see [`Tls`]).
    pub fn start_tls(mut tls: Tls) -> Option<Self> {
        Self::start_with_tls(None, || {
            tls.port = free_port();
            Some(tls.clone())
        })
    }

    /// Starts a Redis Cluster node (`--cluster-enabled yes`, its node file
    /// in its own directory under `dir`).
    pub fn start_cluster_node(dir: &std::path::Path, node_timeout_ms: u32) -> Option<Self> {
        Self::start_cluster_node_with(dir, node_timeout_ms, None, None)
    }

    /// A cluster node that also speaks TLS (`tls`, the cluster bus too,
    /// announcing itself as `localhost`, the name its certificate has) and
    /// requires `password`.
    pub fn start_cluster_node_with(
        dir: &std::path::Path,
        node_timeout_ms: u32,
        tls: Option<Tls>,
        password: Option<&str>,
    ) -> Option<Self> {
        let with_tls = tls.is_some();
        let mut server = Self::start_with_tls(password.map(str::to_owned), || {
            tls.clone().map(|mut tls| {
                tls.port = free_port();
                tls
            })
        })?;
        let dir = dir.join(server.port.to_string());
        std::fs::create_dir_all(&dir).expect("cluster node dir");
        let mut extra: Vec<String> = vec![
            "--cluster-enabled".into(),
            "yes".into(),
            "--dir".into(),
            dir.to_string_lossy().into_owned(),
            "--cluster-node-timeout".into(),
            node_timeout_ms.to_string(),
        ];
        if with_tls {
            for arg in [
                "--tls-cluster",
                "yes",
                "--cluster-announce-hostname",
                "localhost",
                "--cluster-preferred-endpoint-type",
                "hostname",
            ] {
                extra.push(arg.into());
            }
        }
        if let Some(password) = password {
            extra.extend(["--masterauth".into(), password.to_owned()]);
        }
        server.extra = extra;
        server.restart();
        Some(server)
    }

    /// The TLS port, if the server has one.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls.as_ref().map(|tls| tls.port)
    }

    /// Starts a replica of the server on `master_port` (`--replicaof`).
    pub fn start_replica_of(master_port: u16) -> Option<Self> {
        Self::start_replica_with(master_port, None)
    }

    /// A replica of `master_port` that requires, and replicates with,
    /// `password` (`--requirepass`, `--masterauth`).
    pub fn start_replica_with(master_port: u16, password: Option<&str>) -> Option<Self> {
        let mut server = Self::start_with_tls(password.map(str::to_owned), || None)?;
        server.extra = vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            master_port.to_string(),
        ];
        if let Some(password) = password {
            server
                .extra
                .extend(["--masterauth".into(), password.to_owned()]);
        }
        server.restart();
        Some(server)
    }

    /// `rediss://<host>:<tls port>/`.
    pub fn tls_url(&self, host: &str) -> String {
        let port = self.tls.as_ref().expect("a TLS server").port;
        format!("rediss://{host}:{port}/")
    }

    fn start_with(password: Option<String>) -> Option<Self> {
        Self::start_with_tls(password, || None)
    }

    fn start_with_tls(
        password: Option<String>,
        mut tls: impl FnMut() -> Option<Tls>,
    ) -> Option<Self> {
        if !installed() {
            assert!(
                std::env::var_os(REQUIRE_REDIS_ENV).is_none(),
                "{REQUIRE_REDIS_ENV} is set but `redis-server` is not on PATH; install redis-server"
            );
            eprintln!(
                "SKIPPING: redis-server not installed (set {REQUIRE_REDIS_ENV} to make this fail)"
            );
            return None;
        }
        let mut server = Self {
            port: 0,
            password,
            tls: None,
            extra: Vec::new(),
            child: None,
        };
        // The port is free when probed but could be taken before redis binds it; retry.
        for _ in 0..5 {
            server.port = free_port();
            server.tls = tls();
            if server.spawn() {
                return Some(server);
            }
        }
        panic!("redis-server did not come up after 5 attempts");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/` (with `:password@` if one is set).
    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// Whether the child process is currently running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (an outage); the port stays reserved for [`Self::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Err(e) = child.kill() {
                eprintln!("killing redis-server on port {}: {e}", self.port);
            }
            if let Err(e) = child.wait() {
                eprintln!("reaping redis-server on port {}: {e}", self.port);
            }
        }
    }

    /// Stops the server if running and starts a fresh, empty one on the same port.
    pub fn restart(&mut self) {
        self.stop();
        // The old listener may take a moment to release the port.
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new multiplexed connection.
    pub async fn connection(&self) -> MultiplexedConnection {
        let client = redis::Client::open(self.url()).expect("redis URL");
        client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to test redis")
    }

    /// `KEYS pattern` (fine on a test server).
    pub async fn raw_keys(&self, pattern: &str) -> Vec<String> {
        let keys: Vec<String> = self.connection().await.keys(pattern).await.expect("KEYS");
        keys
    }

    /// Whether the server's `ROLE` is master.
    pub async fn is_master(&self) -> bool {
        let role: Vec<redis::Value> = redis::cmd("ROLE")
            .query_async(&mut self.connection().await)
            .await
            .expect("ROLE");
        matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master")
    }

    /// `GET key` as raw bytes.
    pub async fn get_raw(&self, key: &str) -> Option<Vec<u8>> {
        let value: Option<Vec<u8>> = self.connection().await.get(key).await.expect("GET");
        value
    }

    /// `TTL key` in seconds (-1: no expiry, -2: no such key).
    pub async fn ttl(&self, key: &str) -> i64 {
        let ttl: i64 = self.connection().await.ttl(key).await.expect("TTL");
        ttl
    }

    /// `FLUSHALL`.
    pub async fn flush_all(&self) {
        let mut conn = self.connection().await;
        let () = redis::cmd("FLUSHALL")
            .query_async(&mut conn)
            .await
            .expect("FLUSHALL");
    }

    /// Spawns the child and waits for it to answer; false if it exited or never answered.
    fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            // `DEBUG SLEEP` stalls the server in the session cache tests.
            "--enable-debug-command",
            "local",
        ]);
        if let Some(pw) = &self.password {
            cmd.args(["--requirepass", pw]);
        }
        cmd.args(&self.extra);
        if let Some(tls) = &self.tls {
            let auth = if tls.require_client_cert { "yes" } else { "no" };
            cmd.args(["--tls-port", &tls.port.to_string()]);
            cmd.args(["--tls-cert-file", &tls.cert, "--tls-key-file", &tls.key]);
            cmd.args(["--tls-ca-cert-file", &tls.ca, "--tls-auth-clients", auth]);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        self.child = Some(child.expect("spawn redis-server"));
        if self.wait_ready() {
            return true;
        }
        self.stop();
        false
    }

    fn wait_ready(&mut self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            let exited = self
                .child
                .as_mut()
                .is_none_or(|c| !matches!(c.try_wait(), Ok(None)));
            if exited {
                return false;
            }
            if ping(addr) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

// === helpers ===

/// True if `redis-server --version` runs.
fn installed() -> bool {
    match Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
    {
        Ok(status) => status.success(),
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => panic!("cannot run redis-server: {e}"),
    }
}

/// An ephemeral port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind probe port");
    listener.local_addr().expect("probe addr").port()
}

/// True if something at `addr` answers a RESP inline `PING` (`+PONG`, or
/// `-NOAUTH` when a password is required).
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) else {
        return false;
    };
    let timeout = Some(Duration::from_millis(500));
    if stream.set_read_timeout(timeout).is_err() || stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0_u8; 64];
    matches!(stream.read(&mut buf), Ok(n) if n > 0 && (buf[0] == b'+' || buf[0] == b'-'))
}
