//! bff: an authentication backend-for-frontend proxy.
//!
//! Browsers hold only an opaque session cookie; bff runs the OpenID Connect
//! login, keeps the tokens encrypted in a session store (Redis or memory),
//! and reverse-proxies API calls with `Authorization: Bearer` injected.
//! [`app::start`] builds and runs everything from one validated
//! [`config::Config`].

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http_client;
pub mod http_util;
pub mod inbound;
pub mod metrics;
pub mod pages;
pub mod per_worker;
pub mod proxy;
pub mod router;
pub mod server;
pub mod session;
pub mod worker;
