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
use super::types::{BffClient, Metadata};
use crate::config::OidcConfig;
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
}

/// Why discovery failed (logged; the provider stays "not ready").
#[derive(Debug, thiserror::Error)]
#[error("discovery failed: {0}")]
pub(crate) struct DiscoveryError(String);

/// The current provider, swapped atomically on re-discovery.
pub(crate) struct ProviderHandle {
    current: ArcSwapOption<Provider>,
    config: OidcConfig,
    http: OidcHttp,
    last_on_demand: AtomicI64,
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
        })
    }

    /// The provider, once discovered.
    pub(crate) fn current(&self) -> Option<Arc<Provider>> {
        self.current.load_full()
    }

    /// The client's credentials (`client_id`, `client_secret`).
    pub(crate) fn credentials(&self) -> (&str, &str) {
        (&self.config.client_id, self.config.client_secret.expose())
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
            .map_err(|e| DiscoveryError(e.to_string()))?;
        // The discovery document is told apart by its path; the rest is JWKS.
        let http = self.http.for_endpoint(Endpoint::Jwks);
        let metadata = Metadata::discover_async(issuer, &http)
            .await
            .map_err(|e| DiscoveryError(discovery_reason(&e)))?;
        let logout = metadata.additional_metadata();
        let end_session = logout.end_session_endpoint.clone();
        let iss_parameter_supported = logout
            .additional_metadata
            .authorization_response_iss_parameter_supported
            == Some(true);
        let revocation = logout
            .additional_metadata
            .revocation_endpoint
            .clone()
            .and_then(|url| url::Url::parse(&url).ok());
        let issuer = metadata.issuer().as_str().to_owned();
        let jwks = metadata.jwks().clone();
        let auth_type = client_auth_type(metadata.token_endpoint_auth_methods_supported());
        let basic_auth = matches!(auth_type, AuthType::BasicAuth);
        let redirect = RedirectUrl::new(self.config.redirect_url.clone())
            .map_err(|e| DiscoveryError(e.to_string()))?;
        let client = BffClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth_type);
        self.current.store(Some(Arc::new(Provider {
            client,
            revocation,
            basic_auth,
            end_session,
            iss_parameter_supported,
            issuer,
            jwks,
        })));
        Ok(())
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
