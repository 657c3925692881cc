//! The client's security settings: how bff authenticates to the provider
//! (a shared secret, or `private_key_jwt` with `BFF_CLIENT_KEY_FILE`),
//! the assertion audience, Pushed Authorization Requests, DPoP token
//! binding, and `BFF_SECURITY_PROFILE=fapi2`, which requires all of them
//! (FAPI 2.0 Security Profile §5.3, as a client). Each error names its
//! setting.

use std::sync::Arc;

use super::settings::Raw;
use super::{ConfigError, parse, secret::Secret};
use crate::signing::client_keys::ClientKeys;

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

/// The client security settings from `raw`; `secret` is the client
/// secret, if one was given.
pub(super) fn security(raw: &Raw, secret: Option<Secret>) -> Result<ClientSecurity, ConfigError> {
    let profile = match raw.security_profile.value.as_str() {
        "none" | "" => SecurityProfile::Standard,
        "fapi2" => SecurityProfile::Fapi2,
        other => {
            return Err(raw
                .security_profile
                .error(format!("`{other}` is not none or fapi2")));
        }
    };
    let auth = auth(raw, secret, profile)?;
    let audience = match raw.client_assertion_aud.value.as_str() {
        "issuer" => AssertionAudience::Issuer,
        "endpoint" => AssertionAudience::Endpoint,
        other => {
            return Err(raw
                .client_assertion_aud
                .error(format!("`{other}` is not issuer or endpoint")));
        }
    };
    let par = match raw.par.value.as_str() {
        "auto" => ParMode::Auto,
        "required" => ParMode::Required,
        "off" => ParMode::Off,
        other => {
            return Err(raw
                .par
                .error(format!("`{other}` is not auto, required or off")));
        }
    };
    let par = match (profile, par) {
        (SecurityProfile::Fapi2, ParMode::Off) => {
            return Err(raw
                .par
                .error("cannot be off with BFF_SECURITY_PROFILE=fapi2"));
        }
        (SecurityProfile::Fapi2, _) => ParMode::Required,
        (SecurityProfile::Standard, par) => par,
    };
    Ok(ClientSecurity {
        auth,
        audience,
        par,
        profile,
    })
}

/// A key file makes bff a `private_key_jwt` client; without one it needs
/// the secret. Both at once is a mistake (which one would the provider
/// expect?), and FAPI 2.0 §5.3.2.1 allows no shared secret.
fn auth(
    raw: &Raw,
    secret: Option<Secret>,
    profile: SecurityProfile,
) -> Result<ClientAuth, ConfigError> {
    let files = parse::list(raw.client_key_file.value.as_deref().unwrap_or_default());
    match (secret, files.is_empty()) {
        (Some(_), false) => Err(raw.client_key_file.error(
            "and BFF_CLIENT_SECRET are both set: choose private_key_jwt or a client secret",
        )),
        (Some(_), true) if profile == SecurityProfile::Fapi2 => Err(raw
            .client_key_file
            .error("is required with BFF_SECURITY_PROFILE=fapi2 (private_key_jwt), instead of a client secret")),
        (Some(secret), true) => Ok(ClientAuth::Secret(secret)),
        (None, true) if profile == SecurityProfile::Fapi2 => Err(raw
            .client_key_file
            .error("is required with BFF_SECURITY_PROFILE=fapi2 (private_key_jwt)")),
        (None, true) => Err(raw.client_secret.error(
            "is required (bff is a confidential client), or BFF_CLIENT_KEY_FILE for private_key_jwt",
        )),
        (None, false) => {
            let pems = files
                .iter()
                .map(|path| {
                    parse::read_secret_file(std::path::Path::new(path))
                        .map_err(|m| raw.client_key_file.error(m))
                })
                .collect::<Result<Vec<_>, _>>()?;
            ClientKeys::from_pems(&pems)
                .map(|keys| ClientAuth::PrivateKeyJwt(Arc::new(keys)))
                .map_err(|m| raw.client_key_file.error(m))
        }
    }
}
