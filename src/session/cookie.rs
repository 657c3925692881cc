//! The cookie codec: bff's `Set-Cookie` values and reading bff's cookies
//! out of requests (with the `cookie` crate's parser).
//!
//! Session cookie (BBA §6.1.3.2, RFC 6265bis §4.1.3.2): `__Host-` prefix,
//! `Secure; HttpOnly; SameSite=Strict; Path=/`, no `Domain`. The login
//! binding cookie is `SameSite=Lax` so it survives the top-level redirect
//! back from the provider (BBA "Cookie Security").

use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::COOKIE;

/// Cookie names and attributes, derived from the session config.
#[derive(Debug, Clone)]
pub struct CookieNames {
    /// Session cookie name.
    pub session: String,
    /// Login-binding cookie name.
    pub login: String,
    /// Whether cookies carry `Secure`.
    pub secure: bool,
}

/// What a request carries under one cookie name.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Not present.
    Missing,
    /// Exactly one value.
    One(String),
    /// Present more than once (security case C7): never pick one.
    Duplicate,
}

// === impl CookieNames ===

impl CookieNames {
    /// Names for a session cookie called `session`; the login-binding
    /// cookie is `<session>-login`, always `__Host-`-prefixed when cookies
    /// are `Secure`: a binding cookie a sibling subdomain could plant would
    /// let an attacker bind a victim's browser to the attacker's login
    /// (login CSRF; RFC 6265bis §4.1.3.2).
    pub fn new(session: &str, secure: bool) -> Self {
        let login = if secure && !session.starts_with("__Host-") {
            format!("__Host-{session}-login")
        } else {
            format!("{session}-login")
        };
        Self {
            session: session.to_owned(),
            login,
            secure,
        }
    }

    /// `Set-Cookie` value for a new session, living `max_age_secs`.
    pub(crate) fn session_cookie(&self, value: &str, max_age_secs: u64) -> String {
        self.build(&self.session, value, SameSite::Strict, max_age_secs)
    }

    /// `Set-Cookie` value that deletes the session cookie.
    pub(crate) fn clear_session(&self) -> String {
        self.build(&self.session, "", SameSite::Strict, 0)
    }

    /// `Set-Cookie` value for the login-binding cookie (10 minutes).
    pub(crate) fn login_cookie(&self, value: &str) -> String {
        self.build(&self.login, value, SameSite::Lax, 600)
    }

    fn build(&self, name: &str, value: &str, same_site: SameSite, max_age_secs: u64) -> String {
        let max_age =
            cookie::time::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX));
        Cookie::build((name.to_owned(), value.to_owned()))
            .path("/")
            .secure(self.secure)
            .http_only(true)
            .same_site(same_site)
            .max_age(max_age)
            .build()
            .to_string()
    }

    /// Whether `name` is one of bff's cookies (never forwarded upstream,
    /// never accepted from upstream).
    pub(crate) fn is_ours(&self, name: &str) -> bool {
        name == self.session || name == self.login
    }
}

/// Looks up cookie `name` across every `Cookie` header of a request.
pub fn lookup(headers: &HeaderMap, name: &str) -> Lookup {
    let mut found = Lookup::Missing;
    for cookie in request_cookies(headers) {
        if cookie.name() == name {
            found = match found {
                Lookup::Missing => Lookup::One(cookie.value().to_owned()),
                _ => return Lookup::Duplicate,
            };
        }
    }
    found
}

/// Every cookie in the request's `Cookie` headers (unparsable pieces are
/// skipped). Header values are read as UTF-8, lossily: a line holding one
/// cookie with raw non-ASCII bytes (obs-text, which browsers send and a
/// sibling subdomain can plant) must neither hide the other cookies on it
/// nor a second copy of bff's (case C7; a fuzz finding).
pub(crate) fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'static>> + '_ {
    headers
        .get_all(COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .flat_map(|v| Cookie::split_parse(v).filter_map(Result::ok))
}

/// The request's `Cookie` header without bff's cookies, or `None` when
/// nothing is left (BBA §6.1.1: the upstream never sees the session cookie).
pub fn without_ours(headers: &HeaderMap, names: &CookieNames) -> Option<String> {
    let kept: Vec<String> = request_cookies(headers)
        .filter(|c| !names.is_ours(c.name()))
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_cookies(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(COOKIE, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn c1_session_cookie_has_every_hardening_attribute() {
        let names = CookieNames::new("__Host-bff", true);
        let c = names.session_cookie("abc", 28_800);
        for part in [
            "__Host-bff=abc",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=28800",
        ] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!c.contains("Domain"));
        let login = names.login_cookie("xyz");
        assert!(
            login.starts_with("__Host-bff-login=xyz")
                && login.contains("SameSite=Lax")
                && login.contains("Secure")
        );
    }

    #[test]
    fn c1_the_binding_cookie_is_host_prefixed_whatever_the_session_cookie_is_called() {
        assert_eq!(
            CookieNames::new("__Host-bff", true).login,
            "__Host-bff-login"
        );
        assert_eq!(
            CookieNames::new("session", true).login,
            "__Host-session-login"
        );
        assert_eq!(
            CookieNames::new("__Secure-s", true).login,
            "__Host-__Secure-s-login"
        );
        assert_eq!(
            CookieNames::new("bff", false).login,
            "bff-login",
            "insecure dev mode"
        );
        let names = CookieNames::new("session", true);
        let login = names.login_cookie("v");
        assert!(login.starts_with("__Host-session-login=v") && login.contains("Path=/"));
        assert!(login.contains("Secure") && !login.contains("Domain"));
    }

    #[test]
    fn c7_a_duplicate_in_a_non_ascii_cookie_line_is_still_seen() {
        // Fuzz regression (fuzz/regressions/cookie/): the second copy hid
        // in a header value with raw UTF-8, which was skipped whole.
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_bytes(b"__Host-bff=one\xc3\xa9").unwrap(),
        );
        headers.append(COOKIE, HeaderValue::from_static("__Host-bff=two"));
        assert_eq!(lookup(&headers, "__Host-bff"), Lookup::Duplicate);
        let mut one_line = HeaderMap::new();
        one_line.append(
            COOKIE,
            HeaderValue::from_bytes(b"planted=\xff\xfe; __Host-bff=s").unwrap(),
        );
        assert_eq!(
            lookup(&one_line, "__Host-bff"),
            Lookup::One("s".into()),
            "a planted cookie hid the session"
        );
        let mut minimal = HeaderMap::new();
        minimal.append(COOKIE, HeaderValue::from_static("_="));
        minimal.append(COOKIE, HeaderValue::from_bytes(b"_=\xff").unwrap());
        assert_eq!(lookup(&minimal, "_"), Lookup::Duplicate);
    }

    #[test]
    fn c7_duplicate_session_cookies_are_never_resolved() {
        let headers = with_cookies(&["a=1; bff=one", "bff=two"]);
        assert_eq!(lookup(&headers, "bff"), Lookup::Duplicate);
        assert_eq!(lookup(&headers, "a"), Lookup::One("1".into()));
        assert_eq!(lookup(&headers, "zzz"), Lookup::Missing);
    }

    #[test]
    fn c9_our_cookies_are_stripped_and_others_kept() {
        let names = CookieNames::new("__Host-bff", true);
        let headers = with_cookies(&[
            "theme=dark; __Host-bff=secret; __Host-bff-login=x",
            "lang=en",
        ]);
        assert_eq!(
            without_ours(&headers, &names).as_deref(),
            Some("theme=dark; lang=en")
        );
        assert_eq!(without_ours(&with_cookies(&["__Host-bff=s"]), &names), None);
    }
}
