//! The `/auth/*` endpoints (login, callback, session info, logout,
//! back-channel logout) and the authentication phase every request with a
//! session goes through ([`authenticate`]).

pub(crate) mod authenticate;
pub(crate) mod backchannel;
pub(crate) mod callback;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod return_to;
pub(crate) mod session_info;

use std::net::IpAddr;

use crate::error::Error;
use crate::metrics::ThrottleReason;
use crate::state::AppState;
use crate::throttle::Throttled;

/// Path of the login endpoint (also the `login_url` of 401 bodies).
pub(crate) const LOGIN_PATH: &str = "/auth/login";

/// The login flood limits ([`crate::throttle`]) for one login or callback
/// from `client` (and the browser whose binding cookie hashes to
/// `browser`): 429 with `Retry-After` beyond them, counted by reason.
fn check_login_limits(
    state: &AppState,
    client: IpAddr,
    browser: Option<&str>,
) -> Result<(), Error> {
    let (reason, wait) = match state.throttle.check(client, browser) {
        Ok(()) => return Ok(()),
        Err(Throttled::Client(wait)) => (ThrottleReason::Client, wait),
        Err(Throttled::Browser(wait)) => (ThrottleReason::Browser, wait),
    };
    state.metrics.login_throttled(reason);
    tracing::info!(%client, ?reason, "login throttled");
    Err(Error::TooManyRequests(wait.as_secs() + 1))
}
