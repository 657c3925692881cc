//! The fake provider's discovery document and JWKS.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use serde_json::json;

use super::super::http::json_response;
use super::super::jwt;
use super::{Shared, SigningMode};

/// The discovery document (OIDC Discovery §3), shaped by [`Behaviour`](super::Behaviour).
pub(super) fn document(shared: &Shared) -> Response<Full<Bytes>> {
    let b = shared.behaviour().clone();
    let base = &shared.issuer;
    let mut doc = json!({
        "issuer": b.discovery_issuer.as_deref().unwrap_or(base),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": b.jwks_uri.clone().unwrap_or_else(|| format!("{base}/jwks")),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
    });
    if b.end_session_endpoint {
        doc["end_session_endpoint"] = json!(format!("{base}/logout"));
    }
    if b.revocation_endpoint {
        doc["revocation_endpoint"] = json!(format!("{base}/revoke"));
    }
    if b.iss_param_supported {
        doc["authorization_response_iss_parameter_supported"] = json!(true);
    }
    if let Some(fapi) = &b.fapi {
        super::fapi::discovery(fapi, base, &mut doc);
    }
    json_response(200, &doc)
}

/// The JWKS: the rotated-in key too once the provider signs with it.
pub(super) fn jwks(shared: &Shared) -> Response<Full<Bytes>> {
    shared.state().jwks_fetches += 1;
    let rotated = shared.behaviour().signing == SigningMode::RotatedKey;
    json_response(
        200,
        &if rotated {
            jwt::rotated_jwks_json()
        } else {
            jwt::jwks_json()
        },
    )
}
