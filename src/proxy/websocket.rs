//! WebSocket relaying (RFC 6455 §4; ASVS 5 §4.4; security cases H9, H10).
//!
//! An upgrade is relayed only on a `websocket = true` route, only for an
//! HTTP/1.1 `GET` that asked for it (RFC 9110 §7.8), only with a live
//! session and only from a trusted `Origin` (bff's public origin or
//! `BFF_ALLOWED_ORIGINS`, RFC 6455 §10.2). The upstream handshake carries
//! the bearer like any proxied request; `Upgrade`/`Connection` are
//! hop-by-hop, so they are re-added explicitly on both legs. After both
//! sides switched protocols, bytes are copied both ways unchanged, and the
//! session is re-checked in the store every `BFF_WS_SESSION_CHECK`: once it
//! is logged out or expired, both sockets are closed. Frames the browser
//! sends count as activity for `BFF_SESSION_IDLE_TIMEOUT`, recorded at
//! most as often as for plain requests.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::Error;
use crate::http_util::{Body, empty, header_str};
use crate::metrics::ConnectionMetrics;
use crate::session::{SessionId, Vault};

/// Whether the request asks to switch to the WebSocket protocol.
pub(crate) fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.version() == Version::HTTP_11
        && req.method() == Method::GET
        && has_token(req.headers(), header::CONNECTION, "upgrade")
        && has_token(req.headers(), header::UPGRADE, "websocket")
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Adds the hop-by-hop fields of a WebSocket handshake back to `headers`.
pub(crate) fn add_upgrade_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
}

/// How the upstream answered a handshake.
pub(crate) enum Handshake {
    /// `101`: the relay runs; send this response to the client.
    Switched(Response<Body>),
    /// Anything else, to be relayed as an ordinary response.
    Refused(Response<Incoming>),
}

/// Turns the upstream's answer into the client's. A `101` starts the relay
/// in the background; anything else is returned as is (the caller cleans it).
pub(crate) fn finish_handshake(
    client: OnUpgrade,
    mut upstream: Response<Incoming>,
    watch: SessionWatch,
    metrics: &ConnectionMetrics,
) -> Handshake {
    if upstream.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Handshake::Refused(upstream);
    }
    let upstream_io = hyper::upgrade::on(&mut upstream);
    let mut res = Response::new(empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for name in [
        "sec-websocket-accept",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    ] {
        if let Some(value) = upstream.headers().get(name) {
            res.headers_mut().insert(name, value.clone());
        }
    }
    add_upgrade_headers(res.headers_mut());
    let counted = metrics.relay();
    tokio::spawn(async move {
        relay(client, upstream_io, watch).await;
        drop(counted);
    });
    Handshake::Switched(res)
}

/// What the relay needs to re-check the session.
pub(crate) struct SessionWatch {
    /// The session store.
    pub(crate) vault: Vault,
    /// The session the socket belongs to.
    pub(crate) id: SessionId,
    /// How often to re-check.
    pub(crate) every: Duration,
}

async fn relay(client: OnUpgrade, upstream: OnUpgrade, watch: SessionWatch) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(err) => {
            tracing::debug!(error = %err, "websocket upgrade did not complete");
            return;
        }
    };
    let seen = Arc::new(AtomicBool::new(false));
    let mut client = Active {
        inner: TokioIo::new(client),
        seen: Arc::clone(&seen),
    };
    let mut upstream = TokioIo::new(upstream);
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
            if let Err(err) = copied {
                tracing::debug!(error = %err, "websocket relay ended with an error");
            }
        }
        () = session_ended(&watch, &seen) => {
            tracing::info!(session = %watch.id.log_id(), "closing websocket: session ended");
        }
    }
    // Dropping both halves closes both TCP connections.
}

/// Resolves once the session is gone (logged out, expired, deleted). A
/// store error is not proof of logout: the check is retried next tick.
/// Frames the browser sent since the last tick count as activity for the
/// idle timeout (recorded at most as often as for plain requests), so an
/// actively used socket keeps its session alive.
async fn session_ended(watch: &SessionWatch, seen: &AtomicBool) {
    let mut ticks = tokio::time::interval(watch.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match watch.vault.load(&watch.id).await {
            Ok(Some(data)) if seen.swap(false, Ordering::Relaxed) => {
                if let Err(err) = watch.vault.record_activity(&watch.id, &data).await {
                    tracing::warn!(error = %err, "could not record websocket activity");
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(err) => tracing::warn!(error = %err, "websocket session re-check failed; retrying"),
        }
    }
}

/// The client half of a relay, noting when the browser sends anything.
struct Active<T> {
    inner: T,
    seen: Arc<AtomicBool>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Active<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.seen.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Active<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Rejects a handshake from an untrusted or missing `Origin` (403).
pub(crate) fn check_origin(
    trusted: impl Fn(&str) -> bool,
    headers: &HeaderMap,
) -> Result<(), Error> {
    match header_str(headers, header::ORIGIN) {
        Some(origin) if trusted(origin) => Ok(()),
        _ => Err(Error::Forbidden(
            "WebSocket connections from this origin are not allowed.",
        )),
    }
}
