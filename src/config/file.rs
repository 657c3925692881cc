//! The optional TOML configuration file (`--config`): the same settings as
//! the flags (keys are the env names without `BFF_`, lowercased) plus the
//! route table, which only the file can express.

use serde::Deserialize;

/// Settings read from the TOML file; unknown keys are an error so typos
/// are caught at start-up.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub public_url: Option<String>,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_file: Option<String>,
    pub scopes: Option<String>,
    pub upstream: Option<String>,
    pub redis_url: Option<String>,
    pub session_keys: Option<String>,
    pub session_keys_file: Option<String>,
    pub session_ttl: Option<String>,
    pub session_idle_timeout: Option<String>,
    pub admin_token: Option<String>,
    pub admin_token_file: Option<String>,
    pub refresh_skew: Option<String>,
    pub refresh_wait: Option<String>,
    pub provider_timeout: Option<String>,
    pub refresh_lock_lease: Option<String>,
    pub cookie_name: Option<String>,
    pub insecure_dev_cookies: Option<bool>,
    pub allowed_origins: Option<String>,
    pub trusted_proxies: Option<String>,
    pub post_logout_redirect: Option<String>,
    pub csrf_header: Option<String>,
    pub log_format: Option<String>,
    pub client_idle_timeout: Option<String>,
    pub ws_session_check: Option<String>,
    pub workers: Option<String>,
    #[serde(default)]
    pub routes: Vec<FileRoute>,
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRoute {
    /// Path prefix this route serves (must start with `/`).
    pub prefix: String,
    /// Upstream base URL (`http` or `https`).
    pub upstream: String,
    /// `required` (default), `optional` or `none`.
    pub auth: Option<String>,
    /// Remove `prefix` from the path before forwarding.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Allowed methods; empty means all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Upstream response timeout, e.g. `30s` (default `30s`).
    pub timeout: Option<String>,
    /// Largest request body, e.g. `10MiB` (the default), `512KiB`, `0`.
    pub max_body: Option<String>,
    /// Accept WebSocket upgrades on this route (default `false`).
    #[serde(default)]
    pub websocket: bool,
    /// PEM file of CA certificates that replace the public roots for an
    /// `https` upstream signed by a private CA.
    pub ca_file: Option<String>,
}
