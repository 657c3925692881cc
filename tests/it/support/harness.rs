//! Wires a real bff (in-process, real TCP on port 0) to the fake IdP, the
//! echo upstream and optionally a real Redis, plus a tiny cookie-jar
//! "browser" that walks the login flow the way a real one does.

use std::collections::BTreeMap;
use std::time::Duration;

use bff::Running;
use bff::config::{Args, Config};
use clap::Parser as _;
use http::Method;

use super::fake_idp::FakeIdp;
use super::http::{self as test_http, TestResponse};
use super::redis_server::RedisServer;
use super::upstream::Upstream;

pub const CLIENT_ID: &str = "bff-test";
pub const CLIENT_SECRET: &str = "test-secret-0123456789";
/// The public origin bff believes it has (secure cookies on).
pub const PUBLIC_URL: &str = "https://app.example.test";
pub const SESSION_KEYS: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const COOKIE: &str = "__Host-bff";
pub const LOGIN_COOKIE: &str = "__Host-bff-login";

/// Which session store a stack uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Memory,
    Redis,
}

/// A fake IdP + echo upstream + (Redis) + one bff.
pub struct Stack {
    pub idp: FakeIdp,
    pub upstream: Upstream,
    pub redis: Option<RedisServer>,
    pub bff: Running,
}

/// bff's arguments for this stack, plus `extra`.
pub fn args(issuer: &str, upstream: &str, redis: Option<&str>, extra: &[&str]) -> Args {
    Args::try_parse_from(argv(issuer, upstream, redis, extra)).expect("test args parse")
}

/// [`args`] as the command line, program name first.
pub fn argv(issuer: &str, upstream: &str, redis: Option<&str>, extra: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "bff",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--public-url",
        PUBLIC_URL,
        "--issuer-url",
        issuer,
        "--client-id",
        CLIENT_ID,
        "--upstream",
        upstream,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // A private_key_jwt client has no secret.
    if !extra.contains(&"--client-key-file") {
        argv.extend(["--client-secret".to_owned(), CLIENT_SECRET.to_owned()]);
    }
    // The fake IdP is plain http on loopback.
    argv.push("--allow-insecure-issuer".to_owned());
    if !extra.contains(&"--session-keys") {
        argv.extend(["--session-keys".to_owned(), SESSION_KEYS.to_owned()]);
    }
    if !extra.contains(&"--login-rate") {
        // Tests log in hundreds of times from one address; the login
        // limits have tests of their own (abuse.rs).
        argv.extend(["--login-rate".to_owned(), "0".to_owned()]);
    }
    if let Some(url) = redis {
        argv.extend(["--redis-url".to_owned(), url.to_owned()]);
    }
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    argv
}

/// Starts bff and waits until it has discovered the provider.
pub async fn start_bff(args: &Args) -> Running {
    let config = Config::load(args).expect("test config is valid");
    let running = bff::start(config).await.expect("bff starts");
    for _ in 0..200 {
        if running.provider_discovered() {
            return running;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("bff did not discover the fake provider");
}

impl Stack {
    /// A stack on `store`; `None` when Redis is wanted but not installed
    /// (the Redis harness already printed a loud SKIPPING line).
    pub async fn start(store: Store) -> Option<Self> {
        Self::start_with(store, &[]).await
    }

    /// Like [`Stack::start`], with extra bff flags.
    pub async fn start_with(store: Store, extra: &[&str]) -> Option<Self> {
        Self::start_inner(store, None, extra).await
    }

    /// Like [`Stack::start_with`], plus a TOML config file (`--config`);
    /// `{upstream}` in `toml` stands for the echo upstream's URL.
    pub async fn start_with_config(store: Store, toml: &str, extra: &[&str]) -> Option<Self> {
        Self::start_inner(store, Some(toml), extra).await
    }

    async fn start_inner(store: Store, toml: Option<&str>, extra: &[&str]) -> Option<Self> {
        let redis = match store {
            Store::Memory => None,
            Store::Redis => Some(RedisServer::start()?),
        };
        let idp = FakeIdp::start(CLIENT_ID, CLIENT_SECRET).await;
        let upstream = Upstream::start().await;
        let url = redis.as_ref().map(RedisServer::url);
        let mut extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        if let Some(toml) = toml {
            let path =
                std::env::temp_dir().join(format!("bff-test-{}.toml", rand::random::<u64>()));
            std::fs::write(&path, toml.replace("{upstream}", &upstream.url()))
                .expect("write test config");
            extra.extend(["--config".to_owned(), path.to_string_lossy().into_owned()]);
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let bff = start_bff(&args(idp.issuer(), &upstream.url(), url.as_deref(), &extra)).await;
        Some(Self {
            idp,
            upstream,
            redis,
            bff,
        })
    }

    /// `http://127.0.0.1:<port><path>` on bff's public listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.bff.public_addr)
    }

    /// `http://127.0.0.1:<port><path>` on bff's admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.bff.admin_addr)
    }

    /// Starts a login; returns bff's response (302 to the IdP).
    pub async fn start_login(&self, browser: &mut Browser, return_to: &str) -> TestResponse {
        let q: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        browser
            .get(self, &format!("/auth/login?return_to={q}"), &[])
            .await
    }

    /// Runs the IdP step of a started login; returns the callback path+query.
    pub async fn idp_step(&self, login_response: &TestResponse) -> String {
        assert_eq!(
            login_response.status,
            302,
            "login did not redirect: {}",
            login_response.text()
        );
        let location = self
            .idp
            .authorize_redirect(login_response.location().expect("Location"))
            .await;
        path_and_query(&location)
    }

    /// A whole login; returns the callback response.
    pub async fn login(&self, browser: &mut Browser) -> TestResponse {
        let started = self.start_login(browser, "/app").await;
        let callback = self.idp_step(&started).await;
        browser.get(self, &callback, &[]).await
    }

    /// Another bff sharing this stack's IdP, upstream and Redis (a second
    /// pod), with extra flags.
    pub async fn another_bff(&self, extra: &[&str]) -> Running {
        let url = self.redis.as_ref().map(RedisServer::url);
        start_bff(&args(
            self.idp.issuer(),
            &self.upstream.url(),
            url.as_deref(),
            extra,
        ))
        .await
    }

    /// The session ID and stored data behind a browser's session cookie.
    pub async fn session_of(&self, browser: &Browser) -> (bff::SessionId, bff::SessionData) {
        let id = bff::SessionId::parse(browser.cookie(COOKIE).expect("a session cookie"))
            .expect("a well-formed session ID");
        let data = self
            .bff
            .load_session(&id)
            .await
            .expect("store answers")
            .expect("live session");
        (id, data)
    }

    /// A logged-in browser.
    pub async fn logged_in_browser(&self) -> Browser {
        let mut browser = Browser::default();
        let res = self.login(&mut browser).await;
        assert_eq!(res.status, 302, "login failed: {}", res.text());
        assert!(
            browser.cookie(COOKIE).is_some(),
            "no session cookie after login"
        );
        browser
    }
}

/// The path and query of an absolute URL.
pub fn path_and_query(location: &str) -> String {
    let url = url::Url::parse(location).expect("absolute URL");
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// A cookie jar that behaves like a browser for bff's cookies.
#[derive(Debug, Default, Clone)]
pub struct Browser {
    jar: BTreeMap<String, String>,
}

impl Browser {
    /// The value of cookie `name`, if held.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    /// Sets a cookie by hand (attacks).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_owned(), value.to_owned());
    }

    /// Drops a cookie.
    pub fn forget(&mut self, name: &str) {
        self.jar.remove(name);
    }

    /// The `Cookie` header this browser would send.
    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends a request with the jar's cookies and stores `Set-Cookie`s.
    pub async fn send(
        &mut self,
        stack: &Stack,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> TestResponse {
        self.send_to(&stack.url(path), method, headers, body).await
    }

    async fn send_to(
        &mut self,
        url: &str,
        method: Method,
        headers: &[(&str, &str)],
        body: &str,
    ) -> TestResponse {
        let cookie = self.cookie_header();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !cookie.is_empty() {
            all.push(("cookie", cookie.as_str()));
        }
        let res = test_http::request(method, url, &all, body.to_owned()).await;
        self.absorb(&res);
        res
    }

    /// A request to `base` (an origin, e.g. a bff process's) with the
    /// jar's cookies.
    pub async fn send_at(
        &mut self,
        base: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        self.send_to(&format!("{base}{path}"), method, headers, "")
            .await
    }

    /// GET on another bff instance (a second pod) with the jar's cookies.
    pub async fn get_at(
        &mut self,
        pod: &Running,
        path: &str,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        self.send_to(
            &format!("http://{}{path}", pod.public_addr),
            Method::GET,
            headers,
            "",
        )
        .await
    }

    /// `POST /auth/logout` with the anti-CSRF header, as the SPA logs out.
    pub async fn logout(&mut self, stack: &Stack) -> TestResponse {
        self.send(stack, Method::POST, "/auth/logout", &[("x-csrf", "1")], "")
            .await
    }

    /// GET with the jar's cookies.
    pub async fn get(
        &mut self,
        stack: &Stack,
        path: &str,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        self.send(stack, Method::GET, path, headers, "").await
    }

    fn absorb(&mut self, res: &TestResponse) {
        for line in res.set_cookies() {
            let parsed = cookie::Cookie::parse(line).expect("valid Set-Cookie");
            let expired = parsed
                .max_age()
                .is_some_and(|a| a.is_zero() || a.is_negative());
            if expired || parsed.value().is_empty() {
                self.jar.remove(parsed.name());
            } else {
                self.jar
                    .insert(parsed.name().to_owned(), parsed.value().to_owned());
            }
        }
    }
}

/// Headers of an SPA `fetch` call.
pub const API: [(&str, &str); 2] = [("accept", "application/json"), ("sec-fetch-mode", "cors")];
/// Headers of a top-level browser navigation.
pub const NAVIGATION: [(&str, &str); 2] = [
    ("accept", "text/html,application/xhtml+xml"),
    ("sec-fetch-mode", "navigate"),
];

/// `GET /auth/session` on `bff` with the session cookie `cookie`, as an
/// SPA asks (for load tests that spread sessions over several pods).
pub fn session_request(
    bff: std::net::SocketAddr,
    cookie: &str,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::get(format!("http://{bff}/auth/session"))
        .header("accept", "application/json")
        .header("cookie", format!("{COOKIE}={cookie}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("valid session request")
}
