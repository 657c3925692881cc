//! The validated configuration tree: plain data, built once by
//! [`super::load`] and shared immutably.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::parse::Cidr;
use super::routes::RouteConfig;
use super::secret::Secret;
use crate::crypto::Keyring;
use crate::signing::client_keys::ClientKeys;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public listener (`BFF_LISTEN`, default `0.0.0.0:8080`).
    pub listen: SocketAddr,
    /// Admin listener (`BFF_ADMIN_LISTEN`, default `127.0.0.1:9091`).
    pub admin_listen: SocketAddr,
    /// External origin, without a trailing slash (`BFF_PUBLIC_URL`).
    pub public_origin: String,
    /// OpenID Connect client settings.
    pub oidc: OidcConfig,
    /// Session settings.
    pub session: SessionConfig,
    /// Proxy settings.
    pub proxy: ProxyConfig,
    /// Bearer token for the admin session API (`None` = API disabled).
    pub admin_token: Option<Secret>,
    /// `json` or `pretty` (`BFF_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Longest client silence while sending headers, between kept-alive
    /// requests, or mid-body (`BFF_CLIENT_IDLE_TIMEOUT`, default 10 s).
    pub client_idle_timeout: Duration,
    /// After SIGTERM, how long to keep serving with `/readyz` at 503
    /// (`BFF_SHUTDOWN_DELAY`, default 5 s).
    pub shutdown_delay: Duration,
    /// How long in-flight requests may take once accepting stopped
    /// (`BFF_SHUTDOWN_GRACE`, default 20 s).
    pub shutdown_grace: Duration,
    /// Worker threads serving the public listener (`BFF_WORKERS`,
    /// default 1, `auto` = one per CPU).
    pub workers: usize,
    /// Most client connections open at once on the public listener
    /// (`BFF_MAX_CONNECTIONS`, default 10,000).
    pub max_connections: usize,
    /// Logins and callbacks a second per client address (`BFF_LOGIN_RATE`,
    /// default 10; 0 = no limit).
    pub login_rate: u32,
    /// Burst allowed before `login_rate` applies (`BFF_LOGIN_BURST`, default 50).
    pub login_burst: u32,
}

/// OpenID Connect client settings.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Issuer URL, compared exactly with discovery's `issuer` (OIDC Discovery §4.3).
    pub issuer_url: String,
    /// An `http://` issuer was explicitly allowed.
    pub allow_insecure_issuer: bool,
    /// OAuth client ID.
    pub client_id: String,
    /// Client authentication, PAR and the security profile (confidential
    /// client, BBA §6.1.3.1).
    pub client: ClientSecurity,
    /// Whether access tokens are DPoP-bound (RFC 9449): some route has
    /// `dpop = true`, or the profile is `fapi2`.
    pub dpop: bool,
    /// Scopes requested at login (always includes `openid`).
    pub scopes: Vec<String>,
    /// `<public origin>/auth/callback`.
    pub redirect_url: String,
    /// Where the provider returns the browser after logout (from config only).
    pub post_logout_redirect: String,
    /// Refresh when the access token expires within this window.
    pub refresh_skew: Duration,
    /// Timeout of each provider request (→ 504 at login, 503 on refresh).
    pub provider_timeout: Duration,
    /// Longest wait for another pod's refresh of the same session.
    pub refresh_wait: Duration,
    /// Lease of the cross-pod refresh lock.
    pub refresh_lock_lease: Duration,
}

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Encryption keys; the first encrypts, all decrypt.
    pub keys: Keyring,
    /// Absolute lifetime from login; never extended.
    pub ttl: Duration,
    /// Idle timeout (`None` = off); activity slides it, never past `ttl`.
    pub idle_timeout: Option<Duration>,
    /// Cookie name (`__Host-bff` unless insecure dev mode).
    pub cookie_name: String,
    /// `Secure` attribute on cookies (off only in insecure dev mode).
    pub secure_cookies: bool,
    /// Redis URL; `None` selects the in-memory store.
    pub redis_url: Option<Secret>,
    /// How to reach Redis: TLS files and timeouts.
    pub redis: RedisOptions,
    /// The in-process session cache (Redis only).
    pub cache: CacheOptions,
}

/// The session cache: on or off, its staleness bound, size and outage grace.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// `BFF_SESSION_CACHE` is on (it still needs Redis with `CLIENT TRACKING`).
    pub enabled: bool,
    /// Longest a hit may be served without a fresh proof of the listener.
    pub max_staleness: Duration,
    /// Bound of the cache, in bytes of records.
    pub size_bytes: u64,
    /// Outage grace (`None` = off).
    pub outage_grace: Option<Duration>,
}

/// TLS files and timeouts of the Redis connection.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// PEM CA bundle for `rediss://` (else the system roots).
    pub ca_file: Option<String>,
    /// PEM client certificate (mutual TLS).
    pub client_cert_file: Option<String>,
    /// PEM private key of the client certificate.
    pub client_key_file: Option<String>,
    /// Connect and TLS handshake timeout.
    pub connect_timeout: Duration,
    /// Reply timeout of each command.
    pub command_timeout: Duration,
    /// Plain `redis://` to a non-loopback host was explicitly allowed.
    pub allow_plaintext: bool,
    /// Sentinel addresses (`host:port`); empty = no Sentinel.
    pub sentinels: Vec<String>,
    /// The Sentinel group (master name).
    pub sentinel_master: String,
    /// Password of the sentinels themselves (not of the data nodes).
    pub sentinel_password: Option<Secret>,
    /// The sentinels speak TLS (with the same CA and client certificate).
    pub sentinel_tls: bool,
    /// Replicas that must acknowledge session writes (`WAIT`); 0 = none.
    pub min_replicas_ack: u32,
    /// Redis Cluster seed nodes (`host:port`); empty = no Cluster.
    pub cluster_nodes: Vec<String>,
}

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Routes, longest prefix first.
    pub routes: Vec<RouteConfig>,
    /// Origins allowed to send credentialed cross-origin requests.
    pub allowed_origins: Vec<String>,
    /// Peers whose `X-Forwarded-*` headers are trusted.
    pub trusted_proxies: Vec<Cidr>,
    /// bff sets `X-Auth-Request-*` from the session's ID token claims.
    pub identity_headers: bool,
    /// Anti-CSRF header name (lowercase), default `x-csrf`.
    pub csrf_header: http::HeaderName,
    /// How often an open WebSocket re-checks its session
    /// (`BFF_WS_SESSION_CHECK`, default 5 s).
    pub ws_session_check: Duration,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (default).
    Json,
    /// Human-readable lines.
    Pretty,
}

impl Default for RedisOptions {
    /// No TLS files, 2 s timeouts (the settings' defaults).
    fn default() -> Self {
        Self {
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(2),
            allow_plaintext: false,
            sentinels: Vec::new(),
            sentinel_master: "mymaster".into(),
            sentinel_password: None,
            sentinel_tls: false,
            min_replicas_ack: 0,
            cluster_nodes: Vec::new(),
        }
    }
}

/// How bff authenticates at the token, PAR and revocation endpoints.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// `client_secret_basic` or `_post` (RFC 6749 §2.3.1).
    Secret(Secret),
    /// A signed assertion (RFC 7523 §2.2, OIDC Core §9 `private_key_jwt`).
    PrivateKeyJwt(Arc<ClientKeys>),
}

/// The `aud` of a client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAudience {
    /// The issuer identifier (FAPI 2.0 §5.3.2.1; RFC 7523 §3 allows it).
    Issuer,
    /// The URL of the endpoint the assertion is sent to.
    Endpoint,
}

/// When the login uses a Pushed Authorization Request (RFC 9126).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParMode {
    /// When discovery advertises `pushed_authorization_request_endpoint`.
    Auto,
    /// Always; the provider must advertise the endpoint.
    Required,
    /// Never.
    Off,
}

/// The security profile bff enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProfile {
    /// What each setting says.
    Standard,
    /// FAPI 2.0 Security Profile: PAR, `private_key_jwt`, DPoP, PKCE S256,
    /// the `iss` response parameter, ES256/PS256 ID tokens.
    Fapi2,
}

/// The client security settings, checked.
#[derive(Debug, Clone)]
pub struct ClientSecurity {
    /// Client authentication.
    pub auth: ClientAuth,
    /// `aud` of client assertions.
    pub audience: AssertionAudience,
    /// PAR use.
    pub par: ParMode,
    /// The enforced profile.
    pub profile: SecurityProfile,
}

impl ClientSecurity {
    /// The `kid` that signs client assertions, if any.
    pub fn signing_kid(&self) -> Option<&str> {
        match &self.auth {
            ClientAuth::Secret(_) => None,
            ClientAuth::PrivateKeyJwt(keys) => Some(keys.signing_kid()),
        }
    }

    /// `issuer` or `endpoint`.
    pub fn audience_name(&self) -> &'static str {
        match self.audience {
            AssertionAudience::Issuer => "issuer",
            AssertionAudience::Endpoint => "endpoint",
        }
    }

    /// `auto`, `required` or `off`.
    pub fn par_name(&self) -> &'static str {
        match self.par {
            ParMode::Auto => "auto",
            ParMode::Required => "required",
            ParMode::Off => "off",
        }
    }

    /// `none` or `fapi2`.
    pub fn profile_name(&self) -> &'static str {
        match self.profile {
            SecurityProfile::Standard => "none",
            SecurityProfile::Fapi2 => "fapi2",
        }
    }

    /// Whether this configuration sends a client secret.
    pub fn secret(&self) -> Option<&Secret> {
        match &self.auth {
            ClientAuth::Secret(secret) => Some(secret),
            ClientAuth::PrivateKeyJwt(_) => None,
        }
    }
}
