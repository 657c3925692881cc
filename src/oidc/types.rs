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

/// The client after discovery. Typestate positions: auth URL set; device,
/// introspection, revocation not set; token and userinfo "maybe" (from
/// discovery).
pub(crate) type BffClient = Client<
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
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;
