//! Prometheus metrics (prometheus-client, one explicit registry per app so
//! tests get independent counters), served on the admin `/metrics`.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

mod auth;
mod cache;
mod connections;
mod health;
mod http;
mod provider;
mod redis;
mod store;

pub(crate) use auth::{AuthMetrics, BackchannelRejection, LogoutKind};
pub(crate) use cache::CacheMetrics;
pub(crate) use connections::{ConnectionMetrics, GaugeSlot};
pub(crate) use health::HealthMetrics;
pub(crate) use http::HttpMetrics;
pub(crate) use provider::{Endpoint, ProviderMetrics};
pub(crate) use redis::RedisEvents;
pub(crate) use store::StoreMetrics;

/// How a refresh attempt ended (the `outcome` label).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// This request refreshed the tokens.
    Success,
    /// Another request in this process refreshed them first.
    Joined,
    /// Another pod refreshed them while this one waited on the lock.
    Waited,
    /// The provider said `invalid_grant`/`invalid_client` (or the new ID
    /// token was invalid): the session was ended.
    InvalidGrant,
    /// Provider timeout/5xx or store error: session kept, request got 503
    /// or the still-valid old token.
    TransientFailure,
    /// The cross-pod lock was not released in time.
    LockTimeout,
}

// Label values in snake_case, the Prometheus convention.
impl EncodeLabelValue for RefreshOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(match self {
            Self::Success => "success",
            Self::Joined => "joined",
            Self::Waited => "waited",
            Self::InvalidGrant => "invalid_grant",
            Self::TransientFailure => "transient_failure",
            Self::LockTimeout => "lock_timeout",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: RefreshOutcome,
}

/// Why a session cookie was not accepted (the `reason` label): a steady
/// rise is someone guessing session IDs (security case C3), worth an alert.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub(crate) enum RejectReason {
    /// Not a well-formed session ID, or the cookie was sent twice.
    Malformed,
    /// Well-formed, but no live session has it (unknown, expired, ended,
    /// or its record failed the integrity check).
    Unknown,
}

impl EncodeLabelValue for RejectReason {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(match self {
            Self::Malformed => "malformed",
            Self::Unknown => "unknown",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: RejectReason,
}

/// Which login limit turned a request away (the `reason` label).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub(crate) enum ThrottleReason {
    /// The client address's rate (`BFF_LOGIN_RATE`).
    Client,
    /// Too many pending logins for one browser.
    Browser,
}

impl EncodeLabelValue for ThrottleReason {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(match self {
            Self::Client => "client",
            Self::Browser => "browser",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottleLabel {
    reason: ThrottleReason,
}

/// The app's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    refresh: Family<OutcomeLabel, Counter>,
    rejected: Family<ReasonLabel, Counter>,
    throttled: Family<ThrottleLabel, Counter>,
    /// Sessions opened, by the role of the key that sealed them.
    opened: [Counter; 3],
    /// Session store latency and errors.
    pub(crate) store: StoreMetrics,
    /// Redis reconnects and failovers.
    pub(crate) redis: RedisEvents,
    /// Requests, latency and in-flight requests on the public listener.
    pub(crate) http: HttpMetrics,
    /// Logins and logouts.
    pub(crate) auth: AuthMetrics,
    /// Provider call latency and errors.
    pub(crate) provider: ProviderMetrics,
    /// Client connections, by protocol, and WebSocket relays.
    pub(crate) connections: ConnectionMetrics,
    /// Readiness and the approximate session count.
    pub(crate) health: HealthMetrics,
    /// The session cache.
    pub(crate) cache: CacheMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every bff metric registered.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("bff");
        let refresh = refresh_family(&mut registry);
        let rejected = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "session_rejected",
            "Session cookies that named no live session, by reason",
            rejected.clone(),
        );
        for reason in [RejectReason::Malformed, RejectReason::Unknown] {
            let _zero = rejected.get_or_create(&ReasonLabel { reason });
        }
        let throttled = throttled_family(&mut registry);
        let connections = ConnectionMetrics::register(&mut registry);
        let opened = opened_counters(&mut registry);
        let store = StoreMetrics::register(&mut registry);
        let redis = RedisEvents::register(&mut registry);
        let http = HttpMetrics::register(&mut registry);
        let auth = AuthMetrics::register(&mut registry);
        let provider = ProviderMetrics::register(&mut registry);
        let health = HealthMetrics::register(&mut registry);
        let cache = CacheMetrics::register(&mut registry);
        build_info(&mut registry);
        Self {
            auth,
            store,
            redis,
            http,
            registry,
            refresh,
            rejected,
            throttled,
            opened,
            provider,
            connections,
            health,
            cache,
        }
    }

    /// Counts one rejected session cookie.
    pub(crate) fn session_rejected(&self, reason: RejectReason) {
        self.rejected.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts one session opened, by the role of the key that sealed it (a
    /// rotation's old key may go once `previous` stops rising).
    pub(crate) fn session_opened(&self, sealed_by: SealedBy) {
        self.opened[sealed_by as usize].inc();
    }

    /// Counts one login turned away by a limit.
    pub(crate) fn login_throttled(&self, reason: ThrottleReason) {
        self.throttled
            .get_or_create(&ThrottleLabel { reason })
            .inc();
    }

    /// Counts one refresh outcome.
    pub(crate) fn refresh(&self, outcome: RefreshOutcome) {
        self.refresh.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// The current count for `outcome` (tests, logs).
    pub(crate) fn refresh_count(&self, outcome: RefreshOutcome) -> u64 {
        self.refresh.get_or_create(&OutcomeLabel { outcome }).get()
    }

    /// The OpenMetrics text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// `bff_token_refresh_total{outcome}`, every outcome exported from 0 (0
/// is information too).
fn refresh_family(registry: &mut Registry) -> Family<OutcomeLabel, Counter> {
    let refresh = Family::<OutcomeLabel, Counter>::default();
    registry.register(
        "token_refresh",
        "Token refresh attempts by outcome",
        refresh.clone(),
    );
    for outcome in [
        RefreshOutcome::Success,
        RefreshOutcome::Joined,
        RefreshOutcome::Waited,
        RefreshOutcome::InvalidGrant,
        RefreshOutcome::TransientFailure,
        RefreshOutcome::LockTimeout,
    ] {
        let _zero = refresh.get_or_create(&OutcomeLabel { outcome });
    }
    refresh
}

/// `bff_login_throttled_total{reason}`, every reason exported from 0.
fn throttled_family(registry: &mut Registry) -> Family<ThrottleLabel, Counter> {
    let throttled = Family::<ThrottleLabel, Counter>::default();
    registry.register(
        "login_throttled",
        "Logins and callbacks answered 429 by a login limit, by reason",
        throttled.clone(),
    );
    for reason in [ThrottleReason::Client, ThrottleReason::Browser] {
        let _zero = throttled.get_or_create(&ThrottleLabel { reason });
    }
    throttled
}

/// The role of the session key that sealed an opened record (the `key`
/// label; see `crypto::KeyRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SealedBy {
    /// The key that seals now.
    Current = 0,
    /// An older key, still listed.
    Previous = 1,
    /// A `:decrypt-only` key another pod already promoted.
    Next = 2,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabel {
    key: &'static str,
}

/// `bff_session_opened_total{key="current"|"previous"|"next"}`.
fn opened_counters(registry: &mut Registry) -> [Counter; 3] {
    let family = Family::<KeyLabel, Counter>::default();
    registry.register(
        "session_opened",
        "Session records opened, by whether the current session key sealed them",
        family.clone(),
    );
    ["current", "previous", "next"].map(|key| family.get_or_create(&KeyLabel { key }).clone())
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
}

/// `bff_build_info{version,revision} 1` (the revision from the build
/// script: `git rev-parse`, or `BFF_GIT_REVISION` where there is no git).
fn build_info(registry: &mut Registry) {
    let info = Family::<BuildLabels, Gauge>::default();
    registry.register(
        "build_info",
        "Always 1; the labels name the running build",
        info.clone(),
    );
    let labels = BuildLabels {
        version: env!("CARGO_PKG_VERSION"),
        revision: env!("BFF_GIT_REVISION"),
    };
    info.get_or_create(&labels).set(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_uses_snake_case_label_values_and_exports_zeros() {
        let metrics = Metrics::new();
        metrics.refresh(RefreshOutcome::InvalidGrant);
        metrics.session_rejected(RejectReason::Unknown);
        metrics.session_opened(SealedBy::Previous);
        let text = metrics.render();
        assert!(
            text.contains("bff_session_opened_total{key=\"previous\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("bff_session_opened_total{key=\"current\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("bff_token_refresh_total{outcome=\"invalid_grant\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("bff_token_refresh_total{outcome=\"lock_timeout\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("bff_session_rejected_total{reason=\"unknown\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("bff_session_rejected_total{reason=\"malformed\"} 0"),
            "{text}"
        );
    }
}
