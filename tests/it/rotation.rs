//! Session key rotation across pods (cases R7, R11): the two-phase rolling
//! procedure logs no one out; a pod lacking the key that sealed a record
//! another pod holds answers 503 and keeps the cookie; a key no pod holds
//! any more ends its sessions cleanly.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bff::Running;

use crate::support::harness::{COOKIE, SESSION_KEYS, Stack, Store, session_request};
use crate::support::http::{self as test_http, TestResponse};

const K2: &str = "k2:HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";

async fn get_on(pod: std::net::SocketAddr, cookie: &str) -> TestResponse {
    test_http::send(session_request(pod, cookie)).await
}

fn opened(metrics: &str, key: &str) -> u64 {
    let prefix = format!("bff_session_opened_total{{key=\"{key}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{prefix} not in {metrics}"))
        .unwrap()
}

async fn metrics_of(pod: &Running) -> String {
    test_http::get(&format!("http://{}/metrics", pod.admin_addr), &[])
        .await
        .text()
}

#[tokio::test]
async fn r11_a_pod_lacking_the_sealing_key_answers_503_and_keeps_the_cookie() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let browser = stack.logged_in_browser().await;
    let cookie = browser.cookie(COOKIE).unwrap().to_owned();
    // A pod promoted k2 without the decrypt-only phase: it opens the k1
    // record and re-seals it with k2.
    let promoted = stack
        .another_bff(&["--session-keys", &format!("{K2},{SESSION_KEYS}")])
        .await;
    assert_eq!(get_on(promoted.public_addr, &cookie).await.status, 200);
    assert_eq!(opened(&metrics_of(&promoted).await, "previous"), 1);
    assert_eq!(get_on(promoted.public_addr, &cookie).await.status, 200);
    assert_eq!(
        opened(&metrics_of(&promoted).await, "current"),
        1,
        "not re-sealed"
    );
    // The old pod cannot open it, but a live pod holds k2: 503, no logout.
    let old = get_on(stack.bff.public_addr, &cookie).await;
    assert_eq!(old.status, 503, "{}", old.text());
    assert!(old.header("retry-after").is_some());
    assert!(old.set_cookie(COOKIE).is_none(), "the cookie was cleared");
    // Once no pod holds k2 (its holder stopped and the 60 s announcement
    // ran out, cut short here), the session is over: 401, cookie cleared.
    let redis = stack.redis.as_ref().unwrap();
    let holder = "bff:keyholder:{k2}";
    let ttl = redis.ttl(holder).await;
    assert!((1..=60).contains(&ttl), "announcement TTL {ttl}");
    promoted.shutdown().await;
    let mut conn = redis.connection().await;
    redis::cmd("DEL")
        .arg(holder)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let removed = get_on(stack.bff.public_addr, &cookie).await;
    assert_eq!(removed.status, 401, "{}", removed.text());
}

/// Pods behind the test's own round-robin "load balancer".
#[derive(Default)]
struct Pool {
    pods: Mutex<Vec<std::net::SocketAddr>>,
    next: AtomicUsize,
}

impl Pool {
    fn pick(&self) -> Option<std::net::SocketAddr> {
        let pods = self.pods.lock().unwrap();
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (!pods.is_empty()).then(|| pods[n % pods.len()])
    }

    fn set(&self, at: usize, addr: std::net::SocketAddr) {
        self.pods.lock().unwrap()[at] = addr;
    }
}

/// Restarts `pods[at]` with `keys`, taking it out of the pool meanwhile.
async fn restart(stack: &Stack, pool: &Pool, pods: &mut [Option<Running>], at: usize, keys: &str) {
    let other = pool.pods.lock().unwrap()[1 - at];
    pool.set(at, other);
    if let Some(old) = pods[at].take() {
        old.shutdown().await;
    }
    let pod = stack.another_bff(&["--session-keys", keys]).await;
    pool.set(at, pod.public_addr);
    pods[at] = Some(pod);
}

/// 16 clients reading the sessions through the pool until `stop`.
fn start_load(
    pool: &Arc<Pool>,
    stop: &Arc<AtomicBool>,
    statuses: &Arc<Mutex<Vec<u16>>>,
    cookies: &[String],
) -> tokio::task::JoinSet<()> {
    let mut load = tokio::task::JoinSet::new();
    for client in 0..16 {
        let (pool, stop, statuses, cookies) = (
            pool.clone(),
            stop.clone(),
            statuses.clone(),
            cookies.to_vec(),
        );
        load.spawn(async move {
            let mut i = client;
            while !stop.load(Ordering::Relaxed) {
                let pod = pool.pick().unwrap();
                let request = session_request(pod, &cookies[i % cookies.len()]);
                // A refused connect (the pod just left the pool) is retried
                // on the next pick, as a load balancer does.
                if let Ok(res) = test_http::try_send(request).await {
                    statuses.lock().unwrap().push(res.status.as_u16());
                    i += 1;
                }
            }
        });
    }
    load
}

#[tokio::test]
async fn r11_rolling_key_rotation_under_load_logs_no_one_out() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let mut cookies = Vec::new();
    for _ in 0..20 {
        let browser = stack.logged_in_browser().await;
        cookies.push(browser.cookie(COOKIE).unwrap().to_owned());
    }
    let mut pods = [None, None];
    let pool = Arc::new(Pool::default());
    for pod in &mut pods {
        let running = stack.another_bff(&[]).await;
        pool.pods.lock().unwrap().push(running.public_addr);
        *pod = Some(running);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let load = start_load(&pool, &stop, &statuses, &cookies);
    let phases = [
        format!("{K2}:decrypt-only,{SESSION_KEYS}"),
        format!("{K2},{SESSION_KEYS}"),
        K2.to_owned(),
    ];
    for keys in &phases {
        for at in 0..2 {
            restart(&stack, &pool, &mut pods, at, keys).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    load.join_all().await;
    let statuses = statuses.lock().unwrap().clone();
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let failed = statuses.iter().filter(|s| **s != 200).count();
    eprintln!(
        "rolling rotation: {} requests, {unauthorized} x 401, {failed} not 200",
        statuses.len()
    );
    assert!(statuses.len() > 200, "too little load: {}", statuses.len());
    assert_eq!(unauthorized, 0, "a rotation step logged someone out");
    assert_eq!(failed, 0, "{statuses:?}");
    for pod in pods.iter().flatten() {
        for cookie in &cookies {
            assert_eq!(get_on(pod.public_addr, cookie).await.status, 200);
        }
        assert_eq!(opened(&metrics_of(pod).await, "previous"), 0);
    }
}
