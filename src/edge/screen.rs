//! Screening of every public request before it is classified: per-field
//! size limits (→ 431, RFC 6585 §5), a single well-formed `Host`
//! (RFC 9112 §3.2: 400 otherwise), and the request target rewritten to its
//! canonical origin-form path (absolute-form authorities are dropped;
//! see [`super::path`]). After [`screen`], every later phase sees the
//! one path that route matching uses and the upstream receives.

use http::header::{self, HeaderMap};
use http::uri::{Authority, Uri};
use http::{Request, Version};

use super::path;
use crate::error::Error;

/// Largest total size of one header field name's values (e.g. all
/// `Cookie` lines together), in bytes. Browsers cap a cookie at 4096
/// bytes (RFC 6265 §6.1), so 8 KiB leaves room without inviting abuse.
pub(crate) const MAX_FIELD_BYTES: usize = 8 * 1024;

/// Screens `req` in place; an error is the response to send.
pub(crate) fn screen<B>(req: &mut Request<B>) -> Result<(), Error> {
    check_field_sizes(req.headers())?;
    check_host(req.version(), req.headers())?;
    let canonical = path::normalize(req.uri().path())
        .ok_or(Error::BadRequest("The request path is not allowed."))?;
    let target = match req.uri().query() {
        Some(query) => format!("{canonical}?{query}"),
        None => canonical,
    };
    *req.uri_mut() = target
        .parse::<Uri>()
        .map_err(|_err| Error::BadRequest("The request path is not allowed."))?;
    Ok(())
}

fn check_field_sizes(headers: &HeaderMap) -> Result<(), Error> {
    for name in headers.keys() {
        let total: usize = headers.get_all(name).iter().map(|v| v.len()).sum();
        if total > MAX_FIELD_BYTES {
            return Err(Error::HeadersTooLarge);
        }
    }
    Ok(())
}

/// HTTP/1.1 needs exactly one `Host`; any `Host` must be a plain authority
/// (no user info). h2 carries `:authority` instead, which bff ignores.
fn check_host(version: Version, headers: &HeaderMap) -> Result<(), Error> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(Error::BadRequest(
            "The request has more than one Host header.",
        ));
    }
    match first {
        None if version == Version::HTTP_11 => {
            Err(Error::BadRequest("The request has no Host header."))
        }
        None => Ok(()),
        Some(value) => {
            let valid = value
                .to_str()
                .ok()
                .and_then(|s| s.parse::<Authority>().ok())
                .is_some_and(|a| !a.as_str().contains('@'));
            if valid {
                Ok(())
            } else {
                Err(Error::BadRequest("The Host header is not valid."))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, hosts: &[&'static str]) -> Request<()> {
        let mut req = Request::builder().uri(uri).body(()).unwrap();
        for host in hosts {
            req.headers_mut()
                .append(header::HOST, http::HeaderValue::from_static(host));
        }
        req
    }

    #[test]
    fn h7_absolute_form_is_reduced_to_the_canonical_path() {
        let mut req = request(
            "http://169.254.169.254//api/%61/x?q=1",
            &["app.example.test"],
        );
        screen(&mut req).unwrap();
        assert_eq!(req.uri().to_string(), "/api/a/x?q=1");
        assert!(req.uri().authority().is_none());
    }

    #[test]
    fn h7_bad_or_duplicate_host_is_refused() {
        for hosts in [
            &["a.test", "b.test"][..],
            &["user@evil.test"],
            &["bad host"],
            &[],
        ] {
            let mut req = request("/x", hosts);
            assert!(
                matches!(screen(&mut req), Err(Error::BadRequest(_))),
                "{hosts:?}"
            );
        }
    }

    #[test]
    fn a1_an_oversized_field_is_431() {
        let mut req = request("/x", &["a.test"]);
        let big = http::HeaderValue::from_str(&"c=".repeat(MAX_FIELD_BYTES)).unwrap();
        req.headers_mut().insert(header::COOKIE, big);
        assert!(matches!(screen(&mut req), Err(Error::HeadersTooLarge)));
    }
}
