//! The OpenID provider: discovery, the configured client, and hot-swapping
//! it when the provider's keys rotate.
//!
//! openidconnect copies the JWKS into the client at discovery and never
//! refreshes it, so [`ProviderHandle`] keeps the client in an `ArcSwap`,
//! re-discovers on a timer, and lets callers request a rate-limited
//! re-discovery when a token names an unknown `kid` (OIDC Core §10.1.1).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use openidconnect::core::{CoreClientAuthMethod, CoreJsonWebKey};
use openidconnect::{
    AuthType, ClientId, ClientSecret, EndSessionUrl, IssuerUrl, JsonWebKeySet, RedirectUrl,
};
use tokio_util::sync::CancellationToken;

use super::http::OidcHttp;
use super::profile::{self, Facts};
use super::types::{BffClient, Metadata};
use crate::config::{ClientAuth, ClientSecurity, OidcConfig, ParMode, SecurityProfile};
use crate::metrics::Endpoint;
use crate::session::now_unix;

/// How often the provider is re-discovered to pick up key rotation.
const REDISCOVER_EVERY: Duration = Duration::from_secs(15 * 60);
/// Minimum spacing of on-demand re-discoveries (unknown `kid`).
const MIN_ON_DEMAND_SECS: i64 = 30;

/// A discovered provider.
pub(crate) struct Provider {
    /// The configured client (auth URL, token URL, JWKS).
    pub(crate) client: BffClient,
    /// The RFC 7009 revocation endpoint, if advertised.
    pub(crate) revocation: Option<url::Url>,
    /// Whether the client authenticates with HTTP Basic (else in the body).
    pub(crate) basic_auth: bool,
    /// RP-Initiated Logout endpoint, if advertised.
    pub(crate) end_session: Option<EndSessionUrl>,
    /// Whether the provider sends RFC 9207 `iss` in authorization responses.
    pub(crate) iss_parameter_supported: bool,
    /// The exact issuer string.
    pub(crate) issuer: String,
    /// The provider's signing keys (logout-token verification).
    pub(crate) jwks: JsonWebKeySet<CoreJsonWebKey>,
    /// The RFC 9126 endpoint the login pushes to (`None`: no PAR).
    pub(crate) par: Option<url::Url>,
    /// ID tokens are held to FAPI 2.0's algorithms (PS256, ES256).
    pub(crate) fapi2: bool,
}

/// Why discovery failed (logged; the provider stays "not ready").
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoveryError {
    /// The document could not be fetched or parsed.
    #[error("discovery failed: {0}")]
    Failed(String),
    /// The provider cannot serve the configured profile (case P5).
    #[error("{0}")]
    Unsuitable(String),
}

/// The current provider, swapped atomically on re-discovery.
pub(crate) struct ProviderHandle {
    current: ArcSwapOption<Provider>,
    config: OidcConfig,
    http: OidcHttp,
    last_on_demand: AtomicI64,
    /// The provider's latest `DPoP-Nonce` (RFC 9449 §8).
    dpop_nonce: ArcSwapOption<String>,
}

// === impl ProviderHandle ===

impl ProviderHandle {
    /// A handle with no provider yet; call [`ProviderHandle::spawn`].
    pub(crate) fn new(config: OidcConfig, http: OidcHttp) -> Arc<Self> {
        Arc::new(Self {
            current: ArcSwapOption::empty(),
            config,
            http,
            last_on_demand: AtomicI64::new(0),
            dpop_nonce: ArcSwapOption::empty(),
        })
    }

    /// The provider, once discovered.
    pub(crate) fn current(&self) -> Option<Arc<Provider>> {
        self.current.load_full()
    }

    /// The OAuth `client_id`.
    pub(crate) fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// How the client authenticates, and the profile it enforces.
    pub(crate) fn security(&self) -> &ClientSecurity {
        &self.config.client
    }

    /// Whether access tokens are DPoP-bound (RFC 9449).
    pub(crate) fn dpop(&self) -> bool {
        self.config.dpop
    }

    /// The provider's latest `DPoP-Nonce`, if it sent one.
    pub(crate) fn dpop_nonce(&self) -> Option<Arc<String>> {
        self.dpop_nonce.load_full()
    }

    /// Remembers the provider's `DPoP-Nonce` for the next proof.
    pub(crate) fn set_dpop_nonce(&self, nonce: &str) {
        if self.dpop_nonce.load().as_deref().map(String::as_str) != Some(nonce) {
            self.dpop_nonce.store(Some(Arc::new(nonce.to_owned())));
        }
    }

    /// The HTTP adapter for token requests.
    pub(crate) fn http(&self) -> &OidcHttp {
        &self.http
    }

    /// Discovers the provider and swaps it in. Discovery checks that the
    /// document's `issuer` equals the configured one (OIDC Discovery §4.3,
    /// security case I6).
    pub(crate) async fn discover(&self) -> Result<(), DiscoveryError> {
        let issuer = IssuerUrl::new(self.config.issuer_url.clone())
            .map_err(|e| DiscoveryError::Failed(e.to_string()))?;
        // The discovery document is told apart by its path; the rest is JWKS.
        let http = self.http.for_endpoint(Endpoint::Jwks);
        let metadata = Metadata::discover_async(issuer, &http)
            .await
            .map_err(|e| DiscoveryError::Failed(discovery_reason(&e)))?;
        if let Some(line) = profile::unmet(&self.config.client, &Facts::of(&metadata)) {
            return Err(DiscoveryError::Unsuitable(line));
        }
        let provider = self.provider_from(metadata)?;
        self.current.store(Some(Arc::new(provider)));
        Ok(())
    }

    /// The provider a checked discovery document describes.
    fn provider_from(&self, metadata: Metadata) -> Result<Provider, DiscoveryError> {
        let extra = &metadata.additional_metadata().additional_metadata;
        let url = |u: Option<&String>| u.and_then(|u| url::Url::parse(u).ok());
        let par = url(extra.pushed_authorization_request_endpoint.as_ref())
            .filter(|_| self.config.client.par != ParMode::Off);
        let revocation = url(extra.revocation_endpoint.as_ref());
        let iss_parameter_supported =
            extra.authorization_response_iss_parameter_supported == Some(true);
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let issuer = metadata.issuer().as_str().to_owned();
        let jwks = metadata.jwks().clone();
        let auth_type = match self.config.client.auth {
            ClientAuth::Secret(_) => {
                client_auth_type(metadata.token_endpoint_auth_methods_supported())
            }
            // RFC 7523 §2.2: `client_id` in the body beside the assertion.
            ClientAuth::PrivateKeyJwt(_) => AuthType::RequestBody,
        };
        let basic_auth = matches!(auth_type, AuthType::BasicAuth);
        let redirect = RedirectUrl::new(self.config.redirect_url.clone())
            .map_err(|e| DiscoveryError::Failed(e.to_string()))?;
        let secret = self.config.client.secret();
        let client = BffClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            secret.map(|s| ClientSecret::new(s.expose().to_owned())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth_type);
        Ok(Provider {
            client,
            revocation,
            basic_auth,
            end_session,
            iss_parameter_supported,
            issuer,
            jwks,
            par,
            fapi2: self.config.client.profile == SecurityProfile::Fapi2,
        })
    }

    /// With `BFF_PAR=required` or `BFF_SECURITY_PROFILE=fapi2`, discovers once
    /// before serving: a provider that answers but lacks what the profile needs
    /// stops the start with the one line naming it (case P5). One that does
    /// not answer yet is retried in the background as always (case I7), and
    /// is refused then in the same way (the provider stays not ready).
    pub(crate) async fn check_at_start(&self) -> Result<(), String> {
        let client = self.security();
        if client.profile == SecurityProfile::Standard && client.par != ParMode::Required {
            return Ok(());
        }
        match self.discover().await {
            Err(DiscoveryError::Unsuitable(line)) => Err(line),
            Err(err) => {
                tracing::warn!(error = %err, "provider not discovered yet; retrying in the background");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// Re-discovers at most once per 30 s (a token named an unknown key).
    pub(crate) async fn rediscover_on_unknown_key(&self) -> bool {
        let now = now_unix();
        let last = self.last_on_demand.load(Ordering::Relaxed);
        if now - last < MIN_ON_DEMAND_SECS
            || self
                .last_on_demand
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        match self.discover().await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(error = %err, "re-discovery after unknown key failed");
                false
            }
        }
    }

    /// Runs `check` against `provider`; when it fails because a token names
    /// a signing key the cached JWKS lacks, re-discovers once (rate-limited,
    /// OIDC Core §10.1.1: providers rotate keys) and checks again against
    /// the fresh keys. Otherwise the first result stands.
    pub(crate) async fn check_with_rediscovery<T, E>(
        &self,
        provider: Arc<Provider>,
        check: impl Fn(&Provider) -> Result<T, E>,
        unknown_key: impl Fn(&E) -> bool,
    ) -> Result<T, E> {
        match check(&provider) {
            Err(err) if unknown_key(&err) && self.rediscover_on_unknown_key().await => {
                check(&self.current().unwrap_or(provider))
            }
            other => other,
        }
    }

    /// Discovers now and keeps retrying with backoff (1 s doubling to 30 s)
    /// until it works (security case I7), then re-discovers every 15 min.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let handle = Arc::clone(self);
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                let wait = match handle.discover().await {
                    Ok(()) => {
                        tracing::info!(issuer = %handle.config.issuer_url, "provider discovered");
                        backoff = Duration::from_secs(1);
                        REDISCOVER_EVERY
                    }
                    Err(err @ DiscoveryError::Unsuitable(_)) => {
                        tracing::error!(error = %err, "provider refused: it cannot serve the configured profile");
                        REDISCOVER_EVERY.min(Duration::from_secs(60))
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "provider discovery failed");
                        let wait = backoff;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        wait
                    }
                };
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        })
    }
}

/// `client_secret_basic` unless the provider only offers `client_secret_post`
/// (OIDC Discovery §3: the default when the list is absent is basic).
fn client_auth_type(supported: Option<&Vec<CoreClientAuthMethod>>) -> AuthType {
    let offers = |m: &CoreClientAuthMethod| supported.is_none_or(|list| list.contains(m));
    if !offers(&CoreClientAuthMethod::ClientSecretBasic)
        && offers(&CoreClientAuthMethod::ClientSecretPost)
    {
        AuthType::RequestBody
    } else {
        AuthType::BasicAuth
    }
}

fn discovery_reason<E: std::error::Error>(err: &openidconnect::DiscoveryError<E>) -> String {
    match err {
        openidconnect::DiscoveryError::Validation(msg) => format!("invalid metadata: {msg}"),
        openidconnect::DiscoveryError::Response(status, _, _) => format!("HTTP {status}"),
        openidconnect::DiscoveryError::Parse(_) => "unparsable metadata".into(),
        openidconnect::DiscoveryError::Request(e) => e.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_auth_follows_what_the_provider_offers() {
        use CoreClientAuthMethod::{ClientSecretBasic, ClientSecretPost, PrivateKeyJwt};
        assert!(matches!(client_auth_type(None), AuthType::BasicAuth));
        assert!(matches!(
            client_auth_type(Some(&vec![ClientSecretPost, ClientSecretBasic])),
            AuthType::BasicAuth
        ));
        assert!(matches!(
            client_auth_type(Some(&vec![ClientSecretPost])),
            AuthType::RequestBody
        ));
        assert!(matches!(
            client_auth_type(Some(&vec![PrivateKeyJwt])),
            AuthType::BasicAuth
        ));
    }
}
