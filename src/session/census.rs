//! Keeps the `bff_sessions_active` gauge current: every 30 s (and at
//! start) it asks the store for its cheap live-session estimate, so a
//! scrape only reads a number and never touches Redis.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio_util::sync::CancellationToken;

use super::store::SessionStore;

/// How often the estimate is refreshed.
const EVERY: Duration = Duration::from_secs(30);

/// Refreshes `gauge` from `store` until `shutdown`; `lifetime` is the
/// absolute session lifetime (how far back sessions may still live).
pub(crate) fn spawn(
    store: Arc<dyn SessionStore>,
    gauge: Gauge,
    lifetime: Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match store.estimate_live(lifetime).await {
                Ok(live) => {
                    let _previous = gauge.set(i64::try_from(live).unwrap_or(i64::MAX));
                }
                Err(err) => tracing::debug!(error = %err, "live sessions not estimated"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    })
}
