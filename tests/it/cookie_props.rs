//! Property tests for the request-cookie parser as the proxy uses it
//! (C7, C9): whatever `Cookie` headers a client sends, bff's cookies never
//! survive into the upstream's `Cookie`, a duplicated session cookie is
//! never resolved to one value, and a single one is found exactly.

use bff::cookie::{CookieNames, Lookup, lookup, without_ours};
use http::{HeaderMap, HeaderValue, header::COOKIE};
use proptest::prelude::*;

fn names() -> CookieNames {
    CookieNames::new("__Host-bff", true)
}

fn pair() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "__Host-bff",
        "__Host-bff-login",
        "theme",
        "__host-bff",
        "bff",
        "a",
        " __Host-bff",
        "x=y",
    ]);
    let value = "[A-Za-z0-9_=;\" -]{0,12}";
    (name, value).prop_map(|(n, v)| format!("{n}={v}"))
}

fn headers() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::collection::vec(pair(), 0..5).prop_map(|p| p.join("; ")),
        0..3,
    )
}

fn map(lines: &[String]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines {
        if let Ok(value) = HeaderValue::from_str(line) {
            map.append(COOKIE, value);
        }
    }
    map
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn c9_bff_cookies_never_reach_the_upstream(lines in headers()) {
        let forwarded = without_ours(&map(&lines), &names()).unwrap_or_default();
        let reparsed = map(&[forwarded]);
        for name in ["__Host-bff", "__Host-bff-login"] {
            prop_assert_eq!(lookup(&reparsed, name), Lookup::Missing, "{:?}", lines);
        }
    }

    #[test]
    fn c7_a_duplicated_session_cookie_is_never_resolved(lines in headers(), value in "[A-Za-z0-9_-]{1,43}") {
        let mut lines = lines;
        lines.push(format!("__Host-bff={value}"));
        lines.push(format!("a=1; __Host-bff={value}x"));
        prop_assert_eq!(lookup(&map(&lines), "__Host-bff"), Lookup::Duplicate);
    }

    #[test]
    fn a_single_session_cookie_is_found_exactly(value in "[A-Za-z0-9_-]{1,43}", other in "[a-z]{1,8}") {
        let lines = vec![format!("{other}=1; __Host-bff={value}"), "theme=dark".to_owned()];
        prop_assert_eq!(lookup(&map(&lines), "__Host-bff"), Lookup::One(value));
    }
}
