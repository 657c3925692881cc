//! What the configured profile needs from the provider, checked at each
//! discovery: `BFF_PAR=required` needs a PAR endpoint (RFC 9126 §5), and
//! `BFF_SECURITY_PROFILE=fapi2` needs PAR, `private_key_jwt`, ES256 DPoP
//! proofs, PKCE S256, the RFC 9207 `iss` parameter and ES256 or PS256 ID
//! tokens (FAPI 2.0 Security Profile §5.3, §5.4). A provider that lacks
//! one is refused with one line naming everything missing (case P5).

use openidconnect::core::{CoreClientAuthMethod, CoreJwsSigningAlgorithm as Alg};

use super::types::{ExtraMetadata, Metadata};
use crate::config::{ClientSecurity, ParMode, SecurityProfile};

/// FAPI 2.0 §5.4.1: the ID-token algorithms the profile allows, PS256,
/// ES256 or EdDSA (Ed25519); the ID-token verifier holds tokens to them.
pub(crate) const FAPI2_ALGS: [Alg; 3] = [Alg::RsaSsaPssSha256, Alg::EcdsaP256Sha256, Alg::EdDsa];

/// The discovery facts the profile is judged on.
pub(crate) struct Facts<'a> {
    /// The RFC 9126 / RFC 9449 / RFC 9207 metadata.
    pub(crate) extra: &'a ExtraMetadata,
    /// `token_endpoint_auth_methods_supported`.
    pub(crate) auth_methods: Option<&'a Vec<CoreClientAuthMethod>>,
    /// `id_token_signing_alg_values_supported`.
    pub(crate) id_token_algs: &'a [Alg],
}

impl<'a> Facts<'a> {
    /// The facts of a discovery document.
    pub(crate) fn of(metadata: &'a Metadata) -> Self {
        Self {
            extra: &metadata.additional_metadata().additional_metadata,
            auth_methods: metadata.token_endpoint_auth_methods_supported(),
            id_token_algs: metadata.id_token_signing_alg_values_supported(),
        }
    }
}

/// `None` when the provider can serve the configuration, else the line
/// that says what it lacks.
pub(crate) fn unmet(security: &ClientSecurity, facts: &Facts<'_>) -> Option<String> {
    let missing = missing(security, facts);
    (!missing.is_empty()).then(|| {
        let profile = match security.profile {
            SecurityProfile::Fapi2 => "BFF_SECURITY_PROFILE=fapi2",
            SecurityProfile::Standard => "BFF_PAR=required",
        };
        format!(
            "the provider cannot satisfy {profile}: missing {}",
            missing.join(", ")
        )
    })
}

fn missing(security: &ClientSecurity, facts: &Facts<'_>) -> Vec<&'static str> {
    let extra = facts.extra;
    let mut missing = Vec::new();
    let par = extra.pushed_authorization_request_endpoint.is_some();
    if security.par == ParMode::Required && !par {
        missing.push("pushed_authorization_request_endpoint (PAR)");
    }
    if security.profile != SecurityProfile::Fapi2 {
        return missing;
    }
    let lists = |list: &Option<Vec<String>>, value: &str| {
        list.as_ref().is_some_and(|l| l.iter().any(|v| v == value))
    };
    if !facts
        .auth_methods
        .is_some_and(|m| m.contains(&CoreClientAuthMethod::PrivateKeyJwt))
    {
        missing.push("private_key_jwt in token_endpoint_auth_methods_supported");
    }
    if !lists(&extra.dpop_signing_alg_values_supported, "ES256") {
        missing.push("ES256 in dpop_signing_alg_values_supported (DPoP)");
    }
    if !lists(&extra.code_challenge_methods_supported, "S256") {
        missing.push("S256 in code_challenge_methods_supported (PKCE)");
    }
    if extra.authorization_response_iss_parameter_supported != Some(true) {
        missing.push("authorization_response_iss_parameter_supported (RFC 9207)");
    }
    if !facts.id_token_algs.iter().any(|a| FAPI2_ALGS.contains(a)) {
        missing.push("ES256 or PS256 in id_token_signing_alg_values_supported");
    }
    missing
}
