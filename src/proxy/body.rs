//! The request body as forwarded upstream: streamed frame by frame (never
//! held whole), counted against the route's `max_body` (RFC 9110 §15.5.14,
//! security case A2) and cut when the client goes silent mid-body (slow
//! body, case A3). [`classify_send_error`] turns the resulting upstream
//! send failure back into 413 / 408 instead of a misleading 502.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::error::Error;
use crate::http_util::{Body, BoxError};

/// Why a forwarded request body stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// More bytes than the route allows.
    #[error("request body exceeds the route limit")]
    TooLarge,
    /// No bytes for longer than the client idle timeout.
    #[error("client stopped sending the request body")]
    Idle,
}

/// A limited, idle-timed view of a client's request body.
pub(crate) struct RequestBody {
    inner: Incoming,
    remaining: u64,
    idle: Duration,
    /// Created on the first wait only: most requests (GETs) never wait.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Whether the last poll found no data (the deadline is then running).
    waiting: bool,
}

// === impl RequestBody ===

impl RequestBody {
    /// Wraps `inner`: at most `limit` bytes, at most `idle` between frames.
    pub(crate) fn new(inner: Incoming, limit: u64, idle: Duration) -> Self {
        Self {
            inner,
            remaining: limit,
            idle,
            deadline: None,
            waiting: false,
        }
    }

    /// As the boxed body type the outbound client takes.
    pub(crate) fn boxed(self) -> Body {
        BodyExt::boxed(self)
    }
}

impl hyper::body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let Poll::Ready(next) = polled else {
            // The clock measures client silence only, not time the upstream
            // spent not asking for more (backpressure).
            let idle = this.idle;
            let deadline = this
                .deadline
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
            if !this.waiting {
                this.waiting = true;
                deadline.as_mut().reset(Instant::now() + idle);
            }
            ready!(deadline.as_mut().poll(cx));
            return Poll::Ready(Some(Err(Box::new(BodyError::Idle))));
        };
        this.waiting = false;
        let Some(frame) = next else {
            return Poll::Ready(None);
        };
        let frame = frame.map_err(BoxError::from)?;
        if let Some(data) = frame.data_ref() {
            let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
            if len > this.remaining {
                this.remaining = 0;
                return Poll::Ready(Some(Err(Box::new(BodyError::TooLarge))));
            }
            this.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// 413 when the declared `Content-Length` is over `limit`, before a byte
/// of the body is read (case A2).
pub(crate) fn check_declared_length(headers: &http::HeaderMap, limit: u64) -> Result<(), Error> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(Error::PayloadTooLarge),
        _ => Ok(()),
    }
}

/// Maps a failed upstream send: our own body limits become 413 / 408;
/// anything else is the upstream's fault (502).
pub(crate) fn classify_send_error(err: &(dyn std::error::Error + 'static)) -> Error {
    let mut cause = Some(err);
    while let Some(current) = cause {
        match current.downcast_ref::<BodyError>() {
            Some(BodyError::TooLarge) => return Error::PayloadTooLarge,
            Some(BodyError::Idle) => return Error::RequestTimeout,
            None => cause = current.source(),
        }
    }
    Error::UpstreamUnavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_length_over_the_limit_is_413() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("2048"),
        );
        assert!(matches!(
            check_declared_length(&headers, 1024),
            Err(Error::PayloadTooLarge)
        ));
        assert!(check_declared_length(&headers, 4096).is_ok());
        assert!(check_declared_length(&http::HeaderMap::new(), 0).is_ok());
    }

    #[test]
    fn send_errors_caused_by_our_limits_are_recognised() {
        #[derive(Debug, thiserror::Error)]
        #[error("wrapper")]
        struct Wrapper(#[source] BodyError);
        assert!(matches!(
            classify_send_error(&Wrapper(BodyError::TooLarge)),
            Error::PayloadTooLarge
        ));
        assert!(matches!(
            classify_send_error(&Wrapper(BodyError::Idle)),
            Error::RequestTimeout
        ));
        assert!(matches!(
            classify_send_error(&std::io::Error::other("reset")),
            Error::UpstreamUnavailable
        ));
    }
}
