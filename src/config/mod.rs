//! The one validated configuration tree.
//!
//! Every setting is declared once, in the table of `settings.rs`: flag,
//! `BFF_*` variable, TOML key, default, secrecy and doc. Pipeline
//! (sozu/linkerd style): [`Args`] (flags + env, strings) and an optional
//! TOML [`FileConfig`] are merged (flag > env > file > default), then
//! [`Config::load`] validates everything up front (URLs, key sizes,
//! durations, cookie-prefix rules) into an immutable [`Config`]. A bad
//! setting is a [`ConfigError`] naming the setting; `main` exits 64.

mod args;
mod cache;
mod client;
mod declare;
mod error;
mod file;
mod load;
mod model;
pub mod parse;
mod redact;
mod redis;
mod routes;
mod secret;
mod settings;
mod show;
mod validate;

pub use args::{Command, SessionsAction};
pub use error::ConfigError;
pub use file::FileRoute;
pub use model::{
    AssertionAudience, CacheOptions, ClientAuth, ClientSecurity, Config, LogFormat, OidcConfig,
    ParMode, ProxyConfig, RedisOptions, SecurityProfile, SessionConfig,
};
pub use parse::Cidr;
pub use routes::{AuthMode, DEFAULT_MAX_BODY, DEFAULT_ROUTE_TIMEOUT, RouteConfig};
pub use secret::Secret;
pub use settings::{Args, FileConfig};
