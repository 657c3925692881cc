//! Validates the client's security settings: how bff authenticates to the provider
//! (a shared secret, or `private_key_jwt` with `BFF_CLIENT_KEY_FILE`),
//! the assertion audience, Pushed Authorization Requests, DPoP token
//! binding, and `BFF_SECURITY_PROFILE=fapi2`, which requires all of them
//! (FAPI 2.0 Security Profile §5.3, as a client). Each error names its
//! setting.

use std::sync::Arc;

use super::settings::Raw;
use super::{
    AssertionAudience, ClientAuth, ClientSecurity, ConfigError, ParMode, SecurityProfile, parse,
    secret::Secret,
};
use crate::signing::client_keys::ClientKeys;

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
    if profile == SecurityProfile::Fapi2 && audience != AssertionAudience::Issuer {
        // FAPI 2.0 §5.3.2.1: the issuer, as a single string.
        return Err(raw
            .client_assertion_aud
            .error("must be issuer with BFF_SECURITY_PROFILE=fapi2"));
    }
    let par = par(raw, profile)?;
    Ok(ClientSecurity {
        auth,
        audience,
        par,
        profile,
    })
}

/// `BFF_PAR`; FAPI 2.0 §5.3.2.2 makes it `required` and refuses `off`.
fn par(raw: &Raw, profile: SecurityProfile) -> Result<ParMode, ConfigError> {
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
    match (profile, par) {
        (SecurityProfile::Fapi2, ParMode::Off) => Err(raw
            .par
            .error("cannot be off with BFF_SECURITY_PROFILE=fapi2")),
        (SecurityProfile::Fapi2, _) => Ok(ParMode::Required),
        (SecurityProfile::Standard, par) => Ok(par),
    }
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
                        .map(zeroize::Zeroizing::new)
                        .map_err(|m| raw.client_key_file.error(m))
                })
                .collect::<Result<Vec<_>, _>>()?;
            ClientKeys::from_pems(&pems)
                .map(|keys| ClientAuth::PrivateKeyJwt(Arc::new(keys)))
                .map_err(|m| raw.client_key_file.error(m))
        }
    }
}
