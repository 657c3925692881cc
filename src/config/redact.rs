//! `--check-config` output: every setting's effective value (one line per
//! row of the settings table, printed as [`super::show`] allows), a few
//! derived values, and the routes, with every secret as `<redacted>`.

use std::fmt::Write as _;

use super::model::Config;
use super::settings;

/// The `--check-config` text of `config`.
pub(super) fn render(config: &Config) -> String {
    let mut out = String::new();
    for (key, value) in settings::shown(config) {
        let _ = match value {
            Some(value) => writeln!(out, "{key} = {value:?}"),
            None => writeln!(out, "# {key} is unset"),
        };
    }
    let store = if config.session.redis_url.is_some() {
        "redis"
    } else {
        "memory"
    };
    let _ = write!(
        out,
        "\n# derived\nredirect_url = {:?}\nsession_store = {store:?}\n",
        config.oidc.redirect_url
    );
    for route in &config.proxy.routes {
        let _ = writeln!(
            out,
            "\n[[routes]]\nprefix = {:?}\nupstream = {:?}\nauth = {:?}\nstrip_prefix = {}\ntimeout = \"{}s\"\nmax_body = \"{}\"\nwebsocket = {}\nprivate_ca = {}",
            route.prefix,
            route.upstream.as_str(),
            format!("{:?}", route.auth).to_lowercase(),
            route.strip_prefix,
            route.timeout.as_secs(),
            route.max_body,
            route.websocket,
            route.tls.is_some()
        );
    }
    out
}
