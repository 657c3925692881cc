//! bff: an authentication backend-for-frontend proxy.
//!
//! Browsers hold only an opaque session cookie; bff runs the OpenID Connect
//! login, keeps the tokens encrypted in a session store (Redis or memory),
//! and reverse-proxies API calls with `Authorization: Bearer` injected.
//! [`start`] builds and runs everything from one validated
//! [`config::Config`].
//!
//! The public surface is what the `bff` binary and the integration tests
//! use, re-exported here; every module is crate-private. The module map
//! and the request pipeline are in `ARCHITECTURE.md`.

mod access_note;
mod admin;
mod app;
mod auth;
pub mod config;
mod crypto;
mod edge;
mod error;
mod forwarded;
/// Entry points for the fuzz targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub mod fuzzing;
mod http_client;
mod http_util;
mod metrics;
mod oidc;
mod pages;
mod per_worker;
mod proxy;
mod refresh;
mod request_id;
mod route_table;
mod server;
mod session;
mod signing;
mod state;
pub mod telemetry;
mod throttle;
mod trace_context;
mod worker;

pub use app::{Running, StartError, install_crypto_provider, start};
pub use crypto::Keyring;
pub use metrics::RefreshOutcome;
pub use session::{DisplayClaims, DpopMaterial, SessionData, SessionId, StoreError, now_unix};

/// bff's cookie codec, for property tests of the parser.
pub mod cookie {
    pub use crate::session::cookie::{CookieNames, Lookup, lookup, without_ours};
}

/// The session-store contract and both backends, for the suite that runs
/// the same cases against each.
pub mod store {
    pub use crate::session::store::memory::MemoryStore;
    pub use crate::session::store::redis::RedisStore;
    pub use crate::session::store::{BoxFuture, Cas, NewSession, SessionStore, Swap};

    /// Store key names ([`crate::session::keys`]).
    pub mod keys {
        pub use crate::session::keys::{meta, record, refresh_lock};
    }
}
