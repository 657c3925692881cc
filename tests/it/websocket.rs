//! WebSocket relaying: H9 (foreign `Origin` → 403, no session → 401,
//! upgrades only on `websocket = true` routes) and H10 (an open socket is
//! closed within a bounded time after logout), against a real RFC 6455
//! echo upstream.

use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, ClientRequestBuilder, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::support::harness::{API, Browser, COOKIE, PUBLIC_URL, Stack, Store};
use crate::support::ws_upstream::WsUpstream;

type Ws = WebSocketStream<TcpStream>;

async fn ws_stack(store: Store) -> Option<(Stack, WsUpstream)> {
    ws_stack_with(store, &[]).await
}

async fn ws_stack_with(store: Store, extra: &[&str]) -> Option<(Stack, WsUpstream)> {
    let ws = WsUpstream::start().await;
    let toml = format!(
        "[[routes]]\nprefix = \"/ws/\"\nupstream = \"{}\"\nwebsocket = true\n\n\
         [[routes]]\nprefix = \"/plain/\"\nupstream = \"{{upstream}}\"\n",
        ws.url()
    );
    let mut flags = vec!["--ws-session-check", "200ms"];
    flags.extend(extra);
    let stack = Stack::start_with_config(store, &toml, &flags).await?;
    Some((stack, ws))
}

async fn connect(
    stack: &Stack,
    path: &str,
    browser: Option<&Browser>,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let uri = format!("ws://{}{path}", stack.bff.public_addr)
        .parse()
        .unwrap();
    let mut request = ClientRequestBuilder::new(uri);
    if let Some(browser) = browser {
        request = request.with_header("Cookie", browser.cookie_header());
    }
    if let Some(origin) = origin {
        request = request.with_header("Origin", origin);
    }
    let tcp = TcpStream::connect(stack.bff.public_addr).await.unwrap();
    client_async(request, tcp).await.map(|(ws, _response)| ws)
}

fn refused_status(result: Result<Ws, tungstenite::Error>) -> u16 {
    let err = result
        .map(|_ws| ())
        .expect_err("handshake unexpectedly succeeded");
    let tungstenite::Error::Http(res) = err else {
        eprintln!("handshake failed without a status: {err}");
        return 0;
    };
    res.status().as_u16()
}

async fn echo(ws: &mut Ws, text: &str) -> String {
    ws.send(Message::text(text)).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("echo in time");
    reply
        .expect("a message")
        .expect("no error")
        .into_text()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn h9_websocket_from_foreign_origin_or_without_session_is_refused() {
    let (stack, ws) = ws_stack(Store::Memory).await.unwrap();
    let browser = stack.logged_in_browser().await;
    assert_eq!(
        refused_status(
            connect(
                &stack,
                "/ws/chat",
                Some(&browser),
                Some("https://evil.example")
            )
            .await
        ),
        403
    );
    assert_eq!(
        refused_status(connect(&stack, "/ws/chat", Some(&browser), None).await),
        403
    );
    assert_eq!(
        refused_status(connect(&stack, "/ws/chat", None, Some(PUBLIC_URL)).await),
        401
    );
    let mut forged = Browser::default();
    forged.set_cookie(COOKIE, &"A".repeat(43));
    assert_eq!(
        refused_status(connect(&stack, "/ws/chat", Some(&forged), Some(PUBLIC_URL)).await),
        401
    );
    assert!(
        ws.handshakes().is_empty(),
        "a refused handshake reached the upstream"
    );
}

#[tokio::test]
async fn h9_websocket_relays_with_the_bearer_only_on_websocket_routes() {
    let (stack, ws) = ws_stack(Store::Memory).await.unwrap();
    let browser = stack.logged_in_browser().await;
    let mut socket = connect(&stack, "/ws/chat", Some(&browser), Some(PUBLIC_URL))
        .await
        .unwrap();
    assert_eq!(echo(&mut socket, "hello").await, "hello");
    assert_eq!(echo(&mut socket, &"x".repeat(100_000)).await.len(), 100_000);
    let handshake = &ws.handshakes()[0];
    let get = |name: &str| {
        handshake
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("authorization").len(), 1);
    assert!(get("authorization")[0].starts_with("Bearer ey"));
    assert_eq!(get("upgrade"), ["websocket"]);
    assert!(
        get("cookie").iter().all(|c| !c.contains(COOKIE)),
        "session cookie reached the upstream"
    );

    // Not a websocket route: the upgrade is hop-by-hop and simply dropped.
    let plain = connect(&stack, "/plain/x", Some(&browser), Some(PUBLIC_URL)).await;
    assert_eq!(refused_status(plain), 200);
    let seen = stack.upstream.last_request().unwrap();
    assert!(seen.header("upgrade").is_none() && seen.header("sec-websocket-key").is_some());
}

#[tokio::test]
async fn h10_logout_closes_an_open_websocket_within_the_check_interval() {
    let Some((stack, _ws)) = ws_stack(Store::Redis).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let mut socket = connect(&stack, "/ws/chat", Some(&browser), Some(PUBLIC_URL))
        .await
        .unwrap();
    assert_eq!(echo(&mut socket, "before").await, "before");
    let out = browser.logout(&stack).await;
    assert_eq!(out.status, 302);
    assert_eq!(browser.get(&stack, "/ws/x", &API).await.status, 401);
    let logged_out = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(msg)) if msg.is_close() => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "websocket still open 3 s after logout");
    eprintln!(
        "websocket closed {:?} after logout (check interval 200ms)",
        logged_out.elapsed()
    );
}

#[tokio::test]
async fn an_actively_used_websocket_keeps_its_session_alive_past_the_idle_timeout() {
    let idle = ["--session-idle-timeout", "2s"];
    let Some((stack, _ws)) = ws_stack_with(Store::Redis, &idle).await else {
        return;
    };
    let mut browser = stack.logged_in_browser().await;
    let mut socket = connect(&stack, "/ws/chat", Some(&browser), Some(PUBLIC_URL))
        .await
        .unwrap();
    // Twice the idle timeout of traffic on the socket alone.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert_eq!(
            echo(&mut socket, "still here").await,
            "still here",
            "socket closed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let info = browser.get(&stack, "/auth/session?slide=false", &API).await;
    assert_eq!(info.status, 200, "socket traffic did not count as activity");
    // Without traffic the idle timeout still ends the session and the socket.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(msg)) = socket.next().await {
            if msg.is_close() {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "an idle socket outlived the idle timeout");
    assert_eq!(
        browser
            .get(&stack, "/auth/session?slide=false", &API)
            .await
            .status,
        401
    );
}
