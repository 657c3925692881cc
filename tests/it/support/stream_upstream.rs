//! A streaming upstream for limit tests: `POST` bodies are counted frame by
//! frame and dropped (never collected); `GET /bytes/<n>` streams `n` zero
//! bytes (`/bytes/endless` never ends) in 64 KiB frames, counting what it
//! produced; `GET /hang` never answers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response};
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

type Body = BoxBody<Bytes, Infallible>;

/// A running streaming upstream; stops when dropped.
pub struct StreamUpstream {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    produced: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl StreamUpstream {
    /// Starts the server.
    pub async fn start() -> Self {
        let listener = super::http::bind().await;
        let addr = listener.local_addr().expect("stream upstream addr");
        let (received, produced) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let counters = (Arc::clone(&received), Arc::clone(&produced));
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let counters = counters.clone();
                let service = service_fn(move |req| handle(req, counters.clone()));
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service),
                );
            }
        });
        Self {
            addr,
            received,
            produced,
            task,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Request-body bytes received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Response-body bytes handed to hyper so far.
    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::SeqCst)
    }
}

impl Drop for StreamUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    req: Request<Incoming>,
    (received, produced): (Arc<AtomicU64>, Arc<AtomicU64>),
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    if path.ends_with("/hang") {
        std::future::pending::<()>().await;
    }
    let mut body = req.into_body();
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            received.fetch_add(data.len() as u64, Ordering::SeqCst);
        }
    }
    let total = match path.rsplit('/').next() {
        Some("endless") => u64::MAX,
        Some(n) => n.parse().unwrap_or(0),
        None => 0,
    };
    let chunks = stream::unfold(0_u64, move |sent| {
        let produced = Arc::clone(&produced);
        async move {
            if sent >= total {
                return None;
            }
            let len =
                usize::try_from((total - sent).min(ZEROS.len() as u64)).unwrap_or(ZEROS.len());
            produced.fetch_add(len as u64, Ordering::SeqCst);
            Some((
                Ok(Frame::data(Bytes::from_static(&ZEROS[..len]))),
                sent + len as u64,
            ))
        }
    });
    Ok(Response::new(BodyExt::boxed(StreamBody::new(chunks))))
}
