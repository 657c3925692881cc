//! Post-login return paths: `auth::return_to::validate` (no open redirect).
//!
//! Input: the candidate `return_to` value (already query-decoded, as the
//! login handler passes it).
//!
//! Invariants for an accepted value:
//! - it is returned unchanged, at most 1024 bytes;
//! - it starts with a single `/` (not `//`, not `/\`) and has no
//!   backslash, control character or whitespace as it is; its path part
//!   (before `?`/`#`) once percent-decoded still starts with one `/` and
//!   has no backslash or control character (an encoded space in a path is
//!   a file name, not a redirect);
//! - resolved against the public origin `https://app.example.test` (as a
//!   browser resolves `Location`), raw and once decoded, it stays on that
//!   origin with no user info;
//! - it is usable as a `Location` header value (the callback redirects
//!   there).
//!
//! And the converse for plain paths: `/` followed by letters, digits,
//! `-`, `_`, `.` and single `/` is always accepted.
#![no_main]

use bff::fuzzing::validate_return_to;
use bff_fuzz::decode_once;
use libfuzzer_sys::fuzz_target;
use url::Url;

const ORIGIN: &str = "https://app.example.test";

fn stays_home(base: &Url, target: &str, candidate: &str) {
    let joined = base
        .join(target)
        .unwrap_or_else(|e| panic!("{candidate:?}: {target:?} does not resolve: {e}"));
    assert_eq!(
        joined.origin(),
        base.origin(),
        "{candidate:?} leaves the origin: {joined}"
    );
    assert!(
        joined.username().is_empty() && joined.password().is_none(),
        "{candidate:?} -> {joined}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(candidate) = std::str::from_utf8(data) else {
        return;
    };
    let plain = candidate.len() <= 1024
        && candidate.starts_with('/')
        && !candidate.contains("//")
        && candidate[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    let Some(accepted) = validate_return_to(candidate) else {
        assert!(!plain, "a plain local path was refused: {candidate:?}");
        return;
    };
    assert_eq!(accepted, candidate);
    assert!(accepted.len() <= 1024);
    // The raw value, and its path part once decoded (what a browser's
    // path resolution, or an upstream, sees).
    let decoded = decode_once(candidate);
    let decoded_path = decode_once(candidate.split(['?', '#']).next().unwrap_or(""));
    for (text, raw) in [(candidate, true), (decoded_path.as_ref(), false)] {
        assert!(text.starts_with('/'), "{candidate:?}");
        assert!(!text.starts_with("//") && !text.starts_with("/\\"), "{candidate:?}");
        assert!(
            !text
                .chars()
                .any(|c| c == '\\' || c.is_control() || (raw && c.is_whitespace())),
            "{candidate:?}"
        );
    }
    let base = Url::parse(ORIGIN).expect("origin");
    stays_home(&base, candidate, candidate);
    stays_home(&base, &decoded, candidate);
    assert!(
        http::HeaderValue::from_str(candidate).is_ok(),
        "accepted {candidate:?} cannot be sent as Location"
    );
});
