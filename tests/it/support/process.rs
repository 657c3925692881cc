//! bff as its own process: the real binary (`CARGO_BIN_EXE_bff`), its
//! stdout collected line by line (JSON logs), its addresses learned from
//! the "bff listening" line, and stopped with a real SIGTERM. For what
//! only a process shows: the log writer, `RUST_LOG`, signals, exit codes.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running bff process.
pub struct BffProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
}

impl BffProcess {
    /// Starts the binary with `argv` (without the program name) and `env`
    /// (on top of a cleared environment), and waits until it listens.
    pub fn spawn(argv: &[String], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bff"))
            .env_clear()
            .envs(env.iter().copied())
            .args(argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bff binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("log lines").push(line);
            }
        });
        let mut process = Self {
            child,
            lines,
            public_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            admin_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let listening = process.wait_for_line("bff listening", Duration::from_secs(20));
        let line: serde_json::Value = serde_json::from_str(&listening).expect("JSON log line");
        let addr = |field: &str| line[field].as_str().expect(field).parse().expect(field);
        process.public_addr = addr("public_addr");
        process.admin_addr = addr("admin_addr");
        process
    }

    /// Waits until `/readyz` answers 200 (provider discovered, store up).
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while super::http::get(&self.admin_url("/readyz"), &[])
            .await
            .status
            != 200
        {
            assert!(Instant::now() < deadline, "bff never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://<public listener><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.public_addr)
    }

    /// `http://<admin listener><path>`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin_addr)
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log lines").clone()
    }

    /// The first line containing `needle`, waiting up to `limit` for it.
    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("bff exited ({status}) before logging {needle:?}");
            }
            assert!(Instant::now() < deadline, "bff never logged {needle:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM (the orchestrator's stop signal).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM delivered");
    }

    /// Waits up to `limit` for the process to exit; its status. Async, so
    /// the test's own servers (IdP, upstream, receivers) keep answering.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait on bff") {
                // Let the reader thread take the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return status;
            }
            assert!(Instant::now() < deadline, "bff did not exit in {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for BffProcess {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}
