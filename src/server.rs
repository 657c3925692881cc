//! The accept loop shared by both listeners: HTTP/1.1 and h2 (auto, h2c
//! by prior knowledge), upgrades (WebSockets), the client idle timeout
//! against slowloris (hyper's header-read timeout needs a timer: hyper-util
//! PR #137; hyper re-arms it while a kept-alive connection waits for its
//! next request, so it is also the idle keep-alive timeout), header size
//! and count limits (→ 431, RFC 6585 §5), and graceful shutdown with a
//! bounded drain.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::http_util::Body;

/// Largest request head (request line + headers) accepted; hyper answers
/// 431 past it.
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields in one HTTP/1 request; hyper answers 431 past it.
pub(crate) const MAX_HEADER_COUNT: usize = 100;
/// How long in-flight requests may take to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a handler returns: the response (errors are already responses).
pub(crate) type HandlerFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// A listener's request handler: `(peer address, request) → response`.
/// [`crate::app`] wires the public listener to the front door and the
/// admin listener to the admin endpoints; the server knows neither.
pub(crate) type Handler = Arc<dyn Fn(SocketAddr, Request<Incoming>) -> HandlerFuture + Send + Sync>;

/// One connection's service: the listener's handler and the peer.
#[derive(Clone)]
struct PeerService {
    handler: Handler,
    peer: SocketAddr,
}

impl hyper::service::Service<Request<Incoming>> for PeerService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = HandlerFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        (self.handler)(self.peer, req)
    }
}

/// `idle` bounds header reads and kept-alive idleness (HTTP/1.1).
fn builder(idle: Duration) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADER_COUNT)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(Duration::from_secs(30)));
    builder
}

/// The connections of one listener on one runtime: each served on its
/// own task, all drained together at shutdown.
pub(crate) struct Connections {
    builder: Builder<TokioExecutor>,
    graceful: GracefulShutdown,
    handler: Handler,
}

impl Connections {
    /// Connections served by `handler`; `idle` is the client idle timeout.
    pub(crate) fn new(handler: Handler, idle: Duration) -> Self {
        Self {
            builder: builder(idle),
            graceful: GracefulShutdown::new(),
            handler,
        }
    }

    /// Serves `stream` on a task of the current runtime.
    pub(crate) fn serve(&self, stream: TcpStream, peer: SocketAddr) {
        let handler = PeerService {
            handler: Arc::clone(&self.handler),
            peer,
        };
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), handler);
        let conn = self.graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }

    /// Lets in-flight requests finish, for at most 10 s.
    pub(crate) async fn drain(self) {
        if tokio::time::timeout(DRAIN_TIMEOUT, self.graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("some connections were still open after the drain timeout");
        }
    }
}

/// Accepts connections until `shutdown`, passing each to `adopt`.
pub(crate) async fn accept_until(
    listener: TcpListener,
    shutdown: &CancellationToken,
    mut adopt: impl FnMut(TcpStream, SocketAddr),
) {
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _nodelay = stream.set_nodelay(true);
        adopt(stream, peer);
    }
}

/// Serves on the current runtime until `shutdown`, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    handler: Handler,
    idle: Duration,
    shutdown: CancellationToken,
) {
    let connections = Connections::new(handler, idle);
    accept_until(listener, &shutdown, |stream, peer| {
        connections.serve(stream, peer);
    })
    .await;
    connections.drain().await;
}
