//! A4: a flood of anonymous login starts leaves only short-lived, small
//! pending-login records in Redis (bounded: 2,000 here, not 100k, to keep
//! the suite fast). Per-IP rate limits are not implemented (see README).

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
