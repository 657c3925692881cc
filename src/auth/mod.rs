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

/// Path of the login endpoint (also the `login_url` of 401 bodies).
pub(crate) const LOGIN_PATH: &str = "/auth/login";
