//! Entry points for the fuzz targets in `fuzz/`; not a stable API.
//!
//! Each function is a thin wrapper over one internet-facing parser of the
//! crate (the modules themselves stay crate-private), so the targets call
//! the same code the request path runs. Errors are flattened to strings:
//! the targets only need to know that an input was refused, and why.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, Uri};
use openidconnect::core::CoreJsonWebKey;
use openidconnect::{ClientId, ClientSecret, JsonWebKeySet};

use crate::auth::return_to;
use crate::config::{AuthMode, Config, ConfigError, RouteConfig};
use crate::crypto::Keyring;
use crate::edge::{path, screen};
use crate::oidc::logout_token;
use crate::oidc::provider::Provider;
use crate::oidc::types::{BffClient, Metadata};
use crate::route_table::{self, RouteTable};
use crate::session::store::memory::MemoryStore;
use crate::session::{SessionData, SessionId, SessionStore as _, Vault};

/// The back-channel logout event a logout token must carry.
pub const BACKCHANNEL_EVENT: &str = logout_token::BACKCHANNEL_EVENT;
/// Largest logout token accepted.
pub const MAX_LOGOUT_TOKEN_BYTES: usize = logout_token::MAX_TOKEN_BYTES;

// === paths and routes ===

/// The canonical form of a request path (`edge::path::normalize`).
pub fn normalize_path(raw: &str) -> Option<String> {
    path::normalize(raw)
}

/// Screens a request for `target` (a request target as hyper parses it)
/// carrying `Host: host` over HTTP/1.1; returns the rewritten request
/// target (canonical path and original query), or why it was refused.
pub fn screen_target(target: &Uri, host: &str) -> Result<Uri, String> {
    let host = HeaderValue::from_str(host).map_err(|e| e.to_string())?;
    let mut req = Request::builder()
        .uri(target.clone())
        .header(http::header::HOST, host)
        .body(())
        .map_err(|e| e.to_string())?;
    screen::screen(&mut req).map_err(|e| e.to_string())?;
    Ok(req.uri().clone())
}

/// One route for [`Routes::new`].
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Path prefix (a validated one starts with `/` and has no `..`,
    /// `//` or `%`).
    pub prefix: String,
    /// Upstream base URL.
    pub upstream: String,
    /// Whether the prefix is removed before forwarding.
    pub strip_prefix: bool,
}

/// A route table (`route_table::RouteTable`) over plain route specs.
#[derive(Debug)]
pub struct Routes {
    table: RouteTable,
}

/// The route serving a path, and the URI the request goes to upstream.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    /// The matched route's prefix.
    pub prefix: String,
    /// The matched route's upstream base URL, as configured (parsed).
    pub upstream: url::Url,
    /// Whether the route strips its prefix.
    pub strip_prefix: bool,
    /// `route_table::upstream_uri` for the path and query, or why not.
    pub upstream_uri: Result<Uri, String>,
}

impl Routes {
    /// A table over `specs`; a spec whose upstream is not a URL is an error.
    pub fn new(specs: &[RouteSpec]) -> Result<Self, String> {
        let routes = specs
            .iter()
            .map(|spec| {
                Ok(RouteConfig {
                    prefix: spec.prefix.clone(),
                    upstream: url::Url::parse(&spec.upstream).map_err(|e| e.to_string())?,
                    auth: AuthMode::Required,
                    strip_prefix: spec.strip_prefix,
                    methods: Vec::new(),
                    timeout: Duration::from_secs(30),
                    max_body: 1024,
                    websocket: false,
                    tls: None,
                    dpop: false,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            table: RouteTable::new(routes, 1),
        })
    }

    /// The routes of a loaded configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            table: RouteTable::new(config.proxy.routes.clone(), 1),
        }
    }

    /// Classifies the canonical `path` (`RouteTable::classify`) and builds
    /// its upstream URI with `query`; `None` is a 404.
    pub fn classify(&self, path: &str, query: Option<&str>) -> Option<RouteMatch> {
        let route = self.table.classify(path).ok()?;
        Some(RouteMatch {
            prefix: route.config.prefix.clone(),
            upstream: route.config.upstream.clone(),
            strip_prefix: route.config.strip_prefix,
            upstream_uri: route_table::upstream_uri(&route.config, path, query)
                .map_err(|e| e.to_string()),
        })
    }
}

// === return_to ===

/// `auth::return_to::validate`: the path if it is a safe local target.
pub fn validate_return_to(candidate: &str) -> Option<String> {
    return_to::validate(candidate)
}

// === back-channel logout tokens ===

/// A provider built from static discovery metadata and JWKS, for
/// `oidc::logout_token::validate`.
pub struct LogoutVerifier {
    provider: Provider,
    client_id: String,
}

/// The fields of an accepted logout token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    /// Subject, if present.
    pub sub: Option<String>,
    /// Provider session ID, if present.
    pub sid: Option<String>,
    /// Token ID, if present.
    pub jti: Option<String>,
    /// Expiry (Unix seconds).
    pub exp: i64,
}

impl LogoutVerifier {
    /// A verifier for `client_id` at the provider described by the
    /// discovery document `discovery` (JSON) with the key set `jwks` (JSON).
    pub fn new(discovery: &str, jwks: &str, client_id: &str) -> Result<Self, String> {
        let metadata: Metadata = serde_json::from_str(discovery).map_err(|e| e.to_string())?;
        let jwks: JsonWebKeySet<CoreJsonWebKey> =
            serde_json::from_str(jwks).map_err(|e| e.to_string())?;
        let metadata = metadata.set_jwks(jwks.clone());
        let issuer = metadata.issuer().as_str().to_owned();
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let client = BffClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            Some(ClientSecret::new("fuzz-client-secret".to_owned())),
        );
        Ok(Self {
            provider: Provider {
                client,
                revocation: None,
                basic_auth: true,
                end_session,
                iss_parameter_supported: false,
                issuer,
                jwks,
                par: None,
                fapi2: false,
            },
            client_id: client_id.to_owned(),
        })
    }

    /// The provider's exact issuer string.
    pub fn issuer(&self) -> &str {
        &self.provider.issuer
    }

    /// `oidc::logout_token::validate` of `token` at time `now`.
    pub fn validate(&self, token: &str, now: i64) -> Result<LogoutClaims, String> {
        logout_token::validate(&self.provider, &self.client_id, token, now)
            .map(|t| LogoutClaims {
                sub: t.sub,
                sid: t.sid,
                jti: t.jti,
                exp: t.exp,
            })
            .map_err(|e| e.to_string())
    }
}

// === sealed records ===

/// A keyring (`crypto::Keyring`) and a vault over a memory store, for
/// opening sealed envelopes and session records.
pub struct Sealer {
    keys: Keyring,
    store: Arc<MemoryStore>,
    vault: Vault,
    runtime: tokio::runtime::Runtime,
}

impl Sealer {
    /// A sealer for the keyring `spec` (`id:base64key,…`, the first encrypts).
    pub fn new(spec: &str) -> Result<Self, String> {
        let keys = Keyring::parse(spec)?;
        let store = Arc::new(MemoryStore::new(1024));
        let vault = Vault::new(
            Arc::clone(&store) as Arc<dyn crate::session::SessionStore>,
            keys.clone(),
            "https://idp.example.test".to_owned(),
            None,
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            keys,
            store,
            vault,
            runtime,
        })
    }

    /// `Keyring::seal`.
    pub fn seal(&self, secret: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
        self.keys
            .seal(secret, aad, plaintext)
            .map_err(|e| e.to_string())
    }

    /// `Keyring::open`.
    pub fn open(&self, secret: &[u8], aad: &[u8], envelope: &[u8]) -> Result<Vec<u8>, String> {
        self.keys
            .open(secret, aad, envelope)
            .map(|plain| plain.to_vec())
            .map_err(|e| e.to_string())
    }

    /// Stores `data` as a new session (`Vault::create`); returns its ID and
    /// the sealed record the store holds.
    pub fn seal_session(&self, data: &SessionData) -> Result<(SessionId, Vec<u8>), String> {
        self.runtime.block_on(async {
            let id = self.vault.create(data).await.map_err(|e| e.to_string())?;
            let record = self
                .store
                .get(&id.store_key())
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the new session was not stored")?;
            Ok((id, record))
        })
    }

    /// Puts `record` in the store as the session record of `id`, then loads
    /// the session through the vault (`Vault::load`: version prefix, then
    /// envelope). `Ok(None)` is "no session".
    pub fn load_session(
        &self,
        id: &SessionId,
        record: Vec<u8>,
    ) -> Result<Option<SessionData>, String> {
        self.runtime.block_on(async {
            let key = id.store_key();
            self.store
                .put(&key, record, Duration::from_secs(60))
                .await
                .map_err(|e| e.to_string())?;
            self.vault.load(id).await.map_err(|e| e.to_string())
        })
    }

    /// Ends the session `id` (`Vault::end`: record, metadata, indexes), so
    /// a long run does not grow the store.
    pub fn end_session(&self, id: &SessionId) -> Result<(), String> {
        self.runtime
            .block_on(self.vault.end(id))
            .map(|_existed| ())
            .map_err(|e| e.to_string())
    }
}

/// The store key of a session record (`bff:s:{h}`), part of its AAD.
pub fn session_record_key(id: &SessionId) -> String {
    id.store_key()
}

// === configuration ===

/// `Config::load` of the TOML file at `path`, with no other flag (the
/// process's `BFF_*` environment variables still apply).
pub fn load_config_file(path: &std::path::Path) -> Result<Config, ConfigError> {
    use clap::Parser as _;
    let args = crate::config::Args::try_parse_from([
        std::ffi::OsStr::new("bff"),
        std::ffi::OsStr::new("--config"),
        path.as_os_str(),
    ])
    .map_err(|e| ConfigError::new("BFF_CONFIG", e.to_string()))?;
    Config::load(&args)
}
