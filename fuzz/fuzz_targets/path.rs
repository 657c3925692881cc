//! Request-path canonicalisation and route matching: `edge::path::normalize`,
//! `edge::screen::screen`, `RouteTable::classify` and `upstream_uri`.
//!
//! Input, line by line: the request target (as on the request line), the
//! `Host` header, then extra route prefixes (a trailing `!` strips the
//! prefix; a line `-` removes the default route `/`).
//!
//! Invariants:
//! - a canonical path starts with `/`, has no `//`, no backslash, no
//!   control or non-ASCII byte, no dot segment (also `..;x`, also after one
//!   more percent-decoding), and re-canonicalises to itself;
//! - screening rewrites the target to exactly `normalize(path)?query`,
//!   with no scheme or authority left;
//! - the matched route's prefix is a segment prefix of the path (segment
//!   parameters ignored), no longer prefix matches, a 404 means no prefix
//!   matches, and the path stays under the prefix after decoding; an
//!   upstream that decodes once and drops segment parameters picks the
//!   same route (a known finding for `%3B`, checked only with
//!   `BFF_FUZZ_STRICT=1`: see `regressions/README.md`);
//! - the upstream URI keeps the route's scheme and authority (no SSRF),
//!   stays under the upstream's base path, is the base joined with the
//!   (stripped) path, and carries the query unchanged.
#![no_main]

use bff::fuzzing::{RouteSpec, Routes, normalize_path, screen_target};
use bff_fuzz::{decode_once, has_dot_segment, segment_prefix, without_params};
use http::Uri;
use libfuzzer_sys::fuzz_target;

const FIXED: &[(&str, &str, bool)] = &[
    ("/api", "http://api.internal:8080/base/", true),
    ("/api/v2/", "http://v2.internal", false),
    ("/admin/", "https://admin.internal/", true),
    ("/static", "http://static.internal/assets", false),
    ("/a/b", "http://ab.internal/x/y", true),
];

fn check_canonical(canonical: &str, from: &str) {
    assert!(canonical.starts_with('/'), "{from:?} -> {canonical:?}");
    assert!(!canonical.contains("//"), "{from:?} -> {canonical:?}");
    assert!(!canonical.contains('\\'), "{from:?} -> {canonical:?}");
    assert!(
        canonical.bytes().all(|b| b.is_ascii() && !b.is_ascii_control()),
        "{from:?} -> {canonical:?}"
    );
    assert!(!has_dot_segment(canonical), "{from:?} -> {canonical:?}");
    let decoded = decode_once(canonical);
    assert!(
        !has_dot_segment(&decoded),
        "{from:?} -> {canonical:?}, decoded {decoded:?}"
    );
    assert_eq!(
        normalize_path(canonical).as_deref(),
        Some(canonical),
        "not idempotent: {from:?} -> {canonical:?}"
    );
}

/// A prefix config validation would accept.
fn valid_prefix(p: &str) -> bool {
    p.starts_with('/') && !p.contains("..") && !p.contains("//") && !p.contains('%')
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let host = lines
        .next()
        .and_then(|h| std::str::from_utf8(h).ok())
        .filter(|h| !h.is_empty())
        .unwrap_or("app.example.test");
    let mut specs: Vec<RouteSpec> = FIXED
        .iter()
        .map(|(prefix, upstream, strip)| RouteSpec {
            prefix: (*prefix).into(),
            upstream: (*upstream).into(),
            strip_prefix: *strip,
        })
        .collect();
    let mut default_route = true;
    for line in lines.take(8).filter_map(|l| std::str::from_utf8(l).ok()) {
        if line == "-" {
            default_route = false;
            continue;
        }
        let (prefix, strip) = match line.strip_suffix('!') {
            Some(p) => (p, true),
            None => (line, false),
        };
        if valid_prefix(prefix) {
            specs.push(RouteSpec {
                prefix: prefix.into(),
                upstream: "http://extra.internal/e".into(),
                strip_prefix: strip,
            });
        }
    }
    if default_route {
        specs.push(RouteSpec {
            prefix: "/".into(),
            upstream: "http://default.internal".into(),
            strip_prefix: false,
        });
    }

    // normalize() on its own, for any text.
    if let Ok(text) = std::str::from_utf8(target) {
        if let Some(canonical) = normalize_path(text) {
            check_canonical(&canonical, text);
        }
    }

    // The front door: parse as hyper does, screen, classify, forward.
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    let Ok(screened) = screen_target(&uri, host) else {
        return;
    };
    let expected = normalize_path(uri.path());
    assert_eq!(
        Some(screened.path()),
        expected.as_deref(),
        "screen and normalize disagree on {uri}"
    );
    assert_eq!(screened.query(), uri.query(), "query changed: {uri} -> {screened}");
    assert!(
        screened.scheme().is_none() && screened.authority().is_none(),
        "{uri} -> {screened}"
    );
    let path = screened.path();
    check_canonical(path, &uri.to_string());

    let routes = Routes::new(&specs).expect("fixed routes are valid");
    let key = without_params(path);
    let matching: Vec<&RouteSpec> = specs.iter().filter(|s| segment_prefix(&s.prefix, &key)).collect();
    let Some(found) = routes.classify(path, screened.query()) else {
        assert!(matching.is_empty(), "404 for {path:?} though {matching:?} match");
        return;
    };
    assert!(
        segment_prefix(&found.prefix, &key),
        "{path:?} matched {:?}, which is not a segment prefix",
        found.prefix
    );
    let longest = matching.iter().map(|s| s.prefix.len()).max().unwrap_or(0);
    assert_eq!(found.prefix.len(), longest, "{path:?} matched {:?}, not the longest", found.prefix);
    let decoded_key = without_params(&decode_once(path));
    assert!(
        segment_prefix(&found.prefix, &decoded_key),
        "{path:?} escapes {:?} once decoded: {decoded_key:?}",
        found.prefix
    );
    // An upstream that decodes once and drops segment parameters (the
    // threat model of normalize and classify) must see the same route.
    // Known finding (regressions/path/): an encoded `;` (`%3B`) is not a
    // segment parameter to classify, but is one to such an upstream.
    let encoded_semicolon = path.to_ascii_uppercase().contains("%3B");
    let decoded_longest = specs
        .iter()
        .filter(|s| segment_prefix(&s.prefix, &decoded_key))
        .map(|s| s.prefix.as_str())
        .max_by_key(|p| p.len());
    assert!(
        decoded_longest == Some(found.prefix.as_str())
            || (encoded_semicolon && !bff_fuzz::strict()),
        "{path:?} is served by {:?}, but once decoded ({decoded_key:?}) it belongs to {decoded_longest:?}",
        found.prefix
    );

    let upstream = found.upstream_uri.unwrap_or_else(|e| panic!("{path:?}: no upstream URI: {e}"));
    let base = &found.upstream;
    assert_eq!(upstream.scheme_str(), Some(base.scheme()), "{upstream}");
    let authority = match base.port() {
        Some(port) => format!("{}:{port}", base.host_str().unwrap_or("")),
        None => base.host_str().unwrap_or("").to_owned(),
    };
    assert_eq!(upstream.authority().map(|a| a.as_str()), Some(authority.as_str()), "{upstream}");
    let base_path = base.path().trim_end_matches('/');
    let rest = if found.strip_prefix {
        path.strip_prefix(found.prefix.trim_end_matches('/')).unwrap_or(path)
    } else {
        path
    };
    let rest = if rest.starts_with('/') { rest.to_owned() } else { format!("/{rest}") };
    assert_eq!(upstream.path(), format!("{base_path}{rest}"), "{path:?} via {:?}", found.prefix);
    assert!(
        segment_prefix(&format!("{base_path}/"), upstream.path()),
        "{upstream} leaves the base path {base_path:?}"
    );
    assert!(!has_dot_segment(&decode_once(upstream.path())), "{upstream}");
    assert_eq!(upstream.query(), screened.query(), "{upstream}");
});
