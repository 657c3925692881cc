//! The Grafana dashboard and the Prometheus alerts in `deploy/` query only
//! metrics bff exports: every `bff_*` name in them must be a sample name
//! of a family on a real bff's `/metrics` (`<name>_total` for a counter,
//! `_bucket`/`_sum`/`_count` for a histogram, the bare name for a gauge),
//! so a renamed or removed metric fails here, by name. A labelled family
//! is exported only once it has a series, so the test first drives a flow
//! that gives every such family one (a login, a failed callback, a refused
//! logout token, a logout, a store outage). `deploy/check.sh` runs this;
//! `BFF_DEPLOY_DIR=<dir>` checks another copy of `deploy/` instead.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::harness::{API, Browser, Stack, Store};
use crate::support::metrics::scrape;

/// The deployed files whose queries name bff metrics (the alert tests'
/// synthetic series too: a test of a series bff never exports proves
/// nothing), under `deploy/`.
const DEPLOYED: [&str; 3] = [
    "grafana/bff-dashboard.json",
    "prometheus/bff-alerts.yml",
    "prometheus/bff-alerts.test.yml",
];

/// Env var: another copy of `deploy/` to check (to try a change to it).
const DEPLOY_DIR_ENV: &str = "BFF_DEPLOY_DIR";

#[tokio::test]
async fn deployed_dashboard_and_alerts_query_only_exported_metrics() {
    // Redis: a store outage is what gives `bff_store_errors_total` a series.
    let Some(mut stack) = Stack::start(Store::Redis).await else {
        return;
    };
    exercise(&mut stack).await;
    let families = families(&scrape(&stack.bff).await);
    assert!(
        families.contains_key("bff_build_info"),
        "no bff families in the exposition: {families:?}"
    );
    let exported: BTreeSet<String> = families
        .iter()
        .flat_map(|(name, kind)| sample_names(name, kind))
        .collect();
    let deploy = std::env::var_os(DEPLOY_DIR_ENV).map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy"),
        std::path::PathBuf::from,
    );
    let mut unknown = Vec::new();
    for file in DEPLOYED {
        let path = deploy.join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let used = metric_names(&text);
        assert!(!used.is_empty(), "{file} names no bff metric");
        for name in used.iter().filter(|n| !exported.contains(*n)) {
            unknown.push(format!("{name} in {file}{}", hint(name, &families)));
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics bff does not export (or a labelled family this test gives no \
         series: exercise it in `exercise`):\n  {}\nexported: {exported:?}",
        unknown.join("\n  ")
    );
}

/// Gives every labelled family a series: requests through the proxy
/// (request, upstream and store histograms), logins started, completed and
/// failed, a refused back-channel logout token, a logout, and a store
/// error.
async fn exercise(stack: &mut Stack) {
    let mut alice = stack.logged_in_browser().await;
    assert_eq!(alice.get(stack, "/app/x", &API).await.status, 200);
    let mut stranger = Browser::default();
    let bad = stranger.get(stack, "/auth/callback?code=x", &[]).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let refused = super::backchannel::post_logout_token(stack.bff.public_addr, "not-a-jwt").await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(alice.logout(stack).await.status, 302);
    let mut bob = stack.logged_in_browser().await;
    stack.redis.as_mut().unwrap().stop();
    assert_eq!(bob.get(stack, "/app/x", &API).await.status, 503);
}

/// Family name → type, from the exposition's `# TYPE <name> <type>` lines.
fn families(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.trim().to_owned()))
        .collect()
}

/// The sample names Prometheus stores for a family of type `kind`.
fn sample_names(family: &str, kind: &str) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        "counter" => &["_total"],
        "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count"],
        "summary" => &["", "_sum", "_count"],
        "info" => &["_info"],
        _ => &[""],
    };
    suffixes.iter().map(|s| format!("{family}{s}")).collect()
}

/// Every `bff_[A-Za-z0-9_]+` token in `text` that starts a name (not
/// inside a longer identifier). Upper case too, so a typo shows.
fn metric_names(text: &str) -> BTreeSet<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("bff_") {
        let len = text[at..]
            .find(|c: char| !is_name(c))
            .unwrap_or(text.len() - at);
        // `bff_*` in prose is not a name; `xbff_y` is not one either.
        if len > "bff_".len() && !text[..at].chars().next_back().is_some_and(is_name) {
            names.insert(text[at..at + len].to_owned());
        }
    }
    names
}

/// Why `name` is unknown when it is a family under another suffix (a
/// counter without `_total`, a histogram without `_bucket`, ...).
fn hint(name: &str, families: &BTreeMap<String, String>) -> String {
    let family = ["_bucket", "_count", "_sum", "_total", "_info", ""]
        .iter()
        .filter_map(|s| name.strip_suffix(s))
        .find(|f| families.contains_key(*f));
    match family {
        Some(f) => format!(
            " ({f} is a {}: query {})",
            families[f],
            sample_names(f, &families[f]).join(" / ")
        ),
        None => String::new(),
    }
}
