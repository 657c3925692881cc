//! The fake IdP's knobs: who logs in and every way the IdP can misbehave.
//!
//! Defaults describe a correct, Keycloak-like provider. Tests flip fields via
//! [`super::FakeIdp::set`]; each knob is read when the affected request is
//! handled, so it applies to requests made after the change.

use std::time::Duration;

/// The end user the IdP logs in at `/authorize` (no login form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `sub` claim.
    pub sub: String,
    /// `name` claim.
    pub name: String,
    /// `email` claim.
    pub email: String,
    /// `preferred_username` claim.
    pub preferred_username: String,
    /// `sid` claim (IdP session id).
    pub sid: String,
}

impl Default for User {
    fn default() -> Self {
        Self {
            sub: "user-0001".into(),
            name: "Ada Lovelace".into(),
            email: "ada@example.test".into(),
            preferred_username: "ada".into(),
            sid: "idp-session-0001".into(),
        }
    }
}

/// What the ID token's `nonce` claim holds (code flow only; refreshed ID tokens never carry one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonceMode {
    /// The nonce sent to `/authorize`.
    #[default]
    Echo,
    /// No `nonce` claim.
    Missing,
    /// A nonce that was never sent.
    Wrong,
}

/// What the ID token's `aud` claim holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudMode {
    /// `[client_id]`.
    #[default]
    Client,
    /// `["some-other-client"]`.
    Wrong,
    /// No `aud` claim.
    Missing,
    /// `[client_id, "untrusted-audience"]`.
    ExtraUntrusted,
}

/// How the ID token is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningMode {
    /// RS256 with the published key.
    #[default]
    Rs256,
    /// `alg: none`, empty signature.
    AlgNone,
    /// HS256 keyed with the client secret.
    Hs256ClientSecret,
    /// HS256 keyed with the published RSA public key's SPKI PEM bytes (key confusion).
    Hs256PublicKey,
    /// RS256 with the unpublished key, under the published `kid`.
    OtherKey,
    /// RS256 with a newly rotated-in key under its own kid; the JWKS
    /// publishes it too (JWKS rotation, security case I5).
    RotatedKey,
    /// RS256 with that rotated-in key under its own kid, while the JWKS does
    /// not publish it yet: a kid unknown even after a re-discovery (I5).
    UnpublishedKid,
    /// RS256 under a kid that no JWKS of this provider ever publishes.
    UnknownKid,
    /// RS256 with the published key, then one signature bit flipped.
    TamperedSignature,
}

/// The `iss` authorization response parameter (RFC 9207).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssParam {
    /// The real issuer.
    #[default]
    Correct,
    /// Not sent.
    Missing,
    /// `https://evil.example`.
    Wrong,
}

/// Everything a test can change about the fake IdP.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The user logged in at the next `/authorize`.
    pub user: User,
    /// Discovery advertises `authorization_response_iss_parameter_supported: true`
    /// and `/authorize` sends `iss` (subject to [`Self::iss_param`]).
    pub iss_param_supported: bool,
    /// The `iss` parameter sent on the authorization response.
    pub iss_param: IssParam,
    /// Discovery includes `end_session_endpoint`.
    pub end_session_endpoint: bool,
    /// Discovery includes an RFC 7009 `revocation_endpoint`.
    pub revocation_endpoint: bool,
    /// Delay before the revocation endpoint answers.
    pub revocation_delay: Duration,
    /// Replaces the `issuer` value in discovery (a mix-up / misconfiguration).
    pub discovery_issuer: Option<String>,
    /// ID token `nonce`.
    pub nonce: NonceMode,
    /// Replaces the ID token `iss` claim.
    pub id_token_iss: Option<String>,
    /// ID token `aud`.
    pub aud: AudMode,
    /// Replaces the ID token `azp` claim (default: the client id).
    pub azp: Option<String>,
    /// Omit the ID token `sub` claim.
    pub omit_sub: bool,
    /// Omit the ID token `iat` claim.
    pub omit_iat: bool,
    /// ID token `exp` 10 minutes in the past (and `iat` 15 minutes in the past).
    pub expired: bool,
    /// ID token `iat` 1 hour in the future.
    pub iat_in_future: bool,
    /// ID token signing.
    pub signing: SigningMode,
    /// The discovery document's `jwks_uri` (default: this IdP's `/jwks`).
    pub jwks_uri: Option<String>,
    /// Extra claims merged into every ID token (after all other knobs).
    pub id_token_extra: serde_json::Map<String, serde_json::Value>,
    /// `/token` answers this status and JSON body instead of doing anything
    /// (the request is still recorded). E.g. `(500, json!({"error":"server_error"}))`.
    pub token_override: Option<(u16, serde_json::Value)>,
    /// Delay before `/token` answers.
    pub token_delay: Duration,
    /// `expires_in` of access tokens, in seconds (also their `exp - iat`).
    pub expires_in: u64,
    /// A refresh issues a new refresh token and invalidates the old one.
    /// When false, no `refresh_token` is returned and the old one stays valid.
    pub rotate_refresh_tokens: bool,
    /// A refresh response carries a new ID token (without `nonce`).
    pub refresh_returns_id_token: bool,
    /// PAR, `private_key_jwt`, DPoP, PS256 (default: none of it).
    pub fapi: Option<super::Fapi>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            user: User::default(),
            iss_param_supported: true,
            iss_param: IssParam::Correct,
            end_session_endpoint: true,
            revocation_endpoint: true,
            revocation_delay: Duration::ZERO,
            discovery_issuer: None,
            nonce: NonceMode::Echo,
            id_token_iss: None,
            aud: AudMode::Client,
            azp: None,
            omit_sub: false,
            omit_iat: false,
            expired: false,
            iat_in_future: false,
            signing: SigningMode::Rs256,
            jwks_uri: None,
            id_token_extra: serde_json::Map::new(),
            token_override: None,
            token_delay: Duration::ZERO,
            expires_in: 300,
            rotate_refresh_tokens: true,
            refresh_returns_id_token: true,
            fapi: None,
        }
    }
}
