//! Request-path normalisation: the one canonical form of a path that both
//! route matching and the upstream see, so no request can climb out of
//! its route's prefix (BBA §6.1.3.6; security case H7).
//!
//! Steps (RFC 3986 §6.2.2): percent-encoded unreserved characters are
//! decoded (so `%2e%2e` *is* `..`, and `%61pi` *is* `api`), other escapes
//! are upper-cased; empty segments (`//`) collapse. Refused outright: dot
//! segments (`.`, `..`, also `..;x`, which some servlet containers treat as
//! `..`), encoded `/`, `\` or `;`, raw `\`, control characters (raw or encoded),
//! malformed escapes, and anything not starting with `/` (RFC 9112 §3.2.1
//! origin-form; absolute-form authorities are dropped before this).

/// The canonical form of `raw`, or `None` when the path is refused.
pub(crate) fn normalize(raw: &str) -> Option<String> {
    let decoded = decode_unreserved(raw)?;
    let mut out = String::with_capacity(decoded.len());
    let mut segments = decoded.split('/');
    if segments.next() != Some("") {
        return None; // not starting with '/'
    }
    let segments: Vec<&str> = segments.collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        // Decoded once more, as an upstream would (`..%3B` is `..;`).
        let full = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        let bare = full.split(';').next().unwrap_or("");
        if bare == "." || bare == ".." {
            return None;
        }
        if segment.is_empty() && i != last {
            continue; // `//` collapses
        }
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// Decodes `%XX` for unreserved characters, upper-cases the other escapes,
/// and refuses control characters, backslashes and encoded separators.
fn decode_unreserved(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' {
            let value = hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?;
            if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(value));
            } else if value < 0x20 || matches!(value, 0x7f | b'/' | b'\\' | b';') {
                // An encoded `;` is refused like an encoded `/`: an upstream
                // that decodes it would see a segment parameter the route
                // table did not (`/admin%3Bx/secret`).
                return None;
            } else {
                out.push_str(&format!("%{value:02X}"));
            }
            i += 3;
            continue;
        }
        if byte < 0x20 || byte == 0x7f || byte == b'\\' || !byte.is_ascii() {
            return None;
        }
        out.push(char::from(byte));
        i += 1;
    }
    Some(out)
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn h7_traversal_and_encoded_separators_are_refused() {
        for bad in [
            "/api/../admin",
            "/api/%2e%2e/admin",
            "/api/%2E%2E/x",
            "/api/./x",
            "/api/.%2e/x",
            "/api/..%2fadmin",
            "/api/%5c..",
            "/api/%00",
            "/api/..;/admin",
            "/api\\..\\x",
            "api/x",
            "*",
            "/a%2",
            "/a%zz",
            "/a/%2F/b",
            "/a/%0d%0aX: y",
            "/a/..%3Bx/b",
            "/admin%3Bx/secret",
            "/admin%3bx/secret",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
        // A raw `;` stays: the route table matches without segment parameters.
        assert_eq!(
            normalize("/admin;x/secret").as_deref(),
            Some("/admin;x/secret")
        );
    }

    #[test]
    fn paths_are_canonicalised() {
        assert_eq!(normalize("/").as_deref(), Some("/"));
        assert_eq!(normalize("//").as_deref(), Some("/"));
        assert_eq!(normalize("//api///x/").as_deref(), Some("/api/x/"));
        assert_eq!(normalize("/%61pi/%7euser").as_deref(), Some("/api/~user"));
        assert_eq!(normalize("/a%2fb").as_deref(), None);
        assert_eq!(normalize("/q%3fx%20y").as_deref(), Some("/q%3Fx%20y"));
        assert_eq!(
            normalize("/file.tar.gz/..x/...").as_deref(),
            Some("/file.tar.gz/..x/...")
        );
    }

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "/", "//", ".", "..", "%2e", "%2E", "%2f", "%5C", "a", "api", "%", "%41", "%25", "\\",
            ";", "%00", "x.y", "~", "%20", "?", "#",
        ])
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..12).prop_map(|p| format!("/{}", p.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn normalize_is_idempotent_and_canonical(raw in path()) {
            if let Some(norm) = normalize(&raw) {
                let again = normalize(&norm);
                prop_assert_eq!(again.as_deref(), Some(norm.as_str()));
                prop_assert!(norm.starts_with('/'));
                prop_assert!(!norm.contains("//"));
                prop_assert!(!norm.contains('\\'));
                // Even a fully decoding upstream sees no dot segment.
                let decoded = percent_encoding::percent_decode_str(&norm).decode_utf8_lossy().into_owned();
                prop_assert!(!decoded.split('/').any(|s| s == ".." || s == "."), "{} -> {}", raw, decoded);
            }
        }

        #[test]
        fn normalize_never_panics_on_arbitrary_input(raw in ".{0,64}") {
            let _ = normalize(&raw);
        }

        #[test]
        fn a_matched_prefix_cannot_be_escaped(rest in path()) {
            // Whatever follows `/api/`, the canonical path either is refused or
            // still starts with `/api/` after full decoding.
            if let Some(norm) = normalize(&format!("/api{rest}"))
                && norm.starts_with("/api/")
            {
                let decoded = percent_encoding::percent_decode_str(&norm).decode_utf8_lossy().into_owned();
                prop_assert!(decoded.starts_with("/api/"));
            }
        }
    }
}
