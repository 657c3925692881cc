//! Command-line flags and `BFF_*` environment variables (clap derive + env).
//!
//! Everything here is a raw string or flag; validation happens in
//! [`super::Config::load`]. Tests build `Args` with `Args::try_parse_from`
//! and never touch the process environment.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Raw settings as given on the command line or in the environment.
/// Precedence: flag > environment > TOML file (`--config`) > default.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "bff",
    version,
    about = "Authentication backend-for-frontend proxy"
)]
pub struct Args {
    /// TOML configuration file (routes and any setting below).
    #[arg(long, env = "BFF_CONFIG")]
    pub config: Option<PathBuf>,
    /// Validate the configuration, print it with secrets redacted, and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Public listener address (default `0.0.0.0:8080`).
    #[arg(long, env = "BFF_LISTEN")]
    pub listen: Option<String>,
    /// Admin listener address for health and metrics (default `127.0.0.1:9091`).
    #[arg(long, env = "BFF_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,
    /// External origin browsers use, e.g. `https://app.example.com`.
    #[arg(long, env = "BFF_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// OpenID provider issuer URL (discovery at `/.well-known/openid-configuration`).
    #[arg(long, env = "BFF_ISSUER_URL")]
    pub issuer_url: Option<String>,
    /// OAuth client ID registered at the provider.
    #[arg(long, env = "BFF_CLIENT_ID")]
    pub client_id: Option<String>,
    /// OAuth client secret (prefer `BFF_CLIENT_SECRET_FILE`).
    #[arg(long, env = "BFF_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// File holding the client secret.
    #[arg(long, env = "BFF_CLIENT_SECRET_FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Space-separated scopes (default `openid profile email`).
    #[arg(long, env = "BFF_SCOPES")]
    pub scopes: Option<String>,
    /// Upstream URL of the default route `/`.
    #[arg(long, env = "BFF_UPSTREAM")]
    pub upstream: Option<String>,
    /// Redis URL (`redis://` or `rediss://`); unset means the in-memory store.
    #[arg(long, env = "BFF_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Session encryption keys, `id:base64key,…`; the first one encrypts.
    #[arg(long, env = "BFF_SESSION_KEYS", hide_env_values = true)]
    pub session_keys: Option<String>,
    /// File holding the session keys.
    #[arg(long, env = "BFF_SESSION_KEYS_FILE")]
    pub session_keys_file: Option<PathBuf>,
    /// Absolute session lifetime, never extended (default `8h`).
    #[arg(long, env = "BFF_SESSION_TTL")]
    pub session_ttl: Option<String>,
    /// Idle timeout: sessions unused this long end (default: off).
    #[arg(long, env = "BFF_SESSION_IDLE_TIMEOUT")]
    pub session_idle_timeout: Option<String>,
    /// Bearer token protecting the admin session API (prefer the file).
    #[arg(long, env = "BFF_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// File holding the admin token.
    #[arg(long, env = "BFF_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Refresh access tokens that expire within this window (default `60s`).
    #[arg(long, env = "BFF_REFRESH_SKEW")]
    pub refresh_skew: Option<String>,
    /// Timeout of each request to the provider (discovery, token) (default `10s`).
    #[arg(long, env = "BFF_PROVIDER_TIMEOUT")]
    pub provider_timeout: Option<String>,
    /// Longest a request waits for another pod's refresh of the same
    /// session before falling back (default `10s`).
    #[arg(long, env = "BFF_REFRESH_WAIT")]
    pub refresh_wait: Option<String>,
    /// Lease of the cross-pod refresh lock; a crashed holder blocks others
    /// at most this long (default `15s`).
    #[arg(long, env = "BFF_REFRESH_LOCK_LEASE")]
    pub refresh_lock_lease: Option<String>,
    /// Session cookie name (default `__Host-bff`, or `bff` in insecure dev mode).
    #[arg(long, env = "BFF_COOKIE_NAME")]
    pub cookie_name: Option<String>,
    /// Plain-http local development: no `Secure`, no `__Host-` prefix.
    #[arg(long, env = "BFF_INSECURE_DEV_COOKIES", num_args = 0..=1, default_missing_value = "true")]
    pub insecure_dev_cookies: Option<bool>,
    /// Comma-separated origins allowed to call bff with credentials.
    #[arg(long, env = "BFF_ALLOWED_ORIGINS")]
    pub allowed_origins: Option<String>,
    /// Comma-separated CIDRs whose forwarding headers are trusted.
    #[arg(long, env = "BFF_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Where the provider sends the browser after logout
    /// (default `<public_url>/auth/logged-out`).
    #[arg(long, env = "BFF_POST_LOGOUT_REDIRECT")]
    pub post_logout_redirect: Option<String>,
    /// Name of the anti-CSRF request header (default `X-CSRF`).
    #[arg(long, env = "BFF_CSRF_HEADER")]
    pub csrf_header: Option<String>,
    /// Log format: `json` or `pretty` (default `json`).
    #[arg(long, env = "BFF_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Advanced: how long a client may stay silent while sending request
    /// headers, between requests on a kept-alive connection, or mid-body
    /// (default `10s`; slowloris defence).
    #[arg(long, env = "BFF_CLIENT_IDLE_TIMEOUT")]
    pub client_idle_timeout: Option<String>,
    /// Advanced: how often an open WebSocket re-checks its session in the
    /// store; the socket closes once the session is gone (default `5s`).
    #[arg(long, env = "BFF_WS_SESSION_CHECK")]
    pub ws_session_check: Option<String>,
    /// Advanced: worker threads serving the public listener, each with its
    /// own connections, Redis connection and upstream pool: a number, or
    /// `auto` for one per CPU (default 1; scale out with replicas).
    #[arg(long, env = "BFF_WORKERS")]
    pub workers: Option<String>,
    /// Subcommands; without one, bff serves.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands besides serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Probe the admin listener's `/healthz` (for container HEALTHCHECKs).
    Healthcheck,
    /// Manage sessions through the admin API (needs `BFF_ADMIN_TOKEN`).
    Sessions {
        /// What to do.
        #[command(subcommand)]
        action: SessionsAction,
    },
}

/// `bff sessions …` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum SessionsAction {
    /// List a user's sessions (hash, created, expiry, last seen).
    List {
        /// The user's `sub`.
        #[arg(long)]
        sub: String,
    },
    /// Revoke one session by its hash, or all sessions of a user.
    Revoke {
        /// Session hash from `bff sessions list`.
        #[arg(long, conflicts_with = "sub", required_unless_present = "sub")]
        session: Option<String>,
        /// Revoke every session of this `sub`.
        #[arg(long)]
        sub: Option<String>,
    },
    /// Number of active sessions.
    Count,
}
