//! The access log and the secrets it must never carry (issue 14, item 3;
//! security case C4: no token in logs). The real binary runs a whole flow
//! (login, proxy, refresh, admin API, RP logout, back-channel logout) with
//! `RUST_LOG=info` and again with `RUST_LOG=trace`, and every stdout line
//! is searched for each secret the flow handled.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::backchannel::claims;
use crate::support::harness::{
    self, API, Browser, CLIENT_SECRET, COOKIE, LOGIN_COOKIE, SESSION_KEYS, Stack, Store,
};
use crate::support::jwt;
use crate::support::process::BffProcess;

const ADMIN_TOKEN: &str = "admin-token-5f0c3b1e9a7d4c2b8e6f";

/// The flow's secrets, gathered while it runs.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 8, "{what} is long enough to search for");
        self.0.push((what.to_owned(), value.to_owned()));
    }
}

/// Logs in through `bff` (the browser's login cookie, code and verifier
/// are secrets too); returns the browser.
async fn login(stack: &Stack, bff: &BffProcess, secrets: &mut Secrets) -> Browser {
    let base = bff.url("");
    let mut browser = Browser::default();
    let started = browser
        .send_at(&base, Method::GET, "/auth/login?return_to=%2Fapp", &[])
        .await;
    assert_eq!(started.status, 302, "{}", started.text());
    secrets.add(
        "login cookie",
        browser.cookie(LOGIN_COOKIE).expect("login cookie"),
    );
    let callback = stack.idp_step(&started).await;
    let done = browser.send_at(&base, Method::GET, &callback, &[]).await;
    assert_eq!(done.status, 302, "{}", done.text());
    let (_id, data) = stack.session_of(&browser).await;
    secrets.add(
        "session cookie",
        browser.cookie(COOKIE).expect("session cookie"),
    );
    secrets.add("access token", &data.access_token);
    secrets.add("ID token", &data.id_token);
    secrets.add(
        "refresh token",
        data.refresh_token.as_deref().expect("refresh token"),
    );
    browser
}

/// Every form value the provider received: codes, verifiers, refresh tokens.
fn provider_secrets(stack: &Stack, secrets: &mut Secrets) {
    for request in stack.idp.token_request_log() {
        for name in ["code", "code_verifier", "refresh_token"] {
            if let Some(value) = request.form.get(name) {
                secrets.add(name, value);
            }
        }
    }
}

/// Login, proxy, refresh, admin API, RP logout and back-channel logout.
async fn whole_flow(stack: &Stack, bff: &BffProcess, secrets: &mut Secrets) {
    let base = bff.url("");
    stack.idp.set(|b| b.expires_in = 1);
    let mut browser = login(stack, bff, secrets).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack.idp.set(|b| b.expires_in = 300);
    let proxied = browser.send_at(&base, Method::GET, "/app", &API).await;
    assert_eq!(proxied.status, 200, "{}", proxied.text());
    assert_eq!(stack.idp.token_requests_for("refresh_token"), 1);
    let (_id, refreshed) = stack.session_of(&browser).await;
    secrets.add("refreshed access token", &refreshed.access_token);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [("authorization", bearer.as_str())];
    let listed = harness::Browser::default()
        .send_at(
            &bff.admin_url(""),
            Method::GET,
            "/admin/sessions?sub=user-0001",
            &admin,
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let out = browser
        .send_at(&base, Method::POST, "/auth/logout", &[("x-csrf", "1")])
        .await;
    assert_eq!(out.status, 302);
    let mut second = login(stack, bff, secrets).await;
    let (_id, data) = stack.session_of(&second).await;
    let token = jwt::sign_rs256(Value::Null, &claims(stack, json!({ "sid": data.sid })));
    secrets.add("logout token", &token);
    let ended = crate::backchannel::post_logout_token(bff.public_addr, &token).await;
    assert_eq!(ended.status, 200, "{}", ended.text());
    let gone = second.send_at(&base, Method::GET, "/app", &API).await;
    assert_eq!(gone.status, 401);
    provider_secrets(stack, secrets);
}

/// Runs the flow on a bff process logging at `level`; its stdout lines.
async fn logged_lines(level: &str, secrets: &mut Secrets) -> Vec<String> {
    let Some(stack) = Stack::start(Store::Redis).await else {
        return Vec::new();
    };
    let redis = stack.redis.as_ref().map(|r| r.url());
    let extra = ["--admin-token", ADMIN_TOKEN];
    let argv = harness::argv(
        stack.idp.issuer(),
        &stack.upstream.url(),
        redis.as_deref(),
        &extra,
    );
    let env = [("RUST_LOG", level), ("BFF_LOG_FORMAT", "json")];
    let mut bff = BffProcess::spawn(&argv[1..], &env);
    bff.wait_ready().await;
    whole_flow(&stack, &bff, secrets).await;
    bff.terminate();
    assert!(
        bff.wait_exit(Duration::from_secs(30)).await.success(),
        "exit 0 after SIGTERM"
    );
    bff.lines()
}

/// The access log lines: JSON, one per request, with the promised fields.
fn assert_access_lines(lines: &[String]) {
    let access: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).expect("every line is JSON"))
        .filter(|v| v["message"] == "request" && v["request_id"].is_string())
        .collect();
    let proxied: Vec<&Value> = access.iter().filter(|v| v["route"] == "/").collect();
    let refreshed = proxied
        .iter()
        .find(|v| v["refreshed"] == true)
        .expect("a refresh line");
    assert_eq!(refreshed["status"], 200);
    assert_eq!(refreshed["session"].as_str().map(str::len), Some(8));
    assert!(refreshed["upstream_us"].is_u64() && refreshed["latency_us"].is_u64());
    assert!(refreshed["client"] == "127.0.0.1" && refreshed["method"] == "GET");
    assert!(access.iter().any(|v| v["route"] == "/auth/callback"));
}

#[tokio::test]
async fn c4_logs_of_a_whole_flow_at_info_and_trace_carry_no_secret() {
    let mut secrets = Secrets::default();
    secrets.add("client secret", CLIENT_SECRET);
    secrets.add("session key", SESSION_KEYS.trim_start_matches("k1:"));
    secrets.add("admin token", ADMIN_TOKEN);
    let info = logged_lines("info", &mut secrets).await;
    if info.is_empty() {
        return; // no redis-server (SKIPPING was printed)
    }
    let trace = logged_lines("trace", &mut secrets).await;
    assert_access_lines(&info);
    assert!(trace.len() > 2 * info.len(), "trace logs more than info");
    for (level, lines) in [("info", &info), ("trace", &trace)] {
        for line in lines {
            for (what, secret) in &secrets.0 {
                assert!(
                    !line.contains(secret.as_str()),
                    "{level} line leaks the {what}: {line}"
                );
            }
        }
    }
}
