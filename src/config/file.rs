//! One `[[routes]]` entry of the TOML configuration file, which only the
//! file can express. The rest of the file, [`FileConfig`](super::FileConfig)
//! (every setting under its key), is generated from the settings table.

use serde::Deserialize;

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
    /// Send the access token DPoP-bound, with a proof (RFC 9449 §7.1),
    /// instead of as a bearer (default `false`; `true` on every session
    /// route with `BFF_SECURITY_PROFILE=fapi2`, which allows no `false`).
    pub dpop: Option<bool>,
}
