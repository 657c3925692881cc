//! bff's integration tests: a real bff on real TCP against the in-process
//! fake OpenID provider (real RSA-signed tokens), a recording echo
//! upstream, and a real `redis-server` spawned on a free port.
//!
//! Test names start with the security-case ID they cover
//! (`../shared/design/security-cases.md`), e.g. `l3_…`.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns fail the calling test loudly"
)]

pub mod support;

mod abuse;
mod admin_api;
mod backchannel;
mod cli;
mod cluster;
mod cluster_load;
mod connections;
mod cookie_props;
mod csrf;
mod deployed_queries;
mod fapi;
mod faults;
mod flow;
mod framing;
mod hygiene;
mod id_token;
mod layers;
mod limits;
mod log_secrets;
mod login_attacks;
mod logout;
mod operations_metrics;
mod otel_traces;
mod proxy;
mod redis_tls;
mod refresh;
mod refresh_id_token;
mod request_metrics;
mod rolling_restart;
mod rotation;
mod sentinel;
mod sentinel_tls;
mod session_cache;
mod sessions;
mod store_contract;
mod stress;
mod trusted_proxy;
mod websocket;
mod workers;
