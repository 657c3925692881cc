//! The authentication phase: from a request's session cookie to its live
//! session, in two steps that callers run around their own checks.
//!
//! 1. [`load`]: the one place a session cookie becomes a session. A
//!    missing cookie is no session; a malformed or duplicated one (cases
//!    C2, C7), an unknown ID or a record that fails its integrity check is
//!    no session and is counted (`bff_session_rejected_total`); a store
//!    failure is an error, never "anonymous" (case R2). Only the cookie is
//!    ever consulted, never a query parameter or custom header (case C8).
//!    `load` reads and never writes.
//! 2. [`refresh_if_needed`] and [`record_activity`]: the writes (a token
//!    refresh, the idle-timer touch). The proxy runs them only after the
//!    CSRF check, so a forged request changes nothing in the store.

use http::HeaderMap;
use tracing::Instrument as _;

use crate::crypto::KeyRole;
use crate::error::Error;
use crate::metrics::{RejectReason, SealedBy};
use crate::session::cookie::{Lookup, lookup};
use crate::session::{Loaded, SessionData, SessionId};
use crate::state::AppState;

/// A request's live session.
pub(crate) struct Authenticated {
    /// The session's ID, from the cookie.
    pub(crate) id: SessionId,
    /// The opened session record.
    pub(crate) data: SessionData,
    /// Sealed with an older key: this request's activity write re-seals it
    /// with the current one (two-phase key rotation).
    pub(crate) reseal: bool,
}

/// What the request's session cookie names.
pub(crate) enum Presented {
    /// No session cookie.
    Absent,
    /// A cookie that cannot name a session: sent twice, or not an ID.
    Malformed,
    /// A well-formed session ID (which may or may not be live).
    Id(SessionId),
}

// === impl Presented ===

impl Presented {
    /// The well-formed ID, if any.
    pub(crate) fn id(self) -> Option<SessionId> {
        match self {
            Self::Id(id) => Some(id),
            Self::Absent | Self::Malformed => None,
        }
    }
}

/// Reads the session cookie: the only cookie → session-ID lookup.
pub(crate) fn presented(state: &AppState, headers: &HeaderMap) -> Presented {
    match lookup(headers, &state.cookies.session) {
        Lookup::Missing => Presented::Absent,
        Lookup::Duplicate => Presented::Malformed,
        Lookup::One(value) => SessionId::parse(&value).map_or(Presented::Malformed, Presented::Id),
    }
}

/// The request's live session, if its cookie names one.
pub(crate) async fn load(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Authenticated>, Error> {
    load_presented(state, headers)
        .instrument(tracing::debug_span!("session_load"))
        .await
}

async fn load_presented(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Authenticated>, Error> {
    let id = match presented(state, headers) {
        Presented::Absent => return Ok(None),
        Presented::Malformed => return Ok(rejected(state, RejectReason::Malformed)),
        Presented::Id(id) => id,
    };
    let Some(Loaded { data, sealed_by }) = state.vault.open(&id).await? else {
        return Ok(rejected(state, RejectReason::Unknown));
    };
    state.metrics.session_opened(match sealed_by {
        KeyRole::Current => SealedBy::Current,
        KeyRole::Previous => SealedBy::Previous,
        KeyRole::Next => SealedBy::Next,
    });
    Ok(Some(Authenticated {
        id,
        data,
        reseal: sealed_by == KeyRole::Previous,
    }))
}

/// Counts a cookie that named no live session.
fn rejected<T>(state: &AppState, reason: RejectReason) -> Option<T> {
    state.metrics.session_rejected(reason);
    None
}

/// The session with its access token refreshed if it is about to expire
/// (see [`crate::refresh`]); `None` when the provider ended the session.
pub(crate) async fn refresh_if_needed(
    state: &AppState,
    session: Authenticated,
) -> Result<Option<Authenticated>, Error> {
    let Authenticated { id, data, reseal } = session;
    let before = data.version;
    match state.refresher.ensure_fresh(&id, data).await {
        // A refresh wrote the record, sealing it with the current key.
        Ok(data) => Ok(Some(Authenticated {
            id,
            reseal: reseal && data.version == before,
            data,
        })),
        Err(Error::Unauthenticated) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Records activity for the idle timeout when it is due (not a write per
/// request), and re-seals a record sealed with an older key. A failed
/// write is logged and the request goes on: the session is still valid.
pub(crate) async fn record_activity(state: &AppState, session: Authenticated) -> Authenticated {
    let written = if session.reseal {
        state.vault.touch(&session.id, &session.data).await
    } else {
        state
            .vault
            .record_activity(&session.id, &session.data)
            .await
    };
    match written {
        Ok(Some(data)) => Authenticated {
            id: session.id,
            data,
            reseal: false,
        },
        Ok(None) => session,
        Err(err) => {
            tracing::warn!(error = %err, "could not record session activity");
            session
        }
    }
}
