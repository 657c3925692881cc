//! Behind a trusted proxy (`BFF_TRUSTED_PROXIES` covering the peer): the
//! forwarding chain is kept only when well-formed, and no identity header
//! reaches the upstream from anyone (cases T1, H2).

use crate::support::harness::{Browser, Stack, Store};

const ROUTES: &str = "[[routes]]\nprefix = \"/api/\"\nupstream = \"{upstream}\"\n";

/// A stack whose test client (on 127.0.0.1) is a trusted proxy.
async fn trusting_loopback() -> Stack {
    Stack::start_with_config(Store::Memory, ROUTES, &["--trusted-proxies", "127.0.0.0/8"])
        .await
        .unwrap()
}

/// What a client behind the trusted proxy might claim about itself.
const IDENTITY: [(&str, &str); 11] = [
    ("x-forwarded-user", "admin"),
    ("x-forwarded-email", "admin@example.test"),
    ("x-forwarded-groups", "admins"),
    ("x-forwarded-preferred-username", "admin"),
    ("x-auth-request-user", "admin"),
    ("x-auth-request-email", "admin@example.test"),
    ("x-auth-request-groups", "admins"),
    ("x-remote-user", "root"),
    ("remote-user", "root"),
    ("x-user", "root"),
    ("x-email", "root@example.test"),
];

#[tokio::test]
async fn t1_identity_headers_never_reach_the_upstream_through_a_trusted_proxy() {
    let stack = trusting_loopback().await;
    let mut browser = stack.logged_in_browser().await;
    let mut sent: Vec<(&str, &str)> = IDENTITY.to_vec();
    sent.extend([
        ("x-real-ip", "6.6.6.6"),
        ("true-client-ip", "6.6.6.6"),
        ("x-custom", "kept"),
    ]);
    assert_eq!(browser.get(&stack, "/api/me", &sent).await.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    for (name, _) in IDENTITY
        .iter()
        .chain(&[("x-real-ip", ""), ("true-client-ip", "")])
    {
        assert!(
            seen.header(name).is_none(),
            "{name} reached the upstream from a trusted proxy"
        );
    }
    assert_eq!(
        seen.header("x-custom"),
        Some("kept"),
        "ordinary headers are forwarded"
    );
    assert!(
        seen.header("authorization")
            .is_some_and(|a| a.starts_with("Bearer "))
    );
}

#[tokio::test]
async fn h2_a_trusted_proxys_chain_is_kept_only_when_well_formed() {
    let stack = trusting_loopback().await;
    let mut browser = stack.logged_in_browser().await;
    let good = [
        ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "public.example.test"),
        ("forwarded", "for=203.0.113.7;proto=https"),
    ];
    assert_eq!(browser.get(&stack, "/api/me", &good).await.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    assert_eq!(
        seen.header_all("x-forwarded-for"),
        ["203.0.113.7, 10.0.0.1, 127.0.0.1"]
    );
    assert_eq!(seen.header("x-forwarded-host"), Some("public.example.test"));
    assert_eq!(
        seen.header("forwarded"),
        Some("for=203.0.113.7;proto=https, for=127.0.0.1")
    );

    let forged = [
        ("x-forwarded-for", "<script>, 1.1.1.1"),
        ("x-forwarded-proto", "javascript"),
        ("x-forwarded-host", "evil@example.test"),
        ("forwarded", "for=1.1.1.1;user=admin"),
    ];
    assert_eq!(browser.get(&stack, "/api/me", &forged).await.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    assert_eq!(
        seen.header_all("x-forwarded-for"),
        ["127.0.0.1"],
        "a malformed chain was kept"
    );
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-forwarded-host"), Some("app.example.test"));
    assert!(
        seen.header("forwarded").is_none(),
        "a malformed Forwarded was kept"
    );
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn t3_request_ids_and_trace_context_are_taken_only_from_a_trusted_proxy() {
    crate::support::logs::capture();
    let direct = Stack::start_with_config(Store::Memory, ROUTES, &[])
        .await
        .unwrap();
    let mut browser = direct.logged_in_browser().await;
    let claimed = [
        ("x-request-id", "client-chosen-id"),
        ("traceparent", TRACEPARENT),
    ];
    let res = browser.get(&direct, "/api/me", &claimed).await;
    let seen = direct.upstream.last_request().unwrap();
    let own = seen.header("x-request-id").unwrap().to_owned();
    assert_ne!(own, "client-chosen-id", "an untrusted peer chose the id");
    assert_eq!(res.header("x-request-id"), Some(own.as_str()));
    assert!(seen.header("traceparent").is_none());

    let behind = trusting_loopback().await;
    let mut browser = behind.logged_in_browser().await;
    let res = browser
        .get(&behind, "/api/me", &[("x-request-id", "lb-42")])
        .await;
    assert_eq!(res.header("x-request-id"), Some("lb-42"));
    let claimed = [("x-request-id", "lb-43"), ("traceparent", TRACEPARENT)];
    browser.get(&behind, "/api/me", &claimed).await;
    let seen = behind.upstream.last_request().unwrap();
    assert_eq!(seen.header("x-request-id"), Some("lb-43"));
    assert_eq!(seen.header("traceparent"), Some(TRACEPARENT));
    // Malformed, even from the trusted proxy: replaced, never logged raw.
    let marker = format!("junk-{}", "x".repeat(4096));
    let junk = [("x-request-id", marker.as_str()), ("traceparent", "00-zz")];
    let res = Browser::default().get(&behind, "/api/me", &junk).await;
    assert_eq!(res.status, 401);
    let id = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(id.len(), 22, "a malformed id was kept: {id}");
    assert_eq!(
        res.json()["request_id"],
        id.as_str(),
        "error body lacks the id"
    );
    assert!(crate::support::logs::lines_with(&["junk-xxxx"]).is_empty());
    assert!(
        !crate::support::logs::lines_with(&[&id, "status=401"]).is_empty(),
        "the access log line lacks the request id"
    );
}

#[tokio::test]
async fn t1_identity_headers_opt_in_sets_bffs_own_from_the_id_token() {
    let flags = ["--trusted-proxies", "127.0.0.0/8", "--identity-headers"];
    let stack = Stack::start_with_config(Store::Memory, ROUTES, &flags)
        .await
        .unwrap();
    let mut browser = stack.logged_in_browser().await;
    let user = stack.idp.behaviour().user;
    // The client's claims are dropped, also through a trusted proxy; bff's
    // own come from the ID token.
    assert_eq!(browser.get(&stack, "/api/me", &IDENTITY).await.status, 200);
    let seen = stack.upstream.last_request().unwrap();
    assert_eq!(seen.header_all("x-auth-request-user"), [user.sub.as_str()]);
    assert_eq!(
        seen.header("x-auth-request-email"),
        Some(user.email.as_str())
    );
    assert_eq!(
        seen.header("x-auth-request-preferred-username"),
        Some(user.preferred_username.as_str())
    );
    for (name, _) in IDENTITY
        .iter()
        .filter(|(n, _)| !n.starts_with("x-auth-request-"))
    {
        assert!(seen.header(name).is_none(), "{name} reached the upstream");
    }
    // Without a session the request never reaches the upstream.
    let anonymous = Browser::default().get(&stack, "/api/me", &IDENTITY).await;
    assert_eq!(anonymous.status, 401);
}
