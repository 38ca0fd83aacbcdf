//! Request and response bodies under the route's limits: the request body is cut off at its
//! cap (the client gets 413), and a response past its warning size is logged once.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use wasmtime_wasi_http::Error;

/// An incoming body that fails once more than `cap` bytes have arrived.
pub struct CappedBody {
    inner: Incoming,
    cap: u64,
    seen: u64,
    /// Set when the cap was hit, so the host answers 413 whatever the guest made of it.
    pub hit: Arc<AtomicBool>,
}

impl CappedBody {
    /// Wraps a request body.
    pub fn new(inner: Incoming, cap: u64) -> Self {
        Self {
            inner,
            cap,
            seen: 0,
            hit: Arc::default(),
        }
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
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.cap {
                        this.hit.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(Error::HttpRequestBodySize(Some(this.seen)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error.into()))),
            other => other.map(|_| None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
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
