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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::http_util::{Body, BoxError};
use crate::metrics::{ConnectionMetrics, GaugeSlot};

/// Largest request head (request line + headers) accepted; hyper answers
/// 431 past it.
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields in one HTTP/1 request; hyper answers 431 past it.
pub(crate) const MAX_HEADER_COUNT: usize = 100;
/// A listener's connection timeouts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// Client idle timeout (`BFF_CLIENT_IDLE_TIMEOUT`).
    pub(crate) idle: Duration,
    /// How long in-flight requests may take to finish once accepting
    /// stopped at shutdown (`BFF_SHUTDOWN_GRACE`).
    pub(crate) grace: Duration,
}
/// Concurrent streams per HTTP/2 connection (hyper's default is 200; RFC
/// 9113 §6.5.2 recommends no fewer than 100).
pub(crate) const MAX_CONCURRENT_STREAMS: u32 = 100;

/// What a handler returns: the response (errors are already responses).
pub(crate) type HandlerFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// A listener's request handler: `(peer address, request) → response`.
/// [`crate::app`] wires the public listener to the front door and the
/// admin listener to the admin endpoints; the server knows neither.
pub(crate) type Handler = Arc<dyn Fn(SocketAddr, Request<Incoming>) -> HandlerFuture + Send + Sync>;

/// The public listener's cap on open connections, shared by every worker.
pub(crate) struct ConnectionLimit {
    max: usize,
    open: AtomicUsize,
    metrics: ConnectionMetrics,
}

/// One open connection's place under the cap; released on drop.
pub(crate) struct Slot(Arc<ConnectionLimit>);

// === impl ConnectionLimit ===

impl ConnectionLimit {
    /// At most `max` connections, counted in `metrics` (open, refused at
    /// the cap, by protocol).
    pub(crate) fn new(max: usize, metrics: ConnectionMetrics) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: AtomicUsize::new(0),
            metrics,
        })
    }

    /// A slot for one more connection, or `None` (counted) at the cap.
    fn acquire(self: &Arc<Self>) -> Option<Slot> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.metrics.refused.inc();
            return None;
        }
        self.metrics.open.inc();
        Some(Slot(Arc::clone(self)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.metrics.open.dec();
    }
}

/// When a connection last had a request in flight, and its place under
/// the cap (public listener), held until the connection and its service
/// are both gone.
#[derive(Default)]
struct Activity {
    /// Requests whose response has not been sent to its end.
    in_flight: AtomicUsize,
    /// Milliseconds since the connection started, when the last one ended.
    last_ms: AtomicU64,
    /// The connection's place under the cap, if counted.
    slot: Option<Slot>,
    /// Its count under its protocol, from the first request.
    protocol: OnceLock<GaugeSlot>,
}

impl Activity {
    /// A new connection's activity, holding its place under the cap.
    fn counted(slot: Option<Slot>) -> Self {
        Self {
            slot,
            ..Self::default()
        }
    }

    /// Whether nothing has been in flight for `idle` since `started`.
    fn idle_for(&self, started: Instant, idle: Duration) -> bool {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.in_flight.load(Ordering::Relaxed) == 0 && started.elapsed() >= last + idle
    }
}

/// One request in flight, from the call until its response body is
/// sent or dropped (a reset stream, a cancelled call).
struct InFlight {
    activity: Arc<Activity>,
    started: Instant,
}

impl InFlight {
    fn new(activity: &Arc<Activity>, started: Instant) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            activity: Arc::clone(activity),
            started,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.last_ms.store(ms, Ordering::Relaxed);
        self.activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request in flight until it is done.
struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One connection's service: the listener's handler and the peer.
#[derive(Clone)]
struct PeerService {
    handler: Handler,
    peer: SocketAddr,
    activity: Arc<Activity>,
    started: Instant,
}

impl hyper::service::Service<Request<Incoming>> for PeerService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = HandlerFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        if let Some(slot) = &self.activity.slot {
            let h2 = req.version() == http::Version::HTTP_2;
            let _counted = self
                .activity
                .protocol
                .get_or_init(|| slot.0.metrics.protocol(h2));
        }
        let in_flight = InFlight::new(&self.activity, self.started);
        let response = (self.handler)(self.peer, req);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|inner| {
                Tracked {
                    inner,
                    _in_flight: in_flight,
                }
                .boxed()
            }))
        })
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
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    builder
}

/// The connections of one listener on one runtime: each served on its
/// own task, all drained together at shutdown.
pub(crate) struct Connections {
    builder: Builder<TokioExecutor>,
    handler: Handler,
    idle: Duration,
    grace: Duration,
    drain: CancellationToken,
    tasks: TaskTracker,
}

impl Connections {
    /// Connections served by `handler` under `timeouts`.
    pub(crate) fn new(handler: Handler, timeouts: Timeouts) -> Self {
        Self {
            builder: builder(timeouts.idle),
            handler,
            idle: timeouts.idle,
            grace: timeouts.grace,
            drain: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// Serves `stream` on a task of the current runtime; `slot` (its place
    /// under the connection cap, if any) is held until it closes.
    pub(crate) fn serve(&self, stream: TcpStream, peer: SocketAddr, slot: Option<Slot>) {
        let activity = Arc::new(Activity::counted(slot));
        let started = Instant::now();
        let service = PeerService {
            handler: Arc::clone(&self.handler),
            peer,
            activity: Arc::clone(&activity),
            started,
        };
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = conn.into_owned();
        let (drain, idle) = (self.drain.clone(), self.idle);
        self.tasks.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut check = tokio::time::interval(idle / 2);
            check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut goaway_at: Option<Instant> = None;
            loop {
                tokio::select! {
                    ended = conn.as_mut() => {
                        if let Err(err) = ended {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                        return;
                    }
                    () = drain.cancelled(), if goaway_at.is_none() => {}
                    _ = check.tick() => {
                        if !activity.idle_for(started, idle) {
                            continue;
                        }
                        // Still nothing in flight an idle period after the
                        // GOAWAY (a frame that never ends): close it.
                        if goaway_at.is_some_and(|at| at.elapsed() >= idle) {
                            return;
                        }
                        if goaway_at.is_some() {
                            continue;
                        }
                    }
                }
                // Finishes what is in flight, then closes (GOAWAY on h2).
                conn.as_mut().graceful_shutdown();
                goaway_at = Some(Instant::now());
            }
        });
    }

    /// Lets in-flight requests finish, for at most the grace period: idle
    /// kept-alive connections close, HTTP/1.1 answers carry
    /// `Connection: close`, HTTP/2 connections get a GOAWAY (RFC 9113 §6.8).
    pub(crate) async fn drain(self) {
        self.drain.cancel();
        self.tasks.close();
        if tokio::time::timeout(self.grace, self.tasks.wait())
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
    limit: Option<&Arc<ConnectionLimit>>,
    mut adopt: impl FnMut(TcpStream, SocketAddr, Option<Slot>),
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
        let slot = match limit.map(ConnectionLimit::acquire) {
            // At the cap: closed at once, before a byte is read.
            Some(None) => continue,
            Some(slot) => slot,
            None => None,
        };
        let _nodelay = stream.set_nodelay(true);
        adopt(stream, peer, slot);
    }
}

/// Serves on the current runtime until `shutdown`, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    handler: Handler,
    timeouts: Timeouts,
    shutdown: CancellationToken,
) {
    let connections = Connections::new(handler, timeouts);
    accept_until(listener, &shutdown, None, |stream, peer, slot| {
        connections.serve(stream, peer, slot);
    })
    .await;
    connections.drain().await;
}
