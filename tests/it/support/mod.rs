//! Shared integration-test support: fake IdP, echo upstream, throwaway Redis,
//! a test HTTP client/server, and JWT signing for forged-token tests.
//!
//! Declare it as `pub mod support;` in the test crate root: in a test binary
//! `pub` items of a private module trip `unreachable_pub`, and a `pub` path
//! from the root also keeps helpers that a given build does not call from
//! tripping `dead_code`.

// clippy's allow-*-in-tests only covers `#[test]` fns and `#[cfg(test)]` mods, not helpers.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test support fails the calling test loudly instead of returning errors"
)]

pub mod certs;
pub mod cluster;
pub mod dpop;
pub mod dpop_upstream;
pub mod fake_idp;
pub mod harness;
pub mod http;
pub mod jwt;
pub mod load;
pub mod logs;
pub mod metrics;
pub mod otlp;
pub mod process;
pub mod redis_server;
pub mod relay;
pub mod sentinel;
pub mod stream_upstream;
pub mod upstream;
pub mod ws_upstream;
