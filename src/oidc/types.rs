//! Concrete openidconnect types for bff: the standard "Core" types, with
//! the `sid` claim added (OIDC Back-Channel Logout §2.4 / Front-Channel
//! §3) and RFC 9207 / RP-Initiated Logout metadata added to discovery.

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClaimName, CoreClaimType, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, Client, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, IdTokenClaims, IdTokenFields, LogoutProviderMetadata,
    ProviderMetadata, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};

/// Extra ID-token claims bff reads: the provider session ID.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SidClaim {
    /// Provider session ID (`sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sid: Option<String>,
}
impl AdditionalClaims for SidClaim {}

/// Extra discovery metadata bff reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ExtraMetadata {
    /// RFC 9207 §3: the provider sends `iss` in authorization responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) authorization_response_iss_parameter_supported: Option<bool>,
    /// RFC 8414 §2 / RFC 7009 §2: where refresh tokens are revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) revocation_endpoint: Option<String>,
    /// RFC 9126 §5: where authorization requests are pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126 §5: the provider accepts only pushed requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.1: the DPoP proof algorithms the provider accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 8414 §2: the PKCE methods the provider supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) code_challenge_methods_supported: Option<Vec<String>>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

/// Discovery document.
pub(crate) type Metadata = ProviderMetadata<
    LogoutProviderMetadata<ExtraMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// ID token with `sid`.
pub(crate) type BffIdToken =
    IdToken<SidClaim, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// Verified ID-token claims.
pub(crate) type BffIdTokenClaims = IdTokenClaims<SidClaim, CoreGenderClaim>;

/// Token endpoint response.
pub(crate) type BffTokenResponse = StandardTokenResponse<
    IdTokenFields<
        SidClaim,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// The openidconnect client with its revocation endpoint in typestate `R`.
/// Positions: auth URL set; device and introspection not set; revocation
/// `R`; token and userinfo "maybe" (from discovery).
pub(crate) type ClientWith<R> = Client<
    SidClaim,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    BffTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    R,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The client after discovery.
pub(crate) type BffClient = ClientWith<EndpointNotSet>;
