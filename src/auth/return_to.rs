//! Validation of post-login return paths (RFC 9700 §4.11.1: no open
//! redirector). Only a local absolute path is accepted: it must start with
//! a single `/`, and contain no backslash, no control character or space
//! (before or after percent-decoding), and no scheme or authority.

/// The default landing path.
pub(crate) const DEFAULT: &str = "/";
/// Longest accepted return path.
const MAX_LEN: usize = 1024;

/// Returns the path if it is a safe local target, else `None`.
pub(crate) fn validate(candidate: &str) -> Option<String> {
    if candidate.is_empty() || candidate.len() > MAX_LEN {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(candidate)
        .decode_utf8()
        .ok()?;
    for text in [candidate, decoded.as_ref()] {
        let unsafe_char = text
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
        if unsafe_char
            || !text.starts_with('/')
            || text.starts_with("//")
            || text.starts_with("/\\")
        {
            return None;
        }
    }
    // A path that still parses as an absolute URL on its own is refused.
    if url::Url::parse(candidate).is_ok() {
        return None;
    }
    Some(candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn local_paths_pass() {
        for ok in ["/", "/app", "/app/page?x=1&y=%2F", "/a#frag"] {
            assert_eq!(validate(ok).as_deref(), Some(ok), "{ok}");
        }
    }

    #[test]
    fn l8_open_redirect_payloads_are_refused() {
        let corpus = [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/%09/evil.example",
            "javascript:alert(1)",
            "/%0d%0aSet-Cookie:x=1",
            "\\\\evil",
            "%2F%2Fevil.example",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "http:/evil",
            " /x",
            "/x\ny",
            "evil.example",
            "",
            "/%E0%A4%A",
            "//",
            "/\t/evil",
        ];
        for bad in corpus {
            assert_eq!(validate(bad), None, "{bad:?} was accepted");
        }
    }
}
