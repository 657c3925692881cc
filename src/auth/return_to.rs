//! Validation of post-login return paths (RFC 9700 §4.11.1: no open
//! redirector). Only a local absolute path is accepted. The *raw*
//! candidate (as it will appear in `Location`) must start with one `/`
//! whose next byte is not `/` or `\`, and contain no control character,
//! whitespace, backslash or non-ASCII byte. Its path part, percent-decoded,
//! must still not start with `//` or `/\` nor hold a control character or
//! backslash. Any well-formed percent-escape is allowed in the query and
//! fragment, so deep links such as `/search?q=a%20b` survive the login.

/// The default landing path.
pub(crate) const DEFAULT: &str = "/";
/// Longest accepted return path.
const MAX_LEN: usize = 1024;

/// Returns the path if it is a safe local target, else `None`.
pub(crate) fn validate(candidate: &str) -> Option<String> {
    let raw = candidate.as_bytes();
    let structure_ok = !candidate.is_empty()
        && candidate.len() <= MAX_LEN
        && raw[0] == b'/'
        && !matches!(raw.get(1), Some(b'/' | b'\\'))
        && raw.iter().all(|b| b.is_ascii_graphic() && *b != b'\\');
    if !structure_ok || !escapes_well_formed(raw) {
        return None;
    }
    let path = candidate.split(['?', '#']).next().unwrap_or("");
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    let decoded_ok = !decoded.starts_with(b"//")
        && !decoded.starts_with(b"/\\")
        && !decoded.iter().any(|b| b.is_ascii_control() || *b == b'\\');
    decoded_ok.then(|| candidate.to_owned())
}

/// Every `%` starts a `%XX` escape with two hex digits.
fn escapes_well_formed(raw: &[u8]) -> bool {
    raw.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(at, _)| {
            raw.get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
        })
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
    fn l8_deep_links_with_encoded_characters_in_the_query_pass() {
        for ok in [
            "/search?q=a%20b",
            "/search?q=a%5Cb",
            "/search?q=line%0Abreak",
            "/search?q=caf%E9",
            "/search?q=caf%C3%A9&x=%00",
            "/files/my%20doc?x=%2F%2Fevil",
            "/a?b=c#frag%20x",
        ] {
            assert_eq!(validate(ok).as_deref(), Some(ok), "{ok} was refused");
            let resolved = url::Url::parse("https://app.example.test")
                .unwrap()
                .join(ok)
                .unwrap();
            assert_eq!(
                resolved.origin().ascii_serialization(),
                "https://app.example.test"
            );
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
            "/caf\u{e9}",
            "/x?q=a b",
            "/x?q=a\\b",
            "/x?q=%zz",
            "/x?q=%4",
            "/%2f/evil.example",
            "/%5c%5cevil",
            "/x/%0a",
        ];
        for bad in corpus {
            assert_eq!(validate(bad), None, "{bad:?} was accepted");
        }
    }
}
