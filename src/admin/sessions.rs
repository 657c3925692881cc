//! The operator session API on the admin listener, behind the bearer
//! secret `BFF_ADMIN_TOKEN` (compared in constant time; the API is off
//! when no token is configured):
//!
//! - `GET /admin/sessions?sub=<sub>`: a user's sessions (hash, created,
//!   expiry, last seen; never a cookie value or token)
//! - `DELETE /admin/sessions/<hash>`: revoke one session
//! - `DELETE /admin/sessions?sub=<sub>`: revoke all of a user's sessions
//! - `GET /admin/sessions/count`: number of active sessions

use http::{Method, Request, Response, StatusCode, header};
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::http_util::{Body, header_str, json, param, query_pairs};
use crate::metrics::LogoutKind;
use crate::session::keys;
use crate::state::AppState;

const PREFIX: &str = "/admin/sessions";

/// Handles `/admin/sessions*`.
pub(crate) async fn handle<B>(state: &AppState, req: &Request<B>) -> Response<Body> {
    let Some(expected) = &state.config.admin_token else {
        return json(
            StatusCode::NOT_FOUND,
            &json!({ "error": "not_found", "message": "admin API disabled (set BFF_ADMIN_TOKEN)" }),
        );
    };
    let presented = header_str(req.headers(), header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
        let mut res = json(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "unauthorized" }),
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return res;
    }
    let rest = req.uri().path().strip_prefix(PREFIX).unwrap_or("");
    let sub =
        query_pairs(req.uri().query(), &["sub"]).and_then(|p| param(&p, "sub").map(str::to_owned));
    let result = match (req.method(), rest, sub) {
        (&Method::GET, "/count", _) => count(state).await,
        (&Method::GET, "" | "/", Some(sub)) => list(state, &sub).await,
        (&Method::DELETE, "" | "/", Some(sub)) => revoke_subject(state, &sub).await,
        (&Method::DELETE, rest, None) if rest.strip_prefix('/').is_some_and(|h| h.len() == 22) => {
            revoke_one(state, rest.trim_start_matches('/')).await
        }
        _ => Ok(json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "bad_request", "message": "see the admin API documentation" }),
        )),
    };
    result.unwrap_or_else(|err| {
        tracing::error!(error = %err, "admin session API failed");
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "error": "session_store_unavailable" }),
        )
    })
}

type Answer = Result<Response<Body>, crate::session::StoreError>;

async fn count(state: &AppState) -> Answer {
    Ok(json(
        StatusCode::OK,
        &json!({ "active": state.vault.count().await? }),
    ))
}

async fn list(state: &AppState, sub: &str) -> Answer {
    let sessions: Vec<serde_json::Value> = state
        .vault
        .list_subject(sub)
        .await?
        .into_iter()
        .map(|(hash, meta)| {
            json!({ "session": hash, "created_at": meta.created_at, "expires_at": meta.expires_at, "last_seen": meta.last_seen })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "sub": sub, "sessions": sessions }),
    ))
}

async fn revoke_subject(state: &AppState, sub: &str) -> Answer {
    let revoked = state.vault.end_subject(sub).await?;
    let count = u64::try_from(revoked).unwrap_or(u64::MAX);
    state.metrics.auth.logged_out(LogoutKind::Operator, count);
    tracing::info!(revoked, "operator revoked all sessions of a user");
    Ok(json(StatusCode::OK, &json!({ "revoked": revoked })))
}

async fn revoke_one(state: &AppState, hash: &str) -> Answer {
    let valid = hash
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid || !state.vault.end_by_hash(hash).await? {
        return Ok(json(
            StatusCode::NOT_FOUND,
            &json!({ "error": "not_found" }),
        ));
    }
    state.metrics.auth.logged_out(LogoutKind::Operator, 1);
    tracing::info!(session = keys::log_id(hash), "operator revoked a session");
    Ok(json(StatusCode::OK, &json!({ "revoked": 1 })))
}
