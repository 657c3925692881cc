//! Login and logout metrics: `bff_logins_started_total`,
//! `bff_logins_completed_total`, `bff_logins_failed_total{reason}` and
//! `bff_logouts_total{kind}` (sessions ended by an RP-initiated logout, a
//! back-channel logout or an operator), and
//! `bff_backchannel_rejected_total{reason}` (logout tokens answered 400).
//! Reasons and kinds are fixed sets.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// Why a session ended on request (the `kind` label).
#[derive(Debug, Clone, Copy)]
pub(crate) enum LogoutKind {
    /// The user signed out (`/auth/logout`).
    RpInitiated,
    /// The provider's back-channel logout token named the session.
    BackChannel,
    /// An operator revoked it (admin API).
    Operator,
}

impl LogoutKind {
    fn label(self) -> &'static str {
        match self {
            Self::RpInitiated => "rp_initiated",
            Self::BackChannel => "back_channel",
            Self::Operator => "operator",
        }
    }
}

/// The login and logout families. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct AuthMetrics {
    started: Counter,
    completed: Counter,
    failed: Family<ReasonLabel, Counter>,
    logouts: Family<KindLabel, Counter>,
    backchannel_rejected: Family<ReasonLabel, Counter>,
}

/// Why a back-channel logout request was answered 400 (the `reason`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum BackchannelRejection {
    /// Not a form body with exactly one `logout_token`, or too slow.
    MalformedRequest,
    /// The token failed validation (OIDC Back-Channel Logout §2.6).
    InvalidToken,
    /// A token already accepted, sent again (§2.6: replay).
    Replayed,
}

impl BackchannelRejection {
    const ALL: [Self; 3] = [Self::MalformedRequest, Self::InvalidToken, Self::Replayed];

    fn label(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformed_request",
            Self::InvalidToken => "invalid_token",
            Self::Replayed => "replayed",
        }
    }
}

impl AuthMetrics {
    /// Registers every family in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let this = Self {
            started: Counter::default(),
            completed: Counter::default(),
            failed: Family::default(),
            logouts: Family::default(),
            backchannel_rejected: Family::default(),
        };
        registry.register(
            "logins_started",
            "Logins started (redirects to the provider)",
            this.started.clone(),
        );
        registry.register(
            "logins_completed",
            "Callbacks that created a session",
            this.completed.clone(),
        );
        registry.register(
            "logins_failed",
            "Callbacks that created no session, by reason",
            this.failed.clone(),
        );
        registry.register(
            "logouts",
            "Sessions ended by a logout, by kind",
            this.logouts.clone(),
        );
        registry.register(
            "backchannel_rejected",
            "Back-channel logout requests answered 400, by reason",
            this.backchannel_rejected.clone(),
        );
        for reason in BackchannelRejection::ALL {
            let _zero = this.backchannel_rejected.get_or_create(&ReasonLabel {
                reason: reason.label(),
            });
        }
        for kind in [
            LogoutKind::RpInitiated,
            LogoutKind::BackChannel,
            LogoutKind::Operator,
        ] {
            let _zero = this
                .logouts
                .get_or_create(&KindLabel { kind: kind.label() });
        }
        this
    }

    /// One login started.
    pub(crate) fn login_started(&self) {
        self.started.inc();
    }

    /// One callback ended: a session, or the failure's `reason`.
    pub(crate) fn login_finished(&self, failure: Option<&'static str>) {
        match failure {
            None => self.completed.inc(),
            Some(reason) => self.failed.get_or_create(&ReasonLabel { reason }).inc(),
        };
    }

    /// `sessions` sessions ended by a logout of `kind`.
    pub(crate) fn logged_out(&self, kind: LogoutKind, sessions: u64) {
        let kind = kind.label();
        self.logouts
            .get_or_create(&KindLabel { kind })
            .inc_by(sessions);
    }

    /// One back-channel logout request refused for `reason`.
    pub(crate) fn backchannel_rejected(&self, reason: BackchannelRejection) {
        let reason = reason.label();
        self.backchannel_rejected
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }
}
