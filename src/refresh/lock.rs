//! The cross-pod refresh lock: `SET NX PX` with a random token, a lease
//! renewed in the background while the refresh runs, and release by
//! compare-and-delete, so a pod that dies holding it blocks others for at
//! most one lease (security case F4).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::{CancellationToken, DropGuard};

use crate::session::keys;
use crate::session::{SessionId, SessionStore, StoreError};

/// A held lock; released by [`HeldLock::release`] (or by lease expiry).
pub(crate) struct HeldLock {
    store: Arc<dyn SessionStore>,
    key: String,
    token: String,
    _renewal: DropGuard,
}

/// Tries once to take the lock for `id`.
pub(crate) async fn try_acquire(
    store: &Arc<dyn SessionStore>,
    id: &SessionId,
    lease: Duration,
) -> Result<Option<HeldLock>, StoreError> {
    let key = keys::refresh_lock(&id.hash());
    let token = SessionId::generate()
        .map_err(|_err| StoreError("no OS randomness".into()))?
        .encode();
    if !store.try_lock(&key, &token, lease).await? {
        return Ok(None);
    }
    let stop = CancellationToken::new();
    spawn_renewal(
        Arc::clone(store),
        key.clone(),
        token.clone(),
        lease,
        stop.clone(),
    );
    Ok(Some(HeldLock {
        store: Arc::clone(store),
        key,
        token,
        _renewal: stop.drop_guard(),
    }))
}

/// Renews the lease every third of it until `stop` (the holder is done).
fn spawn_renewal(
    store: Arc<dyn SessionStore>,
    key: String,
    token: String,
    lease: Duration,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(lease / 3) => {}
            }
            match store.renew_lock(&key, &token, lease).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(err) => tracing::warn!(error = %err, "refresh lock renewal failed"),
            }
        }
    });
}

impl HeldLock {
    /// Stops renewing and deletes the lock if it is still ours.
    pub(crate) async fn release(self) {
        if let Err(err) = self.store.unlock(&self.key, &self.token).await {
            tracing::warn!(error = %err, "refresh lock release failed; it expires with its lease");
        }
    }
}
