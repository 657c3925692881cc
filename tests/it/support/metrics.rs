//! Reading bff's `/metrics` in tests: scrape a pod's admin listener and
//! pick one series' value.

use bff::Running;

/// The text exposition of `pod`'s admin `/metrics`.
pub async fn scrape(pod: &Running) -> String {
    super::http::get(&format!("http://{}/metrics", pod.admin_addr), &[])
        .await
        .text()
}

/// The value of `series` (name and labels, as exposed) in `text`; panics
/// with the exposition if the series is missing.
pub fn value(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} not in {text}"))
}
