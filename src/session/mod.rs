//! Sessions: the opaque session ID, the encrypted token bundle, the
//! cookie codec, and the stores that hold sealed records.
//!
//! Invariants: the raw session ID exists only in the browser's cookie and
//! in memory while a request runs; stores see `bff:s:{<hash>}` keys and
//! AES-256-GCM envelopes ([`crate::crypto`]). Lifetimes are absolute: a
//! session's store TTL is set at login and never extended.

pub mod cookie;
pub mod data;
pub mod id;
pub mod index;
pub mod store;
pub mod vault;

pub use data::{DisplayClaims, SessionData};
pub use id::SessionId;
pub use store::{SessionStore, StoreError};
pub use vault::{PendingLogin, Vault};

/// Seconds since the Unix epoch (session timestamps are stored this way).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
