//! Load for the failover and migration tests: 16 clients cycling over
//! logged-in sessions (and pods), a log of every status with its time, and
//! the report of the window in which requests failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::harness::session_request;
use super::http as test_http;

/// Concurrent clients.
pub const CLIENTS: usize = 16;

/// (milliseconds since the kill, status) of every request under load.
pub type Log = Arc<Mutex<Vec<(i64, u16)>>>;

pub fn load(
    pods: &[std::net::SocketAddr],
    cookies: &Arc<Vec<String>>,
    stop: &Arc<AtomicBool>,
    killed: Instant,
    log: &Log,
) -> tokio::task::JoinSet<()> {
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let (cookies, stop, log) = (cookies.clone(), stop.clone(), log.clone());
        let pods = pods.to_vec();
        clients.spawn(async move {
            let mut i = client;
            while !stop.load(Ordering::Relaxed) {
                let bff = pods[i % pods.len()];
                let request = session_request(bff, &cookies[i % cookies.len()]);
                if let Ok(res) = test_http::try_send(request).await {
                    let at = i64::try_from(killed.elapsed().as_millis()).unwrap_or(i64::MAX);
                    log.lock().unwrap().push((at, res.status.as_u16()));
                }
                i += 1;
            }
        });
    }
    clients
}

/// Keeps the load on until bff has served 200 requests in a row again.
pub async fn wait_for_recovery(log: &Log, deadline: Instant) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let recent: Vec<u16> = log
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(200)
            .map(|(_, s)| *s)
            .collect();
        if recent.len() == 200 && recent.iter().all(|s| *s == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "bff never recovered: {recent:?}");
    }
}

/// Prints the failover window and asserts: only 200 or 503, never 401.
pub fn report(what: &str, log: &[(i64, u16)], killed_at: i64) {
    let unauthorized = log.iter().filter(|(_, s)| *s == 401).count();
    let others: Vec<u16> = log
        .iter()
        .map(|(_, s)| *s)
        .filter(|s| *s != 200 && *s != 503)
        .collect();
    let failed: Vec<i64> = log
        .iter()
        .filter(|(_, s)| *s != 200)
        .map(|(at, _)| *at)
        .collect();
    let window = match (failed.first(), failed.last()) {
        (Some(first), Some(last)) => last - first,
        _ => 0,
    };
    eprintln!(
        "{what}: {} requests, {} x 503, {unauthorized} x 401, window {window} ms \
         (fault at {killed_at} ms)",
        log.len(),
        failed.len()
    );
    assert_eq!(unauthorized, 0, "{what} logged someone out");
    assert!(others.is_empty(), "statuses other than 200/503: {others:?}");
}
