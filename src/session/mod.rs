//! Sessions: the opaque session ID, the encrypted token bundle, the
//! cookie codec, and the stores that hold sealed records.
//!
//! Invariants: the raw session ID exists only in the browser's cookie and
//! in memory while a request runs; stores see the key names of [`keys`] and
//! AES-256-GCM envelopes ([`crate::crypto`]). Lifetimes are absolute: a
//! session's store TTL is set at login and never extended.

pub(crate) mod cache;
pub(crate) mod census;
pub(crate) mod cookie;
pub(crate) mod data;
pub(crate) mod id;
pub(crate) mod key_holders;
pub(crate) mod keys;
pub(crate) mod meta;
pub(crate) mod store;
pub(crate) mod vault;

pub use data::{DisplayClaims, DpopMaterial, SessionData};
pub use id::SessionId;
pub(crate) use store::SessionStore;
pub use store::StoreError;
pub(crate) use vault::{Loaded, PendingLogin, Vault};

/// Seconds since the Unix epoch (session timestamps are stored this way).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
