//! Sentinel over TLS (case R8 behind Sentinel): a master that requires
//! mutual TLS, found through a sentinel that speaks TLS itself; bff
//! verifies both with `BFF_REDIS_CA_FILE` and presents its client
//! certificate to both. A wrong CA stops start-up naming the setting.

use std::process::Child;

use crate::support::certs::TestPki;
use crate::support::harness::{Stack, Store};
use crate::support::redis_server::{RedisServer, Tls};

/// One `redis-sentinel` with a TLS port (and a plain one the test does
/// not use), reaching the master over TLS; killed on drop.
struct TlsSentinel {
    tls_port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl TlsSentinel {
    fn start(tls: &Tls, master_tls_port: u16) -> Self {
        let free = || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let (port, tls_port) = (free(), free());
        let dir = std::env::temp_dir().join(format!("bff-tls-sentinel-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\n\
             tls-port {tls_port}\ntls-cert-file {cert}\ntls-key-file {key}\n\
             tls-ca-cert-file {ca}\ntls-auth-clients yes\ntls-replication yes\n\
             sentinel resolve-hostnames yes\nsentinel announce-hostnames yes\n\
             sentinel monitor mymaster localhost {master_tls_port} 1\n",
            dir = dir.display(),
            cert = tls.cert,
            key = tls.key,
            ca = tls.ca,
        );
        let child = crate::support::sentinel::spawn_sentinel(&conf, &text);
        Self {
            tls_port,
            child,
            dir,
        }
    }
}

impl Drop for TlsSentinel {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
        let _gone = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts bff behind `sentinel` with the CA file `ca` and the client
/// certificate: the running instance or the start-up error.
async fn start(
    stack: &Stack,
    sentinel: &TlsSentinel,
    pki: &TestPki,
    ca: &str,
) -> Result<bff::Running, String> {
    let sentinels = format!("localhost:{}", sentinel.tls_port);
    let (cert, key) = (pki.file("client.pem"), pki.file("client.key"));
    let flags = [
        "--redis-sentinels",
        &sentinels,
        "--redis-sentinel-tls",
        "--redis-ca-file",
        ca,
        "--redis-client-cert-file",
        &cert,
        "--redis-client-key-file",
        &key,
    ];
    let url = "rediss://localhost/0";
    let args =
        crate::support::harness::args(stack.idp.issuer(), &stack.upstream.url(), Some(url), &flags);
    let config = bff::config::Config::load(&args).map_err(|e| e.to_string())?;
    let bff = bff::start(config).await.map_err(|e| e.to_string())?;
    while !bff.provider_discovered() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(bff)
}

#[tokio::test]
async fn r8_behind_a_tls_sentinel_a_mutual_tls_master_serves_logins_and_a_wrong_ca_stops_start_up()
{
    let pki = TestPki::generate();
    let tls = Tls {
        port: 0,
        cert: pki.file("server.pem"),
        key: pki.file("server.key"),
        ca: pki.file("ca.pem"),
        require_client_cert: true,
    };
    let Some(master) = RedisServer::start_tls(tls.clone()) else {
        return;
    };
    let sentinel = TlsSentinel::start(&tls, master.tls_port().unwrap());
    let stack = Stack::start(Store::Memory).await.unwrap();
    // The sentinel needs a moment to learn the master.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let bff = loop {
        match start(&stack, &sentinel, &pki, &tls.ca).await {
            Ok(bff) => {
                let ready =
                    crate::support::http::get(&format!("http://{}/readyz", bff.admin_addr), &[])
                        .await;
                if ready.status == 200 {
                    break bff;
                }
            }
            Err(err) => assert!(std::time::Instant::now() < deadline, "{err}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never ready behind the TLS sentinel"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let login =
        crate::support::http::get(&format!("http://{}/auth/login", bff.public_addr), &[]).await;
    assert_eq!(login.status, 302, "{}", login.text());
    assert_eq!(
        master.raw_keys("bff:login:*").await.len(),
        1,
        "not stored on the master"
    );
    let other = pki.file("other-ca.pem");
    let err = start(&stack, &sentinel, &pki, &other).await.err();
    let err = err.expect("started with the wrong CA");
    assert!(err.contains("BFF_REDIS_CA_FILE"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}
