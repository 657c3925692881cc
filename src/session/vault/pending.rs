//! Pending logins: sealed `{pkce_verifier, nonce, return_to, binding}`
//! records between `/auth/login` and `/auth/callback`, 10 minutes, used once.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::super::keys;
use super::super::{SessionStore, StoreError};
use crate::crypto::Keyring;

/// How long a started login may take (architecture: pending logins, 10 min).
const PENDING_LOGIN_TTL: Duration = Duration::from_secs(600);

/// A started login, parked server-side between `/auth/login` and
/// `/auth/callback` (RFC 9700 §2.1.1: verifier and nonce per transaction,
/// bound to the browser).
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PendingLogin {
    /// PKCE code verifier (RFC 7636 §4.1).
    pub(crate) pkce_verifier: String,
    /// The `nonce` sent in the authorization request.
    pub(crate) nonce: String,
    /// Validated local path to return to.
    pub(crate) return_to: String,
    /// `hash22` of the browser-binding cookie value.
    pub(crate) binding_hash: String,
    /// Hash of the session the browser had when the login started: ended
    /// at the callback, whose cross-site redirect carries no `SameSite=Strict`
    /// cookie (session fixation, ASVS 5 §7.2.4).
    #[serde(default)]
    pub(crate) previous_session: Option<String>,
}

/// Parks a pending login under `bff:login:{hash(state)}` for 10 minutes.
pub(super) async fn put(
    store: &dyn SessionStore,
    keyring: &Keyring,
    state: &str,
    pending: &PendingLogin,
) -> Result<(), StoreError> {
    let key = keys::pending_login(state);
    let plain = zeroize::Zeroizing::new(
        rmp_serde::to_vec_named(pending)
            .map_err(|_err| StoreError("cannot encode login".into()))?,
    );
    let sealed = keyring
        .seal(state.as_bytes(), key.as_bytes(), &plain)
        .map_err(|_err| StoreError("cannot seal login".into()))?;
    store.put(&key, sealed, PENDING_LOGIN_TTL).await
}

/// Reads the pending login for `state` without using it up.
pub(super) async fn peek(
    store: &dyn SessionStore,
    keyring: &Keyring,
    state: &str,
) -> Result<Option<PendingLogin>, StoreError> {
    let key = keys::pending_login(state);
    let Some(sealed) = store.get(&key).await? else {
        return Ok(None);
    };
    Ok(open(keyring, state, &key, &sealed))
}

/// Takes (reads and deletes, one use) the pending login for `state`.
pub(super) async fn take(
    store: &dyn SessionStore,
    keyring: &Keyring,
    state: &str,
) -> Result<Option<PendingLogin>, StoreError> {
    let key = keys::pending_login(state);
    let Some(sealed) = store.take(&key).await? else {
        return Ok(None);
    };
    Ok(open(keyring, state, &key, &sealed))
}

fn open(keyring: &Keyring, state: &str, key: &str, sealed: &[u8]) -> Option<PendingLogin> {
    let Ok(plain) = keyring.open(state.as_bytes(), key.as_bytes(), sealed) else {
        tracing::warn!("pending login failed integrity check");
        return None;
    };
    rmp_serde::from_slice(&plain).ok()
}
