//! Every setting of bff, each declared once: its name (the TOML key; the
//! flag with `-`), environment variable, kind, default, `*_FILE` variant,
//! `///` doc (the `--help` text) and how `--check-config` shows its
//! effective value. The `settings!` macro (`declare.rs`) turns this table
//! into [`Args`], [`FileConfig`], the merge and the `--check-config` lines;
//! `validate.rs` checks each value.

use super::declare::settings;

settings! {
    /// Public listener address (default `0.0.0.0:8080`).
    listen: String = "BFF_LISTEN", default "0.0.0.0:8080", show |c| c.listen;
    /// Admin listener address for health and metrics (default `127.0.0.1:9091`).
    admin_listen: String = "BFF_ADMIN_LISTEN", default "127.0.0.1:9091", show |c| c.admin_listen;
    /// External origin browsers use, e.g. `https://app.example.com` (required).
    public_url: String = "BFF_PUBLIC_URL", show |c| c.public_origin;
    /// OpenID provider issuer URL (discovery at `/.well-known/openid-configuration`;
    /// required).
    issuer_url: String = "BFF_ISSUER_URL", show |c| c.oidc.issuer_url;
    /// OAuth client ID registered at the provider (required).
    client_id: String = "BFF_CLIENT_ID", show |c| c.oidc.client_id;
    /// OAuth client secret (bff is a confidential client: this, or
    /// `BFF_CLIENT_KEY_FILE`; prefer `BFF_CLIENT_SECRET_FILE`).
    client_secret: Secret = "BFF_CLIENT_SECRET", file client_secret_file = "BFF_CLIENT_SECRET_FILE",
        show |c| c.oidc.client.secret().cloned();
    /// Comma-separated PEM private keys (RSA or EC P-256) for `private_key_jwt`
    /// client authentication instead of a secret; the first signs, all are
    /// published at the admin `/client-jwks.json` (default: none).
    client_key_file: String = "BFF_CLIENT_KEY_FILE", show |c| c.oidc.client.signing_kid();
    /// `aud` of client assertions: `issuer` (FAPI 2.0) or `endpoint`, the URL
    /// the assertion is sent to (default `issuer`).
    client_assertion_aud: String = "BFF_CLIENT_ASSERTION_AUD", default "issuer",
        show |c| c.oidc.client.audience_name();
    /// Pushed Authorization Requests: `auto` (when the provider advertises
    /// them), `required` or `off` (default `auto`).
    par: String = "BFF_PAR", default "auto", show |c| c.oidc.client.par_name();
    /// `fapi2` enforces the FAPI 2.0 Security Profile: PAR, private_key_jwt,
    /// DPoP on every route, PKCE S256, `iss`, ES256/PS256 ID tokens (default `none`).
    security_profile: String = "BFF_SECURITY_PROFILE", default "none",
        show |c| c.oidc.client.profile_name();
    /// Space-separated scopes; `openid` is always added (default `openid profile email`).
    scopes: String = "BFF_SCOPES", default "openid profile email",
        show |c| c.oidc.scopes.join(" ");
    /// Upstream URL of the default route `/` (required unless the file has `[[routes]]`).
    upstream: String = "BFF_UPSTREAM",
        show |c| c.proxy.routes.iter().find(|r| r.prefix == "/").map(|r| r.upstream.as_str());
    /// Redis URL (`redis://` or `rediss://`; may hold a password); unset means
    /// the in-memory store.
    redis_url: Secret = "BFF_REDIS_URL", show |c| c.session.redis_url;
    /// PEM file of the CA that Redis's TLS certificate must chain to
    /// (`rediss://` with a private CA; default: the system roots).
    redis_ca_file: String = "BFF_REDIS_CA_FILE", show |c| c.session.redis.ca_file;
    /// PEM client certificate for mutual TLS with Redis (with
    /// `BFF_REDIS_CLIENT_KEY_FILE`).
    redis_client_cert_file: String = "BFF_REDIS_CLIENT_CERT_FILE",
        show |c| c.session.redis.client_cert_file;
    /// PEM private key of the Redis client certificate.
    redis_client_key_file: String = "BFF_REDIS_CLIENT_KEY_FILE",
        show |c| c.session.redis.client_key_file;
    /// Longest wait to connect (and TLS-handshake) to Redis, at least 100ms
    /// (default `2s`).
    redis_connect_timeout: String = "BFF_REDIS_CONNECT_TIMEOUT", default "2s",
        show |c| c.session.redis.connect_timeout;
    /// Longest wait for a Redis reply before the request gets 503, at least
    /// 100ms (default `2s`).
    redis_command_timeout: String = "BFF_REDIS_COMMAND_TIMEOUT", default "2s",
        show |c| c.session.redis.command_timeout;
    /// Comma-separated Sentinel addresses (`host:port`): find the master of
    /// `BFF_REDIS_SENTINEL_MASTER` through them, and follow its failovers
    /// (default: no Sentinel).
    redis_sentinels: String = "BFF_REDIS_SENTINELS", show |c| c.session.redis.sentinels;
    /// Comma-separated Redis Cluster seed nodes (`host:port`); slots are
    /// discovered (default: no Cluster).
    redis_cluster_nodes: String = "BFF_REDIS_CLUSTER_NODES", show |c| c.session.redis.cluster_nodes;
    /// The Sentinel group to use (default `mymaster`).
    redis_sentinel_master: String = "BFF_REDIS_SENTINEL_MASTER", default "mymaster",
        show |c| c.session.redis.sentinel_master;
    /// Password of the sentinels, if they need one (the data nodes' password
    /// is in `BFF_REDIS_URL`).
    redis_sentinel_password: Secret = "BFF_REDIS_SENTINEL_PASSWORD",
        show |c| c.session.redis.sentinel_password;
    /// Reach the sentinels over TLS, verified with `BFF_REDIS_CA_FILE` and
    /// presenting the client certificate (default `false`).
    #[arg(num_args = 0..=1, default_missing_value = "true")]
    redis_sentinel_tls: bool = "BFF_REDIS_SENTINEL_TLS", default false,
        show |c| c.session.redis.sentinel_tls;
    /// Replicas (0 to 16) that must acknowledge a new session or a refresh
    /// write-back, with `WAIT`, before the user sees success (default `0`).
    redis_min_replicas_ack: String = "BFF_REDIS_MIN_REPLICAS_ACK", default "0",
        show |c| c.session.redis.min_replicas_ack;
    /// Keep recently used session records in memory, kept exact by Redis
    /// invalidation pushes, `on` or `off` (default `on`; Redis only).
    session_cache: String = "BFF_SESSION_CACHE", default "on",
        show |c| c.session.cache.enabled;
    /// Longest time a cached session may be served without a proof that
    /// bff's invalidation channel is live, 100ms to 10s (default `1s`).
    session_cache_max_staleness: String = "BFF_SESSION_CACHE_MAX_STALENESS", default "1s",
        show |c| c.session.cache.max_staleness;
    /// Bytes of sealed session records the cache holds, per process, e.g.
    /// `16MiB` (default `16MiB`).
    session_cache_size: String = "BFF_SESSION_CACHE_SIZE", default "16MiB",
        show |c| c.session.cache.size_bytes;
    /// While Redis is unreachable, serve sessions used in the last N seconds
    /// from the cache for at most N seconds, e.g. `30s` (default: off).
    redis_outage_grace: String = "BFF_REDIS_OUTAGE_GRACE",
        show |c| c.session.cache.outage_grace;
    /// Allow plain `redis://` to a host other than loopback (default `false`).
    #[arg(num_args = 0..=1, default_missing_value = "true")]
    allow_plaintext_redis: bool = "BFF_ALLOW_PLAINTEXT_REDIS", default false,
        show |c| c.session.redis.allow_plaintext;
    /// Allow an `http://` issuer URL outside insecure dev mode (default `false`).
    #[arg(num_args = 0..=1, default_missing_value = "true")]
    allow_insecure_issuer: bool = "BFF_ALLOW_INSECURE_ISSUER", default false,
        show |c| c.oidc.allow_insecure_issuer;
    /// Session encryption keys, `id:base64key[:decrypt-only],…` of 32 bytes
    /// each; the first one not decrypt-only seals (required with Redis;
    /// default: one random key).
    session_keys: Secret = "BFF_SESSION_KEYS", file session_keys_file = "BFF_SESSION_KEYS_FILE",
        show |c| c.session.keys;
    /// Absolute session lifetime, 1s to 30d, never extended (default `8h`).
    session_ttl: String = "BFF_SESSION_TTL", default "8h", show |c| c.session.ttl;
    /// Idle timeout: sessions unused this long end; at least 1s, `0` = off
    /// (default: off).
    session_idle_timeout: String = "BFF_SESSION_IDLE_TIMEOUT", show |c| c.session.idle_timeout;
    /// Bearer token (at least 32 characters) protecting the admin session API,
    /// which is off without it (prefer the file).
    admin_token: Secret = "BFF_ADMIN_TOKEN", file admin_token_file = "BFF_ADMIN_TOKEN_FILE",
        show |c| c.admin_token;
    /// Refresh access tokens that expire within this window (default `60s`).
    refresh_skew: String = "BFF_REFRESH_SKEW", default "60s", show |c| c.oidc.refresh_skew;
    /// Timeout of each request to the provider (discovery, token), at least
    /// 100ms (default `10s`).
    provider_timeout: String = "BFF_PROVIDER_TIMEOUT", default "10s",
        show |c| c.oidc.provider_timeout;
    /// Longest a request waits for another pod's refresh of the same
    /// session before falling back (default `10s`).
    refresh_wait: String = "BFF_REFRESH_WAIT", default "10s", show |c| c.oidc.refresh_wait;
    /// Lease of the cross-pod refresh lock; a crashed holder blocks others
    /// at most this long, at least 100ms (default `15s`).
    refresh_lock_lease: String = "BFF_REFRESH_LOCK_LEASE", default "15s",
        show |c| c.oidc.refresh_lock_lease;
    /// Session cookie name (default `__Host-bff`, or `bff` in insecure dev mode).
    cookie_name: String = "BFF_COOKIE_NAME", show |c| c.session.cookie_name;
    /// Plain-http local development: no `Secure`, no `__Host-` prefix (default `false`).
    #[arg(num_args = 0..=1, default_missing_value = "true")]
    insecure_dev_cookies: bool = "BFF_INSECURE_DEV_COOKIES", default false,
        show |c| !c.session.secure_cookies;
    /// Comma-separated origins allowed to call bff with credentials (default: none).
    allowed_origins: String = "BFF_ALLOWED_ORIGINS", show |c| c.proxy.allowed_origins;
    /// Comma-separated CIDRs whose forwarding headers are trusted (default: none).
    trusted_proxies: String = "BFF_TRUSTED_PROXIES", show |c| c.proxy.trusted_proxies;
    /// Send the signed-in user to upstreams as `X-Auth-Request-User` (`sub`),
    /// `-Email` and `-Preferred-Username`, from the ID token, like oauth2-proxy's
    /// `--set-xauthrequest` (default `false`).
    #[arg(num_args = 0..=1, default_missing_value = "true")]
    identity_headers: bool = "BFF_IDENTITY_HEADERS", default false,
        show |c| c.proxy.identity_headers;
    /// Where the provider sends the browser after logout
    /// (default `<public_url>/auth/logged-out`).
    post_logout_redirect: String = "BFF_POST_LOGOUT_REDIRECT",
        show |c| c.oidc.post_logout_redirect;
    /// Name of the anti-CSRF request header (default `X-CSRF`).
    csrf_header: String = "BFF_CSRF_HEADER", default "X-CSRF", show |c| c.proxy.csrf_header;
    /// Log format: `json` or `pretty` (default `json`).
    log_format: String = "BFF_LOG_FORMAT", default "json", show |c| c.log_format;
    /// Advanced: how long a client may stay silent while sending request
    /// headers, between requests on a kept-alive connection, or mid-body;
    /// at least 100ms (default `10s`; slowloris defence).
    client_idle_timeout: String = "BFF_CLIENT_IDLE_TIMEOUT", default "10s",
        show |c| c.client_idle_timeout;
    /// Drained shutdown: after SIGTERM, how long bff keeps serving with
    /// `/readyz` answering 503, so load balancers take it out first; `0s`
    /// stops accepting at once (default `5s`).
    shutdown_delay: String = "BFF_SHUTDOWN_DELAY", default "5s", show |c| c.shutdown_delay;
    /// Drained shutdown: once bff stops accepting, how long in-flight and
    /// kept-alive requests may take to finish before it exits; at least
    /// 100ms (default `20s`).
    shutdown_grace: String = "BFF_SHUTDOWN_GRACE", default "20s", show |c| c.shutdown_grace;
    /// Advanced: how often an open WebSocket re-checks its session in the
    /// store; the socket closes once the session is gone; at least 100ms
    /// (default `5s`).
    ws_session_check: String = "BFF_WS_SESSION_CHECK", default "5s",
        show |c| c.proxy.ws_session_check;
    /// Advanced: worker threads serving the public listener, each with its
    /// own connections, Redis connection and upstream pool: a number from 1
    /// to 256, or `auto` for one per CPU (default 1; scale out with replicas).
    workers: String = "BFF_WORKERS", show |c| c.workers;
    /// Advanced: most client connections open at once on the public
    /// listener, from 1 to 1000000; beyond it new connections are closed at
    /// once and counted in `bff_connections_refused_total` (default `10000`).
    max_connections: String = "BFF_MAX_CONNECTIONS", default "10000",
        show |c| c.max_connections;
    /// Logins and callbacks a second per client address (resolved through
    /// `BFF_TRUSTED_PROXIES`) beyond which bff answers 429; `0` = no limit
    /// (default `10`).
    login_rate: String = "BFF_LOGIN_RATE", default "10", show |c| c.login_rate;
    /// Burst of logins and callbacks a client address may make at once
    /// before `BFF_LOGIN_RATE` applies (default `50`).
    login_burst: String = "BFF_LOGIN_BURST", default "50", show |c| c.login_burst;
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use clap::{CommandFactory as _, Parser as _};

    use super::super::Config;
    use super::{Args, FileConfig, SETTINGS};

    const SECRETS: [&str; 5] = [
        "super-secret-client-value",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "redispass",
        "admin-token-of-at-least-32-characters",
        "sentinel-secret-value",
    ];

    fn load(extra: &[&str]) -> Config {
        let mut argv = vec![
            "bff",
            "--public-url",
            "https://app.example.test",
            "--issuer-url",
            "https://idp.example.test",
            "--client-id",
            "bff",
            "--upstream",
            "http://127.0.0.1:9000",
        ];
        argv.extend_from_slice(extra);
        Config::load(&Args::try_parse_from(argv).unwrap()).unwrap()
    }

    fn temp_file(contents: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("bff-unit-{}.toml", rand::random::<u64>()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn every_setting_has_a_doc_a_flag_a_variable_and_a_file_key() {
        let command = Args::command();
        for setting in SETTINGS {
            let key = setting.key;
            assert!(!setting.doc.trim().is_empty(), "{key} has no doc");
            assert_eq!(setting.env, format!("BFF_{}", key.to_uppercase()));
            let arg = command.get_arguments().find(|a| a.get_id() == key).unwrap();
            assert_eq!(arg.get_long(), Some(key.replace('_', "-").as_str()));
            assert_eq!(arg.get_env().unwrap(), setting.env);
            assert_eq!(arg.is_hide_env_values_set(), setting.secret, "{key}");
            let as_text = toml::from_str::<FileConfig>(&format!("{key} = \"x\""));
            let as_flag = toml::from_str::<FileConfig>(&format!("{key} = true"));
            assert!(as_text.is_ok() || as_flag.is_ok(), "{key} is no file key");
            if let Some(default) = setting.default {
                let shown = format!("(default `{default}`");
                assert!(setting.doc.contains(&shown), "{key}'s doc lacks {shown}");
            }
        }
        assert!(toml::from_str::<FileConfig>("no_such_key = \"x\"").is_err());
    }

    #[test]
    fn readme_table_lists_exactly_the_settings_with_their_defaults() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let rows: BTreeMap<&str, &str> = readme
            .lines()
            .filter(|l| l.starts_with("| `BFF_"))
            .filter_map(|l| {
                let mut cells = l.split('|').skip(1).map(str::trim);
                Some((cells.next()?.trim_matches('`'), cells.next()?))
            })
            .collect();
        let mut declared: BTreeSet<&str> = SETTINGS.iter().map(|s| s.env).collect();
        declared.insert("BFF_CONFIG");
        assert_eq!(rows.keys().copied().collect::<BTreeSet<_>>(), declared);
        for setting in SETTINGS {
            if let Some(default) = setting.default {
                let cell = rows[setting.env];
                assert!(
                    cell.contains(&format!("`{default}`")),
                    "{}: {cell}",
                    setting.env
                );
            }
        }
    }

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let file =
            temp_file("listen = \"127.0.0.1:1\"\nsession_ttl = \"1h\"\nclient_secret = \"x\"\n");
        let path = file.to_str().unwrap();
        let config = load(&["--config", path, "--listen", "127.0.0.1:2"]);
        assert_eq!(config.listen.to_string(), "127.0.0.1:2");
        assert_eq!(config.session.ttl.as_secs(), 3600);
        assert_eq!(config.oidc.refresh_skew.as_secs(), 60);
        assert_eq!(config.admin_listen.to_string(), "127.0.0.1:9091");
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn unknown_file_keys_are_an_error() {
        let file = temp_file("listen = \"127.0.0.1:1\"\nlisten_port = 8080\n");
        let args = Args::try_parse_from(["bff", "--config", file.to_str().unwrap()]).unwrap();
        let err = Config::load(&args).unwrap_err();
        assert_eq!(err.setting, "BFF_CONFIG");
        assert!(err.message.contains("listen_port"), "{err}");
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn check_config_shows_every_setting_and_no_secret() {
        let admin_token_file = temp_file(&format!("{}\n", SECRETS[3]));
        let config = load(&[
            "--client-secret",
            SECRETS[0],
            "--session-keys",
            &format!("k1:{}", SECRETS[1]),
            "--redis-url",
            &format!("redis://:{}@127.0.0.1:6379/0", SECRETS[2]),
            "--admin-token-file",
            admin_token_file.to_str().unwrap(),
            "--redis-sentinel-password",
            SECRETS[4],
        ]);
        std::fs::remove_file(admin_token_file).unwrap();
        let text = config.redacted();
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} printed:\n{text}");
        }
        let lines: BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.trim_start_matches("# ").split_once(" "))
            .collect();
        for setting in SETTINGS.iter().filter(|s| !s.key.ends_with("_file")) {
            let line = lines
                .get(setting.key)
                .unwrap_or_else(|| panic!("{}:\n{text}", setting.key));
            assert_eq!(
                setting.secret,
                line.contains("<redacted>"),
                "{}: {line}",
                setting.key
            );
        }
    }
}
