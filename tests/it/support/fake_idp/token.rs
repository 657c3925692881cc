//! The fake IdP's token endpoint (RFC 6749 §3.2) and the tokens it mints.
//!
//! Owns client authentication (Basic or post), the code grant with PKCE
//! (RFC 7636 §4.6), and rotating refresh tokens with reuse detection: replaying
//! a rotated refresh token revokes the whole grant (RFC 9700 §4.14.2), as
//! Keycloak does with "Revoke Refresh Token" on. ID-token misbehaviour from
//! [`Behaviour`] applies to ID tokens from both grants.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{
    AudMode, Behaviour, ClientAuth, Grant, NonceMode, Params, RefreshToken, Shared, SigningMode,
    TokenRequest, fapi, json_response, jwt, now, parse_params, random_token,
};

type Answer = Result<Value, (u16, &'static str)>;

/// Handles `POST /token`.
pub(super) async fn handle(shared: &Shared, req: &Request<Bytes>) -> http::Response<Full<Bytes>> {
    let form = parse_params(req.body());
    let client_auth = record(shared, req, &form);
    let b = shared.behaviour().clone();
    tokio::time::sleep(b.token_delay).await;
    if let Some((status, body)) = &b.token_override {
        return json_response(*status, body);
    }
    // RFC 9449 §5: the proof is checked before anything else is done.
    let jkt = match fapi::token_proof(shared, req) {
        Ok(jkt) => jkt,
        Err(refusal) => return *refusal,
    };
    let answer = answer(shared, req, &form, client_auth, &b, jkt.as_deref());
    match answer {
        Ok(body) => json_response(200, &body),
        Err((status, error)) => json_response(status, &json!({ "error": error })),
    }
}

fn answer(
    shared: &Shared,
    req: &Request<Bytes>,
    form: &Params,
    auth: ClientAuth,
    b: &Behaviour,
    jkt: Option<&str>,
) -> Answer {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded")) {
        return Err((400, "invalid_request"));
    }
    authenticate(shared, req, form, auth)?;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(shared, form, b, jkt),
        Some("refresh_token") => refresh_grant(shared, form, b, jkt),
        _ => Err((400, "unsupported_grant_type")),
    }
}

/// Client authentication of a request to another endpoint (revocation).
pub(super) fn authenticate_request(
    shared: &Shared,
    req: &Request<Bytes>,
    form: &Params,
) -> Result<(), (u16, &'static str)> {
    let auth = if req.headers().contains_key(http::header::AUTHORIZATION) {
        ClientAuth::Basic
    } else if form.contains_key("client_secret") {
        ClientAuth::Post
    } else {
        ClientAuth::None
    };
    authenticate(shared, req, form, auth)
}

/// Logs the request and returns how the client authenticated.
fn record(shared: &Shared, req: &Request<Bytes>, form: &Params) -> ClientAuth {
    let client_auth = if req.headers().contains_key(http::header::AUTHORIZATION) {
        ClientAuth::Basic
    } else if form.contains_key("client_secret") {
        ClientAuth::Post
    } else {
        ClientAuth::None
    };
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let entry = TokenRequest {
        grant_type,
        form: form.clone(),
        client_auth,
    };
    shared.state().token_requests.push(entry);
    client_auth
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn authenticate(
    shared: &Shared,
    req: &Request<Bytes>,
    form: &Params,
    auth: ClientAuth,
) -> Result<(), (u16, &'static str)> {
    let jwks = shared.behaviour().fapi.clone().and_then(|f| f.client_jwks);
    if let Some(jwks) = jwks {
        let endpoint = format!("{}{}", shared.issuer, req.uri().path());
        return fapi::verify_assertion(shared, &jwks, form, &endpoint);
    }
    let credentials = match auth {
        ClientAuth::Basic => basic_credentials(req),
        ClientAuth::Post => form
            .get("client_id")
            .cloned()
            .zip(form.get("client_secret").cloned()),
        ClientAuth::None => None,
    };
    let ok = credentials
        .is_some_and(|(id, secret)| id == shared.client_id && secret == shared.client_secret);
    // A client_id form parameter, if sent alongside Basic, must name the same client.
    let consistent = form
        .get("client_id")
        .is_none_or(|id| *id == shared.client_id);
    if ok && consistent {
        Ok(())
    } else {
        Err((401, "invalid_client"))
    }
}

fn basic_credentials(req: &Request<Bytes>) -> Option<(String, String)> {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

fn form_decode(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

fn code_grant(shared: &Shared, form: &Params, b: &Behaviour, jkt: Option<&str>) -> Answer {
    let code = form.get("code").ok_or((400, "invalid_request"))?;
    // One use: the code is gone whether or not the rest checks out.
    let pending = shared
        .state()
        .codes
        .remove(code)
        .ok_or((400, "invalid_grant"))?;
    if pending.client_id != shared.client_id
        || form.get("redirect_uri") != Some(&pending.redirect_uri)
    {
        return Err((400, "invalid_grant"));
    }
    let verifier = form.get("code_verifier").ok_or((400, "invalid_grant"))?;
    if jwt::b64(&Sha256::digest(verifier.as_bytes())) != pending.code_challenge {
        return Err((400, "invalid_grant"));
    }
    let nonce = match b.nonce {
        NonceMode::Echo => pending.nonce.clone(),
        NonceMode::Missing => None,
        NonceMode::Wrong => Some("wrong-nonce".to_owned()),
    };
    let mut state = shared.state();
    let refresh = issue_refresh_token(&mut state.refresh_tokens, pending.grant);
    let grant = &state.grants[pending.grant];
    let id_token = id_token(shared, b, grant, nonce.as_deref());
    Ok(token_response(
        shared,
        b,
        grant,
        (Some(refresh), Some(id_token)),
        jkt,
    ))
}

fn refresh_grant(shared: &Shared, form: &Params, b: &Behaviour, jkt: Option<&str>) -> Answer {
    let presented = form.get("refresh_token").ok_or((400, "invalid_request"))?;
    let mut state = shared.state();
    let entry = state
        .refresh_tokens
        .get(presented)
        .ok_or((400, "invalid_grant"))?;
    let (grant_id, active) = (entry.grant, entry.active);
    if state.grants[grant_id].revoked {
        return Err((400, "invalid_grant"));
    }
    if !active {
        // Reuse of a rotated token: assume theft and kill the whole grant.
        state.grants[grant_id].revoked = true;
        let tokens = state
            .refresh_tokens
            .values_mut()
            .filter(|t| t.grant == grant_id);
        tokens.for_each(|t| t.active = false);
        return Err((400, "invalid_grant"));
    }
    let refresh = b.rotate_refresh_tokens.then(|| {
        if let Some(old) = state.refresh_tokens.get_mut(presented) {
            old.active = false;
        }
        issue_refresh_token(&mut state.refresh_tokens, grant_id)
    });
    let grant = &state.grants[grant_id];
    let id_token = b
        .refresh_returns_id_token
        .then(|| id_token(shared, b, grant, None));
    Ok(token_response(shared, b, grant, (refresh, id_token), jkt))
}

fn issue_refresh_token(
    tokens: &mut std::collections::HashMap<String, RefreshToken>,
    grant: usize,
) -> String {
    let token = random_token();
    tokens.insert(
        token.clone(),
        RefreshToken {
            grant,
            active: true,
        },
    );
    token
}

fn token_response(
    shared: &Shared,
    b: &Behaviour,
    grant: &Grant,
    (refresh, id_token): (Option<String>, Option<String>),
    jkt: Option<&str>,
) -> Value {
    let mut body = json!({
        "access_token": access_token(shared, b, grant, jkt),
        // RFC 9449 §5: a bound token's type is DPoP.
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": b.expires_in,
        "scope": "openid profile email",
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    if let Some(id_token) = id_token {
        body["id_token"] = json!(id_token);
    }
    body
}

/// An RS256 JWT access token for audience `api`; `jti` makes every token
/// unique; a DPoP-bound one names its key in `cnf.jkt` (RFC 9449 §6.1).
fn access_token(shared: &Shared, b: &Behaviour, grant: &Grant, jkt: Option<&str>) -> String {
    let iat = now();
    let exp = iat + i64::try_from(b.expires_in).expect("expires_in fits i64");
    let claims = json!({
        "iss": shared.issuer, "sub": grant.user.sub, "aud": "api", "exp": exp, "iat": iat,
        "client_id": shared.client_id, "azp": shared.client_id, "jti": random_token(),
        "sid": grant.user.sid, "scope": "openid profile email",
    });
    let mut claims = claims;
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({ "jkt": jkt });
    }
    jwt::sign_rs256(Value::Null, &claims)
}

/// An ID token (OIDC Core §2) shaped by the ID-token knobs of `b`.
fn id_token(shared: &Shared, b: &Behaviour, grant: &Grant, nonce: Option<&str>) -> String {
    let mut claims = id_token_claims(shared, b, grant);
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let map = claims.as_object_mut().expect("claims object");
    if b.omit_sub {
        map.remove("sub");
    }
    if b.omit_iat {
        map.remove("iat");
    }
    if b.aud == AudMode::Missing {
        map.remove("aud");
    }
    map.extend(b.id_token_extra.clone());
    sign(shared, b.signing, &claims)
}

fn id_token_claims(shared: &Shared, b: &Behaviour, grant: &Grant) -> Value {
    let now = now();
    let (iat, exp) = match (b.expired, b.iat_in_future) {
        (true, _) => (now - 900, now - 600),
        (false, true) => (now + 3600, now + 3600 + 300),
        (false, false) => (now, now + 300),
    };
    let client = shared.client_id.as_str();
    let aud = match b.aud {
        AudMode::Client | AudMode::Missing => json!([client]),
        AudMode::Wrong => json!(["some-other-client"]),
        AudMode::ExtraUntrusted => json!([client, "untrusted-audience"]),
    };
    let user = &grant.user;
    json!({
        "iss": b.id_token_iss.as_deref().unwrap_or(&shared.issuer),
        "sub": user.sub, "aud": aud, "azp": b.azp.as_deref().unwrap_or(client),
        "exp": exp, "iat": iat, "auth_time": grant.auth_time, "sid": user.sid,
        "name": user.name, "email": user.email, "preferred_username": user.preferred_username,
    })
}

fn sign(shared: &Shared, mode: SigningMode, claims: &Value) -> String {
    match mode {
        SigningMode::Rs256 if b_ps256(shared) => jwt::primary().sign_ps256(claims),
        SigningMode::Rs256 => jwt::sign_rs256(Value::Null, claims),
        SigningMode::AlgNone => jwt::unsigned_alg_none(claims),
        SigningMode::Hs256ClientSecret => {
            jwt::hs256_with_secret(claims, shared.client_secret.as_bytes())
        }
        SigningMode::Hs256PublicKey => {
            jwt::hs256_with_secret(claims, jwt::primary().public_pem().as_bytes())
        }
        SigningMode::OtherKey => jwt::signed_with_other_key(claims),
        SigningMode::RotatedKey | SigningMode::UnpublishedKid => {
            jwt::signed_with_rotated_key(claims)
        }
        SigningMode::UnknownKid => jwt::signed_under_unknown_kid(claims),
        SigningMode::TamperedSignature => {
            jwt::tampered_signature(&jwt::sign_rs256(Value::Null, claims))
        }
    }
}

fn b_ps256(shared: &Shared) -> bool {
    shared.behaviour().fapi.as_ref().is_some_and(|f| f.ps256)
}
