//! The fake IdP's RFC 7009 revocation endpoint: client authentication as
//! at the token endpoint, then the refresh token (and its grant) revoked.
//! Always 200 for a client that authenticated (RFC 7009 §2.2).

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::json;

use super::{Params, Shared, json_response, parse_params, token};

/// Handles `POST /revoke`.
pub(super) async fn handle(shared: &Shared, req: &Request<Bytes>) -> http::Response<Full<Bytes>> {
    let (advertised, delay) = {
        let b = shared.behaviour();
        (b.revocation_endpoint, b.revocation_delay)
    };
    if !advertised {
        return json_response(404, &json!({ "error": "not_found" }));
    }
    let form = parse_params(req.body());
    tokio::time::sleep(delay).await;
    shared.state().revocations.push(form.clone());
    if let Err((status, error)) = token::authenticate_request(shared, req, &form) {
        return json_response(status, &json!({ "error": error }));
    }
    revoke(shared, &form);
    json_response(200, &json!({}))
}

fn revoke(shared: &Shared, form: &Params) {
    let Some(token) = form.get("token") else {
        return;
    };
    let mut state = shared.state();
    let grant = state.refresh_tokens.get_mut(token).map(|t| {
        t.active = false;
        t.grant
    });
    if let Some(grant) = grant {
        state.grants[grant].revoked = true;
    }
}
