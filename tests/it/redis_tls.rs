//! Redis over TLS with real handshakes (case R8): `rediss://` with a
//! private CA, mutual TLS with a client certificate, and the failures that
//! must stop start-up with one line naming the setting (a wrong CA, a
//! wrong host name, a missing client certificate, no TLS at all), never a
//! plaintext fallback.

use crate::support::certs::TestPki;
use crate::support::harness::{self, Stack, Store};
use crate::support::redis_server::{RedisServer, Tls};

fn tls_server(pki: &TestPki, require_client_cert: bool) -> Option<RedisServer> {
    RedisServer::start_tls(Tls {
        port: 0,
        cert: pki.file("server.pem"),
        key: pki.file("server.key"),
        ca: pki.file("ca.pem"),
        require_client_cert,
    })
}

/// Starts bff against `url` with `extra` flags: the running instance or
/// the start-up error.
async fn start(stack: &Stack, url: &str, extra: &[&str]) -> Result<bff::Running, String> {
    let args = harness::args(stack.idp.issuer(), &stack.upstream.url(), Some(url), extra);
    let config = bff::config::Config::load(&args).map_err(|e| e.to_string())?;
    let bff = bff::start(config).await.map_err(|e| e.to_string())?;
    while !bff.provider_discovered() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(bff)
}

/// Connections the TLS listener accepted, from `CLIENT LIST` on the plain one.
async fn clients_on_port(redis: &RedisServer, port: u16) -> usize {
    let mut conn = redis.connection().await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    list.lines()
        .filter(|l| l.contains(&format!("laddr=127.0.0.1:{port} ")))
        .count()
}

#[tokio::test]
async fn r8_rediss_with_a_private_ca_serves_logins_over_tls() {
    let pki = TestPki::generate();
    let Some(redis) = tls_server(&pki, false) else {
        return;
    };
    let stack = Stack::start(Store::Memory).await.unwrap();
    let ca = pki.file("ca.pem");
    let url = redis.tls_url("localhost");
    let bff = start(&stack, &url, &["--redis-ca-file", &ca])
        .await
        .unwrap();
    let ready = crate::support::http::get(&format!("http://{}/readyz", bff.admin_addr), &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let login =
        crate::support::http::get(&format!("http://{}/auth/login", bff.public_addr), &[]).await;
    assert_eq!(login.status, 302);
    assert_eq!(
        redis.raw_keys("bff:login:*").await.len(),
        1,
        "not stored in this Redis"
    );
    let tls_port = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert!(
        clients_on_port(&redis, tls_port).await >= 1,
        "bff did not use the TLS port"
    );
}

#[tokio::test]
async fn r8_mutual_tls_needs_the_client_certificate() {
    let pki = TestPki::generate();
    let Some(redis) = tls_server(&pki, true) else {
        return;
    };
    let stack = Stack::start(Store::Memory).await.unwrap();
    let (ca, cert, key) = (
        pki.file("ca.pem"),
        pki.file("client.pem"),
        pki.file("client.key"),
    );
    let url = redis.tls_url("localhost");
    let with_cert = [
        "--redis-ca-file",
        &ca,
        "--redis-client-cert-file",
        &cert,
        "--redis-client-key-file",
        &key,
    ];
    let bff = start(&stack, &url, &with_cert).await.unwrap();
    let login =
        crate::support::http::get(&format!("http://{}/auth/login", bff.public_addr), &[]).await;
    assert_eq!(login.status, 302);
    let refused = start(&stack, &url, &["--redis-ca-file", &ca]).await.err();
    let refused = refused.expect("started without the client certificate");
    assert!(refused.contains("BFF_REDIS_CLIENT_CERT_FILE"), "{refused}");
}

#[tokio::test]
async fn r8_a_wrong_ca_a_wrong_name_or_no_tls_stops_start_up() {
    let pki = TestPki::generate();
    let Some(redis) = tls_server(&pki, false) else {
        return;
    };
    let stack = Stack::start(Store::Memory).await.unwrap();
    let (ca, other) = (pki.file("ca.pem"), pki.file("other-ca.pem"));
    let cases = [
        (
            "wrong CA",
            redis.tls_url("localhost"),
            other.clone(),
            "BFF_REDIS_CA_FILE",
        ),
        (
            "wrong name",
            redis.tls_url("127.0.0.1"),
            ca.clone(),
            "BFF_REDIS_URL",
        ),
        (
            "no TLS",
            format!("rediss://localhost:{}/", redis.port()),
            ca.clone(),
            "TLS",
        ),
    ];
    for (case, url, ca_file, names) in cases {
        let err = start(&stack, &url, &["--redis-ca-file", &ca_file])
            .await
            .err();
        let err = err.unwrap_or_else(|| format!("{case}: started"));
        assert!(err.contains(names), "{case}: {err}");
        assert!(!err.contains('\n'), "{case}: not one line: {err}");
    }
}

#[test]
fn r8_plaintext_to_a_remote_host_and_an_http_issuer_are_refused_unless_allowed() {
    let load = |url: &str, extra: &[&str]| {
        let args = harness::args(
            "https://idp.example.test",
            "http://127.0.0.1:9",
            Some(url),
            extra,
        );
        bff::config::Config::load(&args).map_err(|e| e.to_string())
    };
    let remote = "redis://:pw@10.1.2.3:6379/0";
    let err = load(remote, &[]).unwrap_err();
    assert!(
        err.contains("BFF_REDIS_URL") && err.contains("BFF_ALLOW_PLAINTEXT_REDIS"),
        "{err}"
    );
    assert!(!err.contains("pw@"), "the password leaked: {err}");
    assert!(load(remote, &["--allow-plaintext-redis"]).is_ok());
    assert!(load("redis://127.0.0.1:6379/0", &[]).is_ok());
    let tls_file_without_tls = load(
        "redis://127.0.0.1:6379/0",
        &["--redis-ca-file", "/etc/hostname"],
    );
    assert!(
        tls_file_without_tls
            .unwrap_err()
            .contains("needs a rediss://")
    );
    // The harness allows the fake IdP's http issuer; without that flag it
    // is refused outside dev mode.
    let argv = [
        "bff",
        "--public-url",
        "https://app.example.test",
        "--issuer-url",
        "http://idp.example.test",
        "--client-id",
        "bff",
        "--client-secret",
        "s",
        "--upstream",
        "http://127.0.0.1:9",
    ];
    let args = <bff::config::Args as clap::Parser>::try_parse_from(argv).unwrap();
    let err = bff::config::Config::load(&args).unwrap_err().to_string();
    assert!(
        err.contains("BFF_ISSUER_URL") && err.contains("BFF_ALLOW_INSECURE_ISSUER"),
        "{err}"
    );
}
