//! Request and response bodies under the route's limits: the request body is cut off at its
//! cap (413), after a pause longer than its timeout (408) or when it is malformed (400), and a
//! response past its warning size is logged once.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::Error;

/// Why the host cut a request body short, so it can answer for it whatever the guest did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BodyFault {
    /// More than the cap arrived (413).
    TooLarge = 1,
    /// Nothing arrived for longer than the body timeout (408).
    Stalled = 2,
    /// The framing was broken, e.g. a bad chunk size (400).
    Malformed = 3,
}

/// Set once by the body, read by the request path after the guest answered.
#[derive(Clone, Default)]
pub struct BodyFaults(Arc<AtomicU8>);

impl BodyFaults {
    fn set(&self, fault: BodyFault) {
        // The first fault is the cause; later ones follow from it.
        let _ = self
            .0
            .compare_exchange(0, fault as u8, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The fault that ended the body, if one did.
    pub fn get(&self) -> Option<BodyFault> {
        match self.0.load(Ordering::Relaxed) {
            1 => Some(BodyFault::TooLarge),
            2 => Some(BodyFault::Stalled),
            3 => Some(BodyFault::Malformed),
            _ => None,
        }
    }
}

/// An incoming body that fails past `cap` bytes, after `stall` without a byte, or on broken
/// framing, and records which.
pub struct CappedBody {
    inner: Incoming,
    cap: u64,
    seen: u64,
    stall: Duration,
    /// Armed while the guest waits for the next frame; re-armed after every frame.
    timer: Pin<Box<Sleep>>,
    rearm: bool,
    /// What cut the body short, shared with the request path.
    pub faults: BodyFaults,
}

impl CappedBody {
    /// Wraps a request body.
    pub fn new(inner: Incoming, cap: u64, stall: Duration) -> Self {
        Self {
            inner,
            cap,
            seen: 0,
            stall,
            timer: Box::pin(tokio::time::sleep(stall)),
            rearm: true,
            faults: BodyFaults::default(),
        }
    }

    fn fail(
        &mut self,
        fault: BodyFault,
        error: Error,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.faults.set(fault);
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.faults.get().is_some() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.rearm = true;
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.cap {
                        let seen = this.seen;
                        return this
                            .fail(BodyFault::TooLarge, Error::HttpRequestBodySize(Some(seen)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => this.fail(BodyFault::Malformed, error.into()),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.rearm {
                    this.rearm = false;
                    let deadline = Instant::now() + this.stall;
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => this.fail(BodyFault::Stalled, Error::ConnectionReadTimeout),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A guest's response body that ends in an error, not a clean end, when the guest failed while
/// writing it: hyper then closes an HTTP/1.1 connection without the final chunk and resets an
/// HTTP/2 stream, so no client or cache keeps a cut-off body as whole.
pub struct EndsWithGuest {
    body: crate::response::Body,
    /// `false` once the guest has failed; sent before its store (and so this body) is dropped.
    outcome: tokio::sync::oneshot::Receiver<bool>,
}

impl EndsWithGuest {
    /// Wraps a guest's body; the guest's task sends on `outcome` before it drops its store.
    pub fn new(body: crate::response::Body, outcome: tokio::sync::oneshot::Receiver<bool>) -> Self {
        Self { body, outcome }
    }
}

impl Body for EndsWithGuest {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            // The body ends either because the guest finished it (the guest may still run:
            // nothing sent yet) or because its store was dropped, after the outcome was sent.
            Poll::Ready(None) => match self.outcome.try_recv() {
                Ok(false) => Poll::Ready(Some(Err(Error::HttpResponseIncomplete))),
                _ => Poll::Ready(None),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // Only a body that ended before anything could fail is at its end up front.
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Counts a response's bytes as they stream and logs once when they pass `warning`.
pub fn count_response(
    body: crate::response::Body,
    pattern: Arc<str>,
    warning: u64,
) -> crate::response::Body {
    let sent = AtomicU64::new(0);
    body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            let before = sent.fetch_add(data.len() as u64, Ordering::Relaxed);
            let after = before + data.len() as u64;
            if before <= warning && after > warning {
                crate::metrics::get().limit_hit(&pattern, "response-size");
                tracing::warn!(
                    route = %pattern,
                    limit = "response-size",
                    "API response for {pattern} exceeds {}. API Routes are meant to respond \
                     quickly.",
                    human_size(warning)
                );
            }
        }
        frame
    })
    .boxed_unsync()
}

/// `4194304` → `4MB`, as Next.js writes the limit.
fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KB", b >> 10),
        b => format!("{b} bytes"),
    }
}
