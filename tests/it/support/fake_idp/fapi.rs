//! The fake IdP's FAPI 2.0 side: `private_key_jwt` client authentication
//! (RFC 7523 §3: signature by a registered key, `iss` = `sub` = client,
//! `aud` = issuer or endpoint, unexpired, `jti` never seen), Pushed
//! Authorization Requests (RFC 9126: one-time `request_uri` that expires
//! in 60 s) and DPoP at the token endpoint (RFC 9449 §5, with nonces per
//! §8). Every refusal is logged with its reason for the tests.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};

use super::super::dpop::{self, Expect};
use super::super::http::response;
use super::{FakeIdp, Params, Shared, json_response, now, parse_params, random_token};

/// RFC 7523 §2.2.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The FAPI knobs; `None` in [`super::Behaviour::fapi`] is a provider
/// without any of it.
#[derive(Debug, Clone, Default)]
pub struct Fapi {
    /// Advertise and serve `/par`.
    pub par: bool,
    /// `/authorize` refuses requests that were not pushed.
    pub require_par: bool,
    /// The registered client JWKS: assertions are verified against it and
    /// the secret is refused; `None` = `private_key_jwt` not offered.
    pub client_jwks: Option<Value>,
    /// Advertise DPoP and require a proof at `/token` (tokens bound).
    pub dpop: bool,
    /// Demand the current DPoP nonce in token-endpoint proofs.
    pub dpop_nonce: bool,
    /// Sign ID tokens PS256 and advertise only PS256.
    pub ps256: bool,
}

impl Fapi {
    /// A full FAPI 2.0 provider for the client keys `client_jwks`.
    pub fn full(client_jwks: Value) -> Self {
        Self {
            par: true,
            require_par: true,
            client_jwks: Some(client_jwks),
            dpop: true,
            dpop_nonce: true,
            ps256: true,
        }
    }
}

impl FakeIdp {
    /// Why FAPI checks (assertions, PAR, DPoP) refused requests, in order.
    pub fn refusals(&self) -> Vec<String> {
        self.shared.state().refusals.clone()
    }

    /// Every form posted to `/par`.
    pub fn par_requests(&self) -> Vec<Params> {
        self.shared.state().par_requests.clone()
    }

    /// The DPoP nonce `/token` demands now.
    pub fn dpop_nonce(&self) -> String {
        self.shared.state().dpop_nonce.clone()
    }

    /// Replaces the DPoP nonce: proofs with the old one are refused.
    pub fn rotate_dpop_nonce(&self) -> String {
        let mut state = self.shared.state();
        state.dpop_nonce = format!("as-nonce-{}", random_token());
        state.dpop_nonce.clone()
    }
}

/// Adds the FAPI metadata to a discovery document.
pub(super) fn discovery(fapi: &Fapi, base: &str, doc: &mut Value) {
    if fapi.par {
        doc["pushed_authorization_request_endpoint"] = json!(format!("{base}/par"));
        doc["require_pushed_authorization_requests"] = json!(fapi.require_par);
    }
    if fapi.client_jwks.is_some() {
        doc["token_endpoint_auth_methods_supported"] = json!(["private_key_jwt"]);
        doc["token_endpoint_auth_signing_alg_values_supported"] = json!(["PS256", "ES256"]);
    }
    if fapi.dpop {
        doc["dpop_signing_alg_values_supported"] = json!(["ES256"]);
    }
    if fapi.ps256 {
        doc["id_token_signing_alg_values_supported"] = json!(["PS256"]);
    }
}

/// Verifies a client assertion posted to `endpoint` (RFC 7523 §3).
pub(super) fn verify_assertion(
    shared: &Shared,
    jwks: &Value,
    form: &Params,
    endpoint: &str,
) -> Result<(), (u16, &'static str)> {
    let refuse = |reason: &'static str| {
        shared.state().refusals.push(reason.to_owned());
        Err((401, "invalid_client"))
    };
    if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return refuse("assertion: missing or wrong client_assertion_type");
    }
    let Some(assertion) = form.get("client_assertion") else {
        return refuse("assertion: missing");
    };
    let claims = match assertion_claims(shared, jwks, assertion, endpoint) {
        Ok(claims) => claims,
        Err(reason) => return refuse(reason),
    };
    let Some(jti) = claims["jti"].as_str() else {
        return refuse("assertion: no jti");
    };
    if !shared.state().assertion_jtis.insert(jti.to_owned()) {
        return refuse("assertion: jti replayed");
    }
    Ok(())
}

/// The claims of an assertion signed by a registered key, for this
/// client, to this provider, unexpired (RFC 7523 §3 points 1-4, 6).
fn assertion_claims(
    shared: &Shared,
    jwks: &Value,
    assertion: &str,
    endpoint: &str,
) -> Result<Value, &'static str> {
    let set = serde_json::from_value::<JwkSet>(jwks.clone())
        .map_err(|_err| "assertion: unusable registered JWKS")?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_err| "assertion: not a JWT")?;
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| set.find(kid))
        .ok_or("assertion: unknown kid")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_err| "assertion: unusable key")?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = 0;
    validation.set_audience(&[shared.issuer.as_str(), endpoint]);
    validation.set_issuer(&[shared.client_id.as_str()]);
    validation.sub = Some(shared.client_id.clone());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(err) => Err(match err.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "assertion: expired",
            jsonwebtoken::errors::ErrorKind::InvalidAudience => "assertion: wrong aud",
            _ => "assertion: invalid",
        }),
    }
}

/// Checks the DPoP proof of a token request (RFC 9449 §4.3, §8): `Ok(None)`
/// without DPoP, `Ok(Some(jkt))` for a good proof, else the response.
pub(super) fn token_proof(
    shared: &Shared,
    req: &Request<Bytes>,
) -> Result<Option<String>, Box<http::Response<Full<Bytes>>>> {
    let Some(fapi) = shared.behaviour().fapi.clone().filter(|f| f.dpop) else {
        return Ok(None);
    };
    let proof = req.headers().get("dpop").and_then(|v| v.to_str().ok());
    let uri = format!("{}/token", shared.issuer);
    let mut state = shared.state();
    let nonce = fapi.dpop_nonce.then(|| state.dpop_nonce.clone());
    let expect = Expect {
        method: "POST",
        uri: &uri,
        access_token: None,
        nonce: nonce.as_deref(),
    };
    let result = dpop::verify(proof, &expect, &mut state.dpop_jtis);
    match result {
        Ok(jkt) => Ok(Some(jkt)),
        Err(refusal) => {
            state.refusals.push(format!("dpop: {refusal:?}"));
            let current = state.dpop_nonce.clone();
            let (error, headers) = match (refusal, nonce) {
                (dpop::Refusal::BadNonce, Some(_)) => {
                    ("use_dpop_nonce", vec![("dpop-nonce", current)])
                }
                _ => ("invalid_dpop_proof", vec![]),
            };
            drop(state);
            let body = json!({ "error": error }).to_string();
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (*n, v.as_str()))
                .chain([("content-type", "application/json")])
                .collect();
            Err(Box::new(response(400, &headers, body)))
        }
    }
}

/// `POST /par` (RFC 9126 §2): authenticated like `/token`, the request
/// checked like at `/authorize`, stored under a one-time `request_uri`.
pub(super) fn push(shared: &Shared, req: &Request<Bytes>) -> http::Response<Full<Bytes>> {
    if !shared.behaviour().fapi.as_ref().is_some_and(|f| f.par) {
        return response(404, &[], "not found");
    }
    let form = parse_params(req.body());
    shared.state().par_requests.push(form.clone());
    if let Err((status, error)) = super::token::authenticate_request(shared, req, &form) {
        return json_response(status, &json!({ "error": error }));
    }
    // RFC 9126 §2.1: the pushed request names its client like any other.
    if form.get("client_id") != Some(&shared.client_id) {
        return json_response(400, &json!({ "error": "invalid_request" }));
    }
    if form.contains_key("request_uri") {
        return json_response(400, &json!({ "error": "invalid_request" }));
    }
    let mut params = form.clone();
    params.retain(|k, _| !k.starts_with("client_assertion") && k != "client_secret");
    params.insert("client_id".into(), shared.client_id.clone());
    if let Err(reason) = super::check_authorize(shared, &params) {
        return json_response(
            400,
            &json!({ "error": "invalid_request", "error_description": reason }),
        );
    }
    let request_uri = format!("urn:ietf:params:oauth:request_uri:{}", random_token());
    shared
        .state()
        .pushed
        .insert(request_uri.clone(), (params, now() + 60));
    json_response(
        201,
        &json!({ "request_uri": request_uri, "expires_in": 60 }),
    )
}

/// The pushed request a `request_uri` names, used up (RFC 9126 §4: one
/// time, until it expires); `Err` is the 400 reason.
pub(super) fn take_pushed(shared: &Shared, q: &Params) -> Result<Option<Params>, &'static str> {
    let fapi = shared.behaviour().fapi.clone().unwrap_or_default();
    let Some(uri) = q.get("request_uri") else {
        return if fapi.require_par {
            shared
                .state()
                .refusals
                .push("par: request not pushed".into());
            Err("pushed authorization request required")
        } else {
            Ok(None)
        };
    };
    let mut state = shared.state();
    match state.pushed.remove(uri) {
        Some((params, expires))
            if expires > now() && q.get("client_id") == params.get("client_id") =>
        {
            Ok(Some(params))
        }
        _ => {
            state
                .refusals
                .push("par: request_uri unknown, used or expired".into());
            Err("invalid_request_uri")
        }
    }
}
