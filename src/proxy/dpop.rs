//! How the access token goes upstream. On a route with `dpop = true` it
//! goes DPoP-bound (RFC 9449 §7.1): `Authorization: DPoP <token>` and a
//! fresh proof naming the method, the target URI without query and the
//! token's hash (`ath`), never without its proof (case P1); a session
//! without a DPoP key gets 401 there, so it logs in again. Elsewhere it is
//! `Authorization: Bearer` (RFC 6750 §2.1).
//!
//! A resource server's nonce challenge (RFC 9449 §9: 401 with
//! `WWW-Authenticate: DPoP error="use_dpop_nonce"` and `DPoP-Nonce`) is
//! remembered for the route; an idempotent request without a body is sent
//! once more with the nonce (case P2), others get the 401 and the next
//! request carries the nonce.

use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode, Uri};

use crate::error::Error;
use crate::route_table::Route;
use crate::session::{SessionData, now_unix};
use crate::signing::dpop_key::htu;

/// RFC 9449 §4.1 / §8.1 header names.
pub(crate) const DPOP: &str = "dpop";
const DPOP_NONCE: &str = "dpop-nonce";

/// The credentials one upstream request carries.
pub(crate) struct Credentials {
    /// The `Authorization` value.
    pub(crate) authorization: HeaderValue,
    /// The `DPoP` proof, on `dpop` routes.
    pub(crate) proof: Option<HeaderValue>,
}

/// The credentials for sending `session`'s token to `uri` with `method`.
pub(crate) fn credentials(
    route: &Route,
    session: &SessionData,
    method: &Method,
    uri: &Uri,
) -> Result<Credentials, Error> {
    let token = session.access_token.as_str();
    if !route.config.dpop {
        return Ok(Credentials {
            authorization: sensitive(&format!("Bearer {token}"))?,
            proof: None,
        });
    }
    // A session from before DPoP was on has an unbound token: it must log
    // in again rather than send a bearer where a bound token is expected.
    let key = session.dpop_key().ok_or(Error::Unauthenticated)?;
    let nonce = route.dpop_nonce();
    let proof = key
        .proof(
            method.as_str(),
            &htu(uri),
            now_unix(),
            Some(token),
            nonce.as_deref().map(String::as_str),
        )
        .map_err(|_err| Error::Internal("DPoP proof"))?;
    Ok(Credentials {
        authorization: sensitive(&format!("DPoP {token}"))?,
        proof: Some(sensitive(&proof)?),
    })
}

fn sensitive(text: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(text).map_err(|_err| Error::Internal("token header"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Remembers the upstream's `DPoP-Nonce`; whether the response is the
/// `use_dpop_nonce` challenge (RFC 9449 §9).
pub(crate) fn learn_nonce<B>(route: &Route, response: &Response<B>) -> bool {
    let Some(nonce) = response
        .headers()
        .get(DPOP_NONCE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    route.set_dpop_nonce(nonce);
    response.status() == StatusCode::UNAUTHORIZED
        && response
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.trim_start().starts_with("DPoP") && v.contains("error=\"use_dpop_nonce\""))
}

/// Whether a method may be sent twice (RFC 9110 §9.2.2); the caller also
/// requires that the request has no body to replay.
pub(crate) fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}
