//! The session cache against real Redis on real TCP (cases K1–K4): a
//! write on one pod is honoured at once by another pod's warm cache, a lost
//! or silenced invalidation listener stops hits within
//! `BFF_SESSION_CACHE_MAX_STALENESS`, a read racing a write never caches
//! the older record, and outage grace serves recent sessions for a bounded
//! time, never a 401.

use std::time::{Duration, Instant};

use bff::Running;

use crate::backchannel::log_out_sid;
use crate::support::harness::{API, Browser, Stack, Store};
use crate::support::http as test_http;
use crate::support::metrics::{scrape, value};

mod listener_loss;
mod races_and_outages;
mod topologies;

const ADMIN_TOKEN: &str = "admin-token-0123456789-abcdefghijkl";

/// A cache metric of `pod` (`bff_session_cache_<name>`).
pub(crate) async fn cache_metric(pod: &Running, name: &str) -> f64 {
    value(&scrape(pod).await, &format!("bff_session_cache_{name}"))
}

/// Waits until `pod`'s listener holds a lease (at most 5 s).
pub(crate) async fn leased(pod: &Running) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache_metric(pod, "lease_age_milliseconds").await < 0.0 {
        assert!(Instant::now() < deadline, "no cache lease within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two pods on one Redis, pod B's cache leased.
pub(crate) async fn two_pods(extra: &[&str]) -> Option<(Stack, Running)> {
    let stack = Stack::start_with(Store::Redis, extra).await?;
    let pod_b = stack.another_bff(extra).await;
    leased(&pod_b).await;
    Some((stack, pod_b))
}

/// A browser logged in on pod A whose session pod B has cached.
pub(crate) async fn warm(stack: &Stack, pod_b: &Running) -> Browser {
    let mut browser = stack.logged_in_browser().await;
    for _ in 0..2 {
        let res = browser.get_at(pod_b, "/app", &API).await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
    browser
}

#[tokio::test]
async fn k1_logout_on_one_pod_is_a_401_on_the_other_with_a_warm_cache() {
    let Some((stack, pod_b)) = two_pods(&[]).await else {
        return;
    };
    let hits_before = cache_metric(&pod_b, "hits_total").await;
    let trials = 1000;
    for trial in 0..trials {
        let mut browser = warm(&stack, &pod_b).await;
        // Logged out through a copy: the request to pod B still carries the cookie.
        let mut on_a = browser.clone();
        assert_eq!(on_a.logout(&stack).await.status, 302);
        let res = browser.get_at(&pod_b, "/app", &API).await;
        assert_eq!(
            res.status, 401,
            "trial {trial}: pod B served a logged-out session"
        );
    }
    let hits = cache_metric(&pod_b, "hits_total").await - hits_before;
    assert!(
        hits >= f64::from(trials),
        "pod B's cache was not warm: {hits} hits"
    );
}

#[tokio::test]
async fn k1_back_channel_logout_and_operator_revoke_reach_the_other_pods_cache() {
    let Some((stack, pod_b)) = two_pods(&["--admin-token", ADMIN_TOKEN]).await else {
        return;
    };
    for trial in 0..200 {
        let mut browser = warm(&stack, &pod_b).await;
        let res = log_out_sid(&stack, stack.bff.public_addr, "idp-session-0001").await;
        assert_eq!(res.status, 200);
        let res = browser.get_at(&pod_b, "/app", &API).await;
        assert_eq!(res.status, 401, "back-channel trial {trial}");
    }
    for trial in 0..200 {
        let mut browser = warm(&stack, &pod_b).await;
        let revoke = test_http::request(
            http::Method::DELETE,
            &stack.admin_url("/admin/sessions?sub=user-0001"),
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
            "",
        )
        .await;
        assert_eq!(revoke.json()["revoked"], 1, "{}", revoke.text());
        let res = browser.get_at(&pod_b, "/app", &API).await;
        assert_eq!(res.status, 401, "operator revoke trial {trial}");
    }
}

#[tokio::test]
async fn k1_a_refresh_on_one_pod_reaches_the_other_pods_cache() {
    let Some((stack, pod_b)) = two_pods(&[]).await else {
        return;
    };
    for trial in 0..5 {
        stack.idp.set(|b| b.expires_in = 2);
        let mut browser = warm(&stack, &pod_b).await;
        stack.idp.set(|b| b.expires_in = 300);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(browser.get(&stack, "/app", &API).await.status, 200);
        let refreshed = stack.upstream.last_request().unwrap();
        let new_token = refreshed.header("authorization").unwrap().to_owned();
        let joined = refreshes(&pod_b);
        let res = browser.get_at(&pod_b, "/app", &API).await;
        assert_eq!(res.status, 200, "trial {trial}");
        let forwarded = stack.upstream.last_request().unwrap();
        assert_eq!(
            forwarded.header("authorization"),
            Some(new_token.as_str()),
            "trial {trial}"
        );
        assert_eq!(
            refreshes(&pod_b),
            joined,
            "trial {trial}: pod B saw the old token (its cache was stale) and re-read Redis"
        );
    }
}

/// Refresh decisions `pod` made (refreshed itself, or joined another's).
fn refreshes(pod: &Running) -> u64 {
    use bff::RefreshOutcome::{Joined, Success, Waited};
    [Joined, Success, Waited]
        .into_iter()
        .map(|o| pod.refresh_count(o))
        .sum()
}

/// Sends requests for `browser` on `pod` until one is refused (401);
/// returns how long after `since` that was.
pub(crate) async fn refused_after(
    browser: &mut Browser,
    pod: &Running,
    since: Instant,
) -> Duration {
    loop {
        let res = browser.get_at(pod, "/app", &API).await;
        match res.status.as_u16() {
            200 => {
                assert!(
                    since.elapsed() < Duration::from_secs(5),
                    "still served after 5 s"
                );
            }
            401 => return since.elapsed(),
            other => assert_eq!(other, 200, "unexpected status: {}", res.text()),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
