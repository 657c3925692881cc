//! Drained shutdown in a rolling update (issue 14, item 6): two bff
//! processes behind the test's own round-robin client, which, like a load
//! balancer, sends only to instances whose `/readyz` answers 200. Each is
//! stopped in turn with a real SIGTERM and started again on its port,
//! under load: not one request fails, a request in flight when accepting
//! stops still gets its answer, and each instance exits 0.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;

use crate::support::harness::{self, COOKIE, Stack, Store};
use crate::support::http as test_http;
use crate::support::process::BffProcess;
use crate::support::upstream::Upstream;

const DELAY: &str = "1500ms";
const CLIENTS: usize = 8;

/// The pods the client may use: (admin, public, ready).
type Pool = Arc<Mutex<Vec<(SocketAddr, SocketAddr, bool)>>>;

#[derive(Default)]
struct Tally {
    served: AtomicUsize,
    failed: AtomicUsize,
}

fn get(url: String, cookie: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(url)
        .header("accept", "application/json")
        .header("cookie", format!("{COOKIE}={cookie}"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// Polls every pod's `/readyz` every 50 ms, as a load balancer would.
fn watch(pool: &Pool, stop: &Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    let (pool, stop) = (Arc::clone(pool), Arc::clone(stop));
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let pods = pool.lock().unwrap().clone();
            for (i, (admin, _, _)) in pods.iter().enumerate() {
                let probe = get(format!("http://{admin}/readyz"), "");
                let ready = test_http::try_send(probe)
                    .await
                    .is_ok_and(|r| r.status == 200);
                pool.lock().unwrap()[i].2 = ready;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// `CLIENTS` clients sending `/app` round-robin to the ready pods.
fn load(
    pool: &Pool,
    cookie: &str,
    stop: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|client| {
            let (pool, stop, tally) = (Arc::clone(pool), Arc::clone(stop), Arc::clone(tally));
            let cookie = cookie.to_owned();
            tokio::spawn(async move {
                let mut i = client;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let ready: Vec<SocketAddr> = pool
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|p| p.2)
                        .map(|p| p.1)
                        .collect();
                    let Some(pod) = ready.get(i % ready.len().max(1)) else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    match test_http::try_send(get(format!("http://{pod}/app"), &cookie)).await {
                        Ok(res) if res.status == 200 => {
                            tally.served.fetch_add(1, Ordering::Relaxed)
                        }
                        Ok(res) => {
                            eprintln!("{pod} answered {}: {}", res.status, res.text());
                            tally.failed.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(err) => {
                            eprintln!("request to {pod} failed: {err}");
                            tally.failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect()
}

/// Stops pod `index` with SIGTERM while a slow request is in flight on it,
/// and starts it again on the same ports.
async fn restart(
    pods: &mut [BffProcess],
    index: usize,
    argv: &dyn Fn(&BffProcess) -> Vec<String>,
    pool: &Pool,
) {
    let pod = &mut pods[index];
    let sent = Instant::now();
    pod.terminate();
    // Sent 1 s into the 1.5 s delay; in flight when accepting stops (the
    // slow upstream answers after 1.2 s).
    let slow_url = pod.url("/slow");
    let slow = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        test_http::try_send(get(slow_url, "")).await
    });
    let exited = pod.wait_exit(Duration::from_secs(30)).await;
    assert!(exited.success(), "exit 0 after SIGTERM: {exited}");
    assert!(
        sent.elapsed() >= Duration::from_millis(1500),
        "served through BFF_SHUTDOWN_DELAY"
    );
    let slow = slow
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(slow.status, 200, "{}", slow.text());
    // Answered after accepting stopped: the connection is not kept alive.
    assert_eq!(slow.header("connection"), Some("close"));
    pod.wait_for_line("draining", Duration::from_secs(1));
    let again = BffProcess::spawn(
        &argv(pod),
        &[("RUST_LOG", "info"), ("BFF_SHUTDOWN_DELAY", DELAY)],
    );
    again.wait_ready().await;
    pool.lock().unwrap()[index] = (again.admin_addr, again.public_addr, false);
    pods[index] = again;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_load_fails_no_request() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let slow = Upstream::start().await;
    slow.set(|b| b.delay = Duration::from_millis(1200));
    let browser = stack.logged_in_browser().await;
    let cookie = browser.cookie(COOKIE).unwrap().to_owned();
    let argv = pod_argv(&stack, &slow);
    let env = [("RUST_LOG", "info"), ("BFF_SHUTDOWN_DELAY", DELAY)];
    let mut pods: Vec<BffProcess> = (0..2)
        .map(|_| BffProcess::spawn(&argv("127.0.0.1:0", "127.0.0.1:0"), &env))
        .collect();
    for pod in &pods {
        pod.wait_ready().await;
    }
    let pool: Pool = Arc::new(Mutex::new(
        pods.iter()
            .map(|p| (p.admin_addr, p.public_addr, true))
            .collect(),
    ));
    let (stop, tally) = (Arc::new(AtomicBool::new(false)), Arc::new(Tally::default()));
    let watcher = watch(&pool, &stop);
    let clients = load(&pool, &cookie, &stop, &tally);
    let same_ports = |p: &BffProcess| argv(&p.public_addr.to_string(), &p.admin_addr.to_string());
    for index in 0..2 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        restart(&mut pods, index, &same_ports, &pool).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    watcher.await.unwrap();
    let (served, failed) = (
        tally.served.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    eprintln!(
        "rolling restart of 2 pods under {CLIENTS} clients: {served} served, {failed} failed"
    );
    assert_eq!(failed, 0);
    assert!(served > 200, "the load ran: {served}");
}

/// The command line of a pod on `listen` and `admin` (port 0: any).
fn pod_argv<'a>(stack: &'a Stack, slow: &Upstream) -> impl Fn(&str, &str) -> Vec<String> + 'a {
    let config = std::env::temp_dir().join(format!("bff-rolling-{}.toml", rand::random::<u64>()));
    std::fs::write(&config, SLOW_ROUTE.replace("{slow}", &slow.url())).unwrap();
    let config = config.to_string_lossy().into_owned();
    let redis = stack.redis.as_ref().map(|r| r.url());
    move |listen: &str, admin: &str| {
        let extra = ["--config", config.as_str()];
        let issuer = stack.idp.issuer();
        let mut argv = harness::argv(issuer, &stack.upstream.url(), redis.as_deref(), &extra);
        for (flag, value) in [("--listen", listen), ("--admin-listen", admin)] {
            let at = argv.iter().position(|a| a == flag).unwrap();
            argv[at + 1] = value.to_owned();
        }
        argv[1..].to_vec()
    }
}

/// `/slow` answers after 1.2 s; everything else (`--upstream`) at once.
const SLOW_ROUTE: &str = r#"
[[routes]]
prefix = "/slow"
upstream = "{slow}"
auth = "none"
"#;
