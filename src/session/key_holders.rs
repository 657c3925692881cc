//! Which session master keys the live pods hold, shared through the store.
//!
//! A pod that meets a record sealed with a key it lacks must tell a key
//! rotation in progress (another live pod holds the key: answer 503 and
//! keep the cookie, so a rolling update never destroys a session a newer
//! pod can read) from a removed key (no pod holds it: the session is over,
//! 401). Every pod announces each of its key ids every 20 s, with a 60 s
//! lifetime, so a key is "removed" at most a minute after its last holder
//! stopped. Key ids are not secret; key material never leaves the pod.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::keys;
use super::{SessionStore, StoreError};
use crate::crypto::Keyring;

/// How often a pod renews its announcements.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(20);
/// How long an announcement outlives its pod.
const LIFETIME: Duration = Duration::from_secs(60);

/// Announces every key of `keyring` once.
pub(crate) async fn announce(
    store: &dyn SessionStore,
    keyring: &Keyring,
) -> Result<(), StoreError> {
    for id in keyring.ids() {
        store
            .put(&keys::key_holder(id), b"1".to_vec(), LIFETIME)
            .await?;
    }
    Ok(())
}

/// Whether some live pod announced key `id`.
pub(crate) async fn held(store: &dyn SessionStore, id: &str) -> Result<bool, StoreError> {
    Ok(store.get(&keys::key_holder(id)).await?.is_some())
}

/// Announces now and every 20 s until `shutdown`; a failed round (store
/// down) is logged and retried at the next one.
pub(crate) fn spawn(
    store: Arc<dyn SessionStore>,
    keyring: Keyring,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(err) = announce(store.as_ref(), &keyring).await {
                tracing::warn!(error = %err, "could not announce the session keys this pod holds");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(ANNOUNCE_EVERY) => {}
            }
        }
    })
}
