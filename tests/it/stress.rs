//! Refresh under load (issue 4): 200 sessions whose access tokens live 4 s
//! (refreshed 2 s before expiry), hammered for 20 s by 16 concurrent
//! clients spread over two pods sharing one Redis. No request may see an
//! unexpected 401, and the provider must see about one refresh per session
//! per token lifetime cycle, never a burst of duplicates.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::harness::{Stack, Store};
use crate::support::http as test_http;

const SESSIONS: usize = 200;
const WORKERS: usize = 16;
const RUN: Duration = Duration::from_secs(20);
const TOKEN_TTL_SECS: u64 = 4;
const SKEW_SECS: u64 = 2;

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    unauthorized: AtomicUsize,
    unavailable: AtomicUsize,
    other: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_stress_200_sessions_two_pods_no_unexpected_401() {
    let extra = ["--refresh-skew", "2s"];
    let Some(stack) = Stack::start_with(Store::Redis, &extra).await else {
        return;
    };
    let pod2 = stack.another_bff(&extra).await;
    stack.idp.set(|b| b.expires_in = TOKEN_TTL_SECS);
    let mut cookies = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        cookies.push(stack.logged_in_browser().await.cookie_header());
    }
    let cookies = Arc::new(cookies);
    let pods = [stack.bff.public_addr, pod2.public_addr];
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        workers.spawn(load(
            worker,
            pods,
            Arc::clone(&cookies),
            Arc::clone(&tally),
            started,
        ));
    }
    workers.join_all().await;
    let elapsed = started.elapsed().as_secs_f64();
    let refreshes = stack.idp.token_requests_for("refresh_token");
    let cycles_per_session = elapsed / (TOKEN_TTL_SECS - SKEW_SECS) as f64;
    let ideal = SESSIONS as f64 * cycles_per_session;
    let ok = tally.ok.load(Ordering::Relaxed);
    eprintln!(
        "stress: {elapsed:.1}s, {ok} ok ({:.0} req/s), {} x 401, {} x 503, {} other; \
         {refreshes} refresh requests for {SESSIONS} sessions (ideal ≈ {ideal:.0}, ratio {:.2})",
        ok as f64 / elapsed,
        tally.unauthorized.load(Ordering::Relaxed),
        tally.unavailable.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
        refreshes as f64 / ideal,
    );
    assert_eq!(
        tally.unauthorized.load(Ordering::Relaxed),
        0,
        "unexpected 401s"
    );
    assert_eq!(tally.other.load(Ordering::Relaxed), 0);
    assert_eq!(tally.unavailable.load(Ordering::Relaxed), 0);
    // Each session is used at least three times on average, across
    // several refresh cycles. (The load is bound by the debug build's
    // refresh work; on a machine shared with other jobs it drops from
    // ~1,500 to ~900 requests.)
    assert!(ok > SESSIONS * 3, "too little load to mean anything: {ok}");
    // At most one refresh per session per cycle (plus the cycle in flight).
    let most = SESSIONS as f64 * (cycles_per_session.ceil() + 1.0);
    assert!(
        (refreshes as f64) <= most,
        "{refreshes} refreshes > {most}: duplicates"
    );
    // Every use of an expired token refreshes it: at least half of the
    // cycles that saw a request (all of them under full load).
    let used_cycles = ideal.min(ok as f64);
    assert!(
        (refreshes as f64) >= used_cycles * 0.5,
        "{refreshes} refreshes for {used_cycles:.0} used cycles: sessions were not refreshed"
    );
}

/// One client: API calls over all sessions and both pods until `RUN` is over.
async fn load(
    worker: usize,
    pods: [std::net::SocketAddr; 2],
    cookies: Arc<Vec<String>>,
    tally: Arc<Tally>,
    started: Instant,
) {
    let mut i = worker;
    while started.elapsed() < RUN {
        let url = format!("http://{}/api/{i}", pods[i % 2]);
        let cookie = &cookies[(i * 7919) % SESSIONS];
        let res = test_http::get(&url, &[("accept", "application/json"), ("cookie", cookie)]).await;
        let counter = match res.status.as_u16() {
            200 => &tally.ok,
            401 => &tally.unauthorized,
            503 => &tally.unavailable,
            _ => &tally.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        i += WORKERS;
    }
}
