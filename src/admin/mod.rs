//! The admin listener: `/healthz` (the process answers), `/readyz` (the
//! provider is discovered and the session store answers; security cases I7
//! and R1: not ready, then ready again without a restart), `/metrics`,
//! the client's public JWKS (`/client-jwks.json`, for `private_key_jwt`)
//! and the operator session API ([`sessions`]).

pub(crate) mod sessions;

use std::sync::atomic::Ordering;

use http::{Request, Response, StatusCode};

use crate::config::ClientAuth;
use crate::http_util::{Body, json};
use crate::state::AppState;

/// Handles one admin request.
pub(crate) async fn handle<B>(state: &AppState, req: &Request<B>) -> Response<Body> {
    match req.uri().path() {
        "/healthz" => json(StatusCode::OK, &serde_json::json!({ "status": "ok" })),
        "/readyz" => readiness(state).await,
        "/metrics" => crate::http_util::response(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.render(),
        ),
        "/client-jwks.json" => client_jwks(state),
        path if path.starts_with("/admin/sessions") => sessions::handle(state, req).await,
        _ => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": "not_found" }),
        ),
    }
}

/// The public keys of `private_key_jwt` client authentication (RFC 7517
/// §5), to register with the provider as the client's JWKS (`jwks_uri` or
/// pasted); 404 when bff authenticates with a secret.
fn client_jwks(state: &AppState) -> Response<Body> {
    match &state.config.oidc.client.auth {
        ClientAuth::PrivateKeyJwt(keys) => {
            crate::http_util::response(StatusCode::OK, "application/jwk-set+json", keys.jwks_json())
        }
        ClientAuth::Secret(_) => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": "no_client_keys" }),
        ),
    }
}

/// 200 when the provider is discovered, the store answers and bff is
/// not draining for shutdown; `bff_ready` follows every answer.
async fn readiness(state: &AppState) -> Response<Body> {
    let provider = state.provider.current().is_some();
    let store = state.vault.store().ping().await;
    let draining = state.draining.load(Ordering::Relaxed);
    let ready = provider && store.is_ok() && !draining;
    state.metrics.health.ready.set(i64::from(ready));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::json!({ "provider": provider, "store": store.is_ok() });
    if draining {
        body["draining"] = serde_json::Value::Bool(true);
    }
    // Why the store is not ready (kind and topology only: log-safe).
    if let Err(err) = store {
        body["store_error"] = serde_json::Value::String(err.0);
    }
    json(status, &body)
}
