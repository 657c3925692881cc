//! Expiry-driven token refresh that never logs a user out by accident.
//!
//! - Refresh only when the access token expires within the skew.
//! - Single-flight in a process: one async mutex per session; the others
//!   wait, re-read the session and use the winner's tokens.
//! - Single-flight across pods: a leased Redis lock ([`lock`]); waiters
//!   poll the session (bounded by `BFF_REFRESH_WAIT`) for the new version.
//! - Write-back by compare-and-set on the record version, keeping the TTL
//!   (the 8-hour lifetime never moves).
//! - Only `invalid_grant`/`invalid_client` (or an invalid new ID token)
//!   end the session. Anything transient keeps it: the old access token is
//!   used while still valid, else the request gets 503 + `Retry-After`.

pub(crate) mod exchange;
pub(crate) mod lock;

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use tokio::sync::Mutex;
use tracing::Instrument as _;

use crate::error::Error;
use crate::metrics::{Metrics, RefreshOutcome as Outcome};
use crate::oidc::provider::ProviderHandle;
use crate::session::store::Cas;
use crate::session::{SessionData, SessionId, SessionStore, Vault, now_unix};
use exchange::RefreshFailure;

/// How often a waiter re-reads the session while another pod refreshes.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Refresh timing settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshSettings {
    /// Refresh when the access token expires within this window.
    pub(crate) skew: Duration,
    /// Longest wait for another pod's refresh.
    pub(crate) wait: Duration,
    /// Lease of the cross-pod lock.
    pub(crate) lease: Duration,
}

/// Keeps sessions' access tokens fresh. Cheap to clone (shared parts).
#[derive(Clone)]
pub(crate) struct Refresher {
    settings: RefreshSettings,
    vault: Vault,
    store: Arc<dyn SessionStore>,
    provider: Arc<ProviderHandle>,
    metrics: Arc<Metrics>,
    gates: Cache<String, Arc<Mutex<()>>>,
    /// Refresh results not saved yet, keyed by `<session hash>:<previous
    /// version>`. With rotating refresh tokens the old refresh token is
    /// already dead, so the next attempt on this pod finishes these instead
    /// of refreshing again.
    held: Cache<String, Held>,
}

/// A refresh result waiting on this pod for its next attempt.
#[derive(Clone)]
enum Held {
    /// Validated, but the write-back failed (store outage).
    Unsaved(Arc<SessionData>),
    /// Its new ID token names a key the provider does not publish yet.
    Unverified(Arc<exchange::Unverified>),
}

// === impl Refresher ===

impl Refresher {
    /// A refresher over the app's store, provider and metrics.
    pub(crate) fn new(
        settings: RefreshSettings,
        vault: Vault,
        store: Arc<dyn SessionStore>,
        provider: Arc<ProviderHandle>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let gates = Cache::builder()
            .time_to_idle(Duration::from_secs(120))
            .build();
        let held = Cache::builder()
            .time_to_live(Duration::from_secs(300))
            .max_capacity(10_000)
            .build();
        Self {
            settings,
            vault,
            store,
            provider,
            metrics,
            gates,
            held,
        }
    }

    /// Due when the token expires within the skew. For tokens shorter-lived
    /// than twice the skew, the skew shrinks to half their lifetime, so
    /// 20-second tokens are not refreshed on every request.
    fn needs_refresh(&self, data: &SessionData) -> bool {
        let configured = i64::try_from(self.settings.skew.as_secs()).unwrap_or(i64::MAX);
        let lifetime = data.access_expires_at.saturating_sub(data.access_issued_at);
        let skew = if data.access_issued_at > 0 {
            configured.min(lifetime / 2)
        } else {
            configured
        };
        data.access_expires_at.saturating_sub(skew) <= now_unix()
    }

    /// Returns `data` with an access token that is not about to expire,
    /// refreshing it if needed (see the module docs for the rules).
    pub(crate) async fn ensure_fresh(
        &self,
        id: &SessionId,
        data: SessionData,
    ) -> Result<SessionData, Error> {
        if !self.needs_refresh(&data) {
            return Ok(data);
        }
        if data.refresh_token.is_none() {
            return usable_or(data, Error::Unauthenticated);
        }
        let gate = self
            .gates
            .get_with(id.hash(), async { Arc::new(Mutex::new(())) })
            .await;
        let _turn = gate.lock().await;
        let current = self.reload(id).await?;
        if !self.needs_refresh(&current) {
            self.record(id, Outcome::Joined);
            return Ok(current);
        }
        self.refresh_across_pods(id, current)
            .instrument(tracing::debug_span!("refresh"))
            .await
    }

    async fn reload(&self, id: &SessionId) -> Result<SessionData, Error> {
        self.vault
            .load_fresh(id)
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Takes the cross-pod lock or waits (bounded) for its holder's result.
    async fn refresh_across_pods(
        &self,
        id: &SessionId,
        current: SessionData,
    ) -> Result<SessionData, Error> {
        let deadline = Instant::now() + self.settings.wait;
        loop {
            match lock::try_acquire(&self.store, id, self.settings.lease).await {
                Ok(Some(held)) => {
                    // Spawned: a client that disconnects must not cancel a
                    // refresh halfway (rotated token lost, lock left held).
                    let (this, id) = (self.clone(), id.clone());
                    let task = tokio::spawn(
                        async move {
                            let result = this.refresh_locked(&id).await;
                            held.release().await;
                            result
                        }
                        // Still part of this request's `refresh` span.
                        .in_current_span(),
                    );
                    return task.await.unwrap_or(Err(Error::RefreshUnavailable));
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(session = %id.log_id(), error = %err, "refresh lock unavailable");
                    self.record(id, Outcome::TransientFailure);
                    return usable_or(current, Error::RefreshUnavailable);
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
            let latest = self.reload(id).await?;
            if latest.version > current.version && !self.needs_refresh(&latest) {
                self.record(id, Outcome::Waited);
                return Ok(latest);
            }
            if Instant::now() >= deadline {
                self.record(id, Outcome::LockTimeout);
                return usable_or(latest, Error::RefreshUnavailable);
            }
        }
    }

    /// Holding the lock: re-read (another pod may just have finished),
    /// refresh, and write back with compare-and-set.
    async fn refresh_locked(&self, id: &SessionId) -> Result<SessionData, Error> {
        let latest = self.reload(id).await?;
        if !self.needs_refresh(&latest) {
            self.record(id, Outcome::Waited);
            return Ok(latest);
        }
        let held = self.held.remove(&held_key(id, latest.version)).await;
        let pending = match held {
            Some(Held::Unsaved(next)) => {
                let next = Arc::unwrap_or_clone(next);
                return self.write_back(id, &latest, next).await;
            }
            Some(Held::Unverified(pending)) => Some(pending),
            None => None,
        };
        let Some(provider) = self.provider.current() else {
            self.record(id, Outcome::TransientFailure);
            return usable_or(latest, Error::RefreshUnavailable);
        };
        let result = match pending {
            Some(pending) => {
                let pending = Arc::unwrap_or_clone(pending);
                exchange::settle(&self.provider, &provider, &latest, pending).await
            }
            None => exchange::refresh(&self.provider, &provider, &latest).await,
        };
        self.conclude(id, latest, result).await
    }

    /// Saves, ends or keeps the session after a refresh attempt.
    async fn conclude(
        &self,
        id: &SessionId,
        latest: SessionData,
        result: Result<SessionData, RefreshFailure>,
    ) -> Result<SessionData, Error> {
        match result {
            Ok(next) => self.write_back(id, &latest, next).await,
            Err(RefreshFailure::Fatal(reason)) => {
                tracing::info!(session = %id.log_id(), reason, "refresh refused by the provider; ending the session");
                self.record(id, Outcome::InvalidGrant);
                self.vault.end(id).await?;
                Err(Error::Unauthenticated)
            }
            Err(RefreshFailure::Transient(reason)) => {
                tracing::warn!(session = %id.log_id(), reason, "refresh failed; session kept");
                self.record(id, Outcome::TransientFailure);
                usable_or(latest, Error::RefreshUnavailable)
            }
            Err(RefreshFailure::Unverified(pending)) => {
                tracing::warn!(session = %id.log_id(), "refreshed ID token names a signing key the provider does not publish yet; tokens held unsaved");
                self.held
                    .insert(
                        held_key(id, latest.version),
                        Held::Unverified(Arc::from(pending)),
                    )
                    .await;
                self.record(id, Outcome::TransientFailure);
                usable_or(latest, Error::RefreshUnavailable)
            }
        }
    }

    /// Compare-and-set write-back. If the conflicting write was only an
    /// activity touch (same tokens), our tokens are re-applied on top of it:
    /// losing a rotated refresh token would end the session later.
    async fn write_back(
        &self,
        id: &SessionId,
        previous: &SessionData,
        next: SessionData,
    ) -> Result<SessionData, Error> {
        let (mut base, mut candidate) = (previous.clone(), next);
        for _attempt in 0..3 {
            let written = match self.vault.replace(id, base.version, &candidate).await {
                Ok(written) => written,
                Err(err) => {
                    self.record(id, Outcome::TransientFailure);
                    self.held
                        .insert(
                            held_key(id, base.version),
                            Held::Unsaved(Arc::new(candidate)),
                        )
                        .await;
                    return Err(err.into());
                }
            };
            match written {
                Cas::Swapped => {
                    self.record(id, Outcome::Success);
                    return Ok(candidate);
                }
                // Logged out while we refreshed: stay logged out.
                Cas::Missing => return Err(Error::Unauthenticated),
                Cas::Conflict => {}
            }
            let latest = self.reload(id).await?;
            if latest.refresh_token != base.refresh_token
                || latest.access_token != base.access_token
            {
                // Another refresh won (our lease ran out mid-refresh): use it.
                self.record(id, Outcome::Joined);
                return Ok(latest);
            }
            candidate = with_tokens_of(&latest, &candidate);
            base = latest;
        }
        self.record(id, Outcome::TransientFailure);
        usable_or(base, Error::RefreshUnavailable)
    }

    fn record(&self, id: &SessionId, outcome: Outcome) {
        self.metrics.refresh(outcome);
        tracing::debug!(session = %id.log_id(), outcome = ?outcome, "token refresh");
    }
}

/// `latest` (e.g. after an activity touch) carrying `fresh`'s tokens.
fn with_tokens_of(latest: &SessionData, fresh: &SessionData) -> SessionData {
    let mut merged = latest.clone();
    merged.version = latest.version + 1;
    merged.access_token.clone_from(&fresh.access_token);
    merged.access_expires_at = fresh.access_expires_at;
    merged.access_issued_at = fresh.access_issued_at;
    merged.refresh_token.clone_from(&fresh.refresh_token);
    merged.id_token.clone_from(&fresh.id_token);
    merged
}

fn held_key(id: &SessionId, version: u64) -> String {
    format!("{}:{version}", id.hash())
}

/// The session if its access token is still valid, else `err`.
fn usable_or(data: SessionData, err: Error) -> Result<SessionData, Error> {
    if data.access_expires_at > now_unix() {
        Ok(data)
    } else {
        Err(err)
    }
}
