//! The configuration file: `bff::config::Config::load` of a TOML file
//! (through `--config`, the entry point `main` uses), with no other flag.
//!
//! Input: the file's text. Inputs naming a `*_file` setting (secret files,
//! a route's `ca_file`) are skipped: the fuzzer must not read arbitrary
//! files, or `/dev/zero`.
//!
//! Invariants for a configuration that loads:
//! - every route prefix starts with `/`, has no `..`, `//` or `%`, and is
//!   neither `/auth` nor under `/auth/`; routes are longest prefix first;
//! - every upstream is http(s) with a host and no query, fragment or
//!   credentials;
//! - the public origin is a bare origin (https unless insecure dev
//!   cookies), and the redirect URL is `<origin>/auth/callback`;
//! - scopes include `openid`; the session lifetime is 1 s to 30 d, the
//!   idle timeout off or at least 1 s; the cookie name is a token, without
//!   `__Host-`/`__Secure-` when cookies are not `Secure`;
//! - the redacted rendering does not depend on the client secret or admin
//!   token (the same file with other values renders the same).
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use bff::fuzzing::{Routes, load_config_file};
use bff_fuzz::segment_prefix;
use libfuzzer_sys::fuzz_target;

static PATH: LazyLock<std::path::PathBuf> = LazyLock::new(|| {
    // Settings come from the file alone.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BFF_") {
            // SAFETY: runs once, before the fuzzer loop, single-threaded.
            unsafe { std::env::remove_var(&name) };
        }
    }
    std::env::temp_dir().join(format!("bff-fuzz-config-{}.toml", std::process::id()))
});

/// Whether `value` names a file to read (`*_file`), anywhere.
fn reads_files(value: &toml::Value) -> bool {
    match value {
        toml::Value::Table(table) => table
            .iter()
            .any(|(key, v)| key.ends_with("_file") || reads_files(v)),
        toml::Value::Array(items) => items.iter().any(reads_files),
        _ => false,
    }
}

/// The string at `key` of the top-level table, if it is long enough to be
/// recognised and occurs exactly once in `text`.
fn unique_secret(table: &toml::Table, key: &str, text: &str) -> Option<String> {
    let secret = table.get(key)?.as_str()?;
    (secret.len() >= 16 && text.matches(secret).count() == 1).then(|| secret.to_owned())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let table: Option<toml::Table> = toml::from_str(text).ok();
    if let Some(table) = &table {
        if reads_files(&toml::Value::Table(table.clone())) {
            return;
        }
    }
    let path = &*PATH;
    std::fs::write(path, text).expect("write the config file");
    let loaded = load_config_file(path);
    let Ok(config) = loaded else {
        return;
    };
    let table = table.expect("a file that loads is TOML");

    let routes = &config.proxy.routes;
    assert!(!routes.is_empty());
    for route in routes {
        let p = &route.prefix;
        assert!(p.starts_with('/'), "route {p:?}");
        assert!(!p.contains("..") && !p.contains("//") && !p.contains('%'), "route {p:?}");
        assert!(!segment_prefix("/auth", p), "route {p:?} claims bff's /auth");
        let up = &route.upstream;
        assert!(matches!(up.scheme(), "http" | "https") && up.host().is_some(), "{up}");
        assert!(up.query().is_none() && up.fragment().is_none(), "{up}");
        assert!(up.username().is_empty() && up.password().is_none(), "{up}");
    }
    assert!(
        routes.windows(2).all(|w| w[0].prefix.len() >= w[1].prefix.len()),
        "routes are not longest first"
    );
    // The table serves no `/auth` path either (the front door keeps them).
    let table_routes = Routes::from_config(&config);
    for auth_path in ["/auth", "/auth/login", "/auth/callback"] {
        if let Some(found) = table_routes.classify(auth_path, None) {
            assert!(
                !segment_prefix("/auth", &found.prefix),
                "{auth_path} routed to {:?}",
                found.prefix
            );
        }
    }

    let origin = url::Url::parse(&config.public_origin).expect("public origin is a URL");
    assert_eq!(origin.origin().ascii_serialization(), config.public_origin);
    assert!(
        origin.scheme() == "https" || (origin.scheme() == "http" && !config.session.secure_cookies),
        "{} with secure cookies = {}",
        config.public_origin,
        config.session.secure_cookies
    );
    assert_eq!(config.oidc.redirect_url, format!("{}/auth/callback", config.public_origin));
    assert!(config.oidc.scopes.iter().any(|s| s == "openid"));

    let session = &config.session;
    assert!(session.ttl >= Duration::from_secs(1) && session.ttl <= Duration::from_secs(30 * 86_400));
    assert!(session.idle_timeout.is_none_or(|d| d >= Duration::from_secs(1)));
    let name = &session.cookie_name;
    assert!(
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)),
        "cookie name {name:?}"
    );
    if !session.secure_cookies {
        assert!(!name.starts_with("__Host-") && !name.starts_with("__Secure-"), "{name:?}");
    }

    // The redacted rendering does not depend on the secrets' values: the
    // same file with another secret of the same length renders the same.
    let redacted = config.redacted();
    for key in ["client_secret", "admin_token"] {
        if let Some(secret) = unique_secret(&table, key, text) {
            let other = text.replace(&secret, &"Z".repeat(secret.len()));
            std::fs::write(path, &other).expect("write the config file");
            if let Ok(again) = load_config_file(path) {
                assert_eq!(again.redacted(), redacted, "redacted() shows {key}");
            }
        }
    }
});
