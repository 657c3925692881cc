//! How bff authenticates itself on the provider calls it builds or
//! decorates (token, PAR, revocation): with a shared secret as RFC 6749
//! §2.3.1 allows (Basic, or both values in the body), or with a signed
//! assertion (RFC 7523 §2.2, OIDC Core §9 `private_key_jwt`) whose `jti` is
//! fresh on every call, so no assertion is ever sent twice (case P3).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use url::form_urlencoded::{Serializer, byte_serialize};
use zeroize::Zeroizing;

use crate::config::{AssertionAudience, ClientAuth, ClientSecurity};
use crate::signing::client_keys::ClientKeys;
use crate::signing::fresh_jti;

/// RFC 7523 §2.2: the `client_assertion_type` of a JWT assertion.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of an assertion: long enough for one call, no longer.
const ASSERTION_SECS: i64 = 60;

/// RFC 7523 §3 claims: `iss` = `sub` = the client, `aud` the provider.
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// A fresh client assertion for a call to `endpoint`.
pub(crate) fn assertion(
    keys: &ClientKeys,
    client_id: &str,
    audience: &str,
    now: i64,
) -> Result<String, String> {
    keys.sign(&AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: audience,
        jti: fresh_jti(),
        iat: now,
        nbf: now,
        exp: now + ASSERTION_SECS,
    })
}

/// The assertion's `aud`: the issuer (FAPI 2.0 §5.3.2.1) or the URL the
/// assertion goes to, without query (RFC 7523 §3 point 3).
pub(crate) fn audience<'a>(
    security: &ClientSecurity,
    issuer: &'a str,
    endpoint: &'a str,
) -> &'a str {
    match security.audience {
        AssertionAudience::Issuer => issuer,
        AssertionAudience::Endpoint => endpoint.split('?').next().unwrap_or(endpoint),
    }
}

/// Appends `client_id` and the assertion to a form body (RFC 7523 §2.2).
pub(crate) fn append_assertion(body: &mut Vec<u8>, assertion: &str) {
    let mut form = Serializer::new(String::new());
    form.append_pair("client_assertion_type", JWT_BEARER)
        .append_pair("client_assertion", assertion);
    if !body.is_empty() {
        body.push(b'&');
    }
    body.extend_from_slice(form.finish().as_bytes());
}

/// The form POST that bff builds itself (PAR, revocation) to `endpoint`,
/// the client authenticated as at the token endpoint: Basic, or the
/// secret in the body beside the `client_id` the form already holds. With
/// `private_key_jwt` nothing is added here; the assertion is added per
/// attempt by the token call.
pub(crate) fn authenticated_post(
    security: &ClientSecurity,
    (client_id, basic_auth): (&str, bool),
    endpoint: &str,
    mut form: Serializer<'_, String>,
) -> Result<http::Request<Vec<u8>>, http::Error> {
    let mut builder =
        http::Request::post(endpoint).header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    match &security.auth {
        ClientAuth::Secret(secret) if basic_auth => {
            let id: String = byte_serialize(client_id.as_bytes()).collect();
            let secret: Zeroizing<String> =
                Zeroizing::new(byte_serialize(secret.expose().as_bytes()).collect());
            let basic = Zeroizing::new(STANDARD.encode(format!("{id}:{}", secret.as_str())));
            builder = builder.header(AUTHORIZATION, format!("Basic {}", basic.as_str()));
        }
        ClientAuth::Secret(secret) => {
            form.append_pair("client_secret", secret.expose());
        }
        ClientAuth::PrivateKeyJwt(_) => {}
    }
    builder.body(form.finish().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ParMode, Secret, SecurityProfile};

    fn security(audience: AssertionAudience) -> ClientSecurity {
        ClientSecurity {
            auth: ClientAuth::Secret(Secret::new("s".into())),
            audience,
            par: ParMode::Auto,
            profile: SecurityProfile::Standard,
        }
    }

    #[test]
    fn the_audience_is_the_issuer_or_the_endpoint_without_its_query() {
        let (issuer, endpoint) = ("https://op", "https://op/token?x=1");
        assert_eq!(
            audience(&security(AssertionAudience::Issuer), issuer, endpoint),
            issuer
        );
        let endpoint_aud = audience(&security(AssertionAudience::Endpoint), issuer, endpoint);
        assert_eq!(endpoint_aud, "https://op/token");
    }

    #[test]
    fn an_assertion_is_appended_to_a_form_with_its_type() {
        let mut body = b"grant_type=refresh_token".to_vec();
        append_assertion(&mut body, "a.b.c");
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        assert_eq!(form[1], ("client_assertion_type".into(), JWT_BEARER.into()));
        assert_eq!(form[2], ("client_assertion".into(), "a.b.c".into()));
    }
}
