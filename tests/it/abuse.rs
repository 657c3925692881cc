//! A4: a flood of anonymous login starts leaves only short-lived, small
//! pending-login records in Redis (bounded: 2,000 here, not 100k, to keep
//! the suite fast) with the limits off; A8: with the default limits a
//! single client gets its burst and then 429 with `Retry-After`, so the
//! pending logins it can create are bounded.

use futures_util::StreamExt as _;

use crate::support::harness::{Stack, Store};
use crate::support::http::get;

const LOGINS: usize = 2_000;

#[tokio::test]
async fn a4_anonymous_login_flood_leaves_only_expiring_bounded_records() {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return;
    };
    let redis = stack.redis.as_ref().unwrap();
    let mut conn = redis.connection().await;
    let used = |info: String| -> i64 {
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .unwrap(),
    );
    let url = stack.url("/auth/login?return_to=%2F");
    let statuses: Vec<u16> = futures_util::stream::iter(0..LOGINS)
        .map(|_| {
            let url = url.clone();
            async move { get(&url, &[]).await.status.as_u16() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 302), "a login start failed");
    let keys = redis.raw_keys("bff:login:*").await;
    assert_eq!(keys.len(), LOGINS);
    assert!(
        redis.raw_keys("bff:s:*").await.is_empty(),
        "anonymous logins created sessions"
    );
    for key in keys.iter().step_by(10) {
        let ttl = redis.ttl(key).await;
        assert!((1..=600).contains(&ttl), "{key} has TTL {ttl}");
    }
    let after = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .unwrap(),
    );
    let per_login = (after - before) / i64::try_from(LOGINS).unwrap();
    eprintln!(
        "{LOGINS} pending logins: Redis used_memory +{} KiB ({per_login} B each)",
        (after - before) / 1024
    );
    assert!(per_login < 1024, "{per_login} bytes per pending login");
}

/// Starts `n` logins at once (32 in flight) from this test's address,
/// with `headers`; the statuses and `Retry-After` values.
async fn flood(
    stack: &Stack,
    path: &str,
    n: usize,
    headers: &[(&str, &str)],
) -> Vec<(u16, Option<String>)> {
    let url = stack.url(path);
    futures_util::stream::iter(0..n)
        .map(|_| {
            let url = url.clone();
            async move {
                let res = get(&url, headers).await;
                (
                    res.status.as_u16(),
                    res.header("retry-after").map(str::to_owned),
                )
            }
        })
        .buffer_unordered(32)
        .collect()
        .await
}

#[tokio::test]
async fn a8_a_login_flood_from_one_client_is_cut_to_its_burst_with_429() {
    let defaults = ["--login-rate", "10", "--login-burst", "50"];
    let Some(stack) = Stack::start_with(Store::Redis, &defaults).await else {
        return;
    };
    let started = std::time::Instant::now();
    let answers = flood(&stack, "/auth/login?return_to=%2F", 400, &[]).await;
    let allowed = answers.iter().filter(|(s, _)| *s == 302).count();
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    let most = 50 + (started.elapsed().as_secs_f64() * 10.0).ceil() as usize;
    assert!(
        allowed >= 50 && allowed <= most,
        "{allowed} logins allowed (at most {most})"
    );
    assert_eq!(allowed + refused.len(), 400, "other statuses: {answers:?}");
    assert!(refused.iter().all(|(_, retry)| {
        retry
            .as_deref()
            .is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1))
    }));
    // The pending logins it created are exactly the allowed ones.
    let redis = stack.redis.as_ref().unwrap();
    assert_eq!(redis.raw_keys("bff:login:*").await.len(), allowed);
    // Callbacks share the bucket (which refills 10 a second meanwhile: a
    // few tries drain it); the metric says why.
    let mut callbacks_refused = 0;
    for _ in 0..20 {
        let status = get(&stack.url("/auth/callback?state=x&code=y"), &[])
            .await
            .status;
        if status == 429 {
            callbacks_refused += 1;
            break;
        }
    }
    assert_eq!(callbacks_refused, 1, "callbacks are not throttled");
    let metrics = get(&stack.admin_url("/metrics"), &[]).await.text();
    let line = format!(
        "bff_login_throttled_total{{reason=\"client\"}} {}",
        refused.len() + callbacks_refused
    );
    assert!(metrics.contains(&line), "{line} not in {metrics}");
}

#[tokio::test]
async fn a8_t2_client_addresses_come_only_through_trusted_proxies() {
    let limits = ["--login-rate", "1", "--login-burst", "5"];
    // Untrusted peer: a forged X-Forwarded-For does not buy a new bucket.
    let stack = Stack::start_with(Store::Memory, &limits).await.unwrap();
    let forged: Vec<(u16, Option<String>)> = {
        let mut out = Vec::new();
        for i in 0..10 {
            let xff = format!("198.51.100.{i}");
            let res = get(&stack.url("/auth/login"), &[("x-forwarded-for", &xff)]).await;
            out.push((res.status.as_u16(), None));
        }
        out
    };
    assert_eq!(
        forged.iter().filter(|(s, _)| *s == 302).count(),
        5,
        "{forged:?}"
    );
    // Behind a trusted proxy each real client has its own bucket.
    let mut flags = limits.to_vec();
    flags.extend(["--trusted-proxies", "127.0.0.0/8,10.0.0.0/8"]);
    let stack = Stack::start_with(Store::Memory, &flags).await.unwrap();
    for i in 0..10 {
        let xff = format!("198.51.100.{i}, 10.0.0.1");
        let headers = [("x-forwarded-for", xff.as_str())];
        assert_eq!(
            get(&stack.url("/auth/login"), &headers).await.status,
            302,
            "client {i}"
        );
    }
}

#[tokio::test]
async fn a8_one_browser_may_have_at_most_ten_pending_logins() {
    let stack = Stack::start_with(Store::Memory, &["--login-rate", "1000"])
        .await
        .unwrap();
    let mut browser = crate::support::harness::Browser::default();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(stack.start_login(&mut browser, "/").await.status);
    }
    // The first login sets the binding cookie; ten more are pending with it.
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        11,
        "{statuses:?}"
    );
    assert_eq!(statuses.last().map(|s| s.as_u16()), Some(429));
    let metrics = get(&stack.admin_url("/metrics"), &[]).await.text();
    assert!(
        metrics.contains("bff_login_throttled_total{reason=\"browser\"} 1"),
        "{metrics}"
    );
}
