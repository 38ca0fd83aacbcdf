//! One connection's lifetime: it must send a first byte in time, it is closed once it has had
//! no request in flight for the idle timeout, and a stop signal ends it gracefully.

use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};

use super::{ServerLimits, Stop, client_limit};
use crate::request::shares::Client;

/// How long an idle connection being closed may take to say goodbye (HTTP/2's GOAWAY).
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Serves one accepted connection until it ends, idles out or the host stops; `_slot` is its
/// place under the connection cap.
pub(super) async fn serve<H, F>(
    stream: TcpStream,
    client: Client,
    builder: Arc<auto::Builder<TokioExecutor>>,
    handler: H,
    limits: ServerLimits,
    mut stop: Stop,
    _slot: OwnedSemaphorePermit,
) where
    H: Fn(hyper::Request<Incoming>, Client) -> F + Send + Sync + 'static,
    F: Future<Output = hyper::Response<crate::response::Body>> + Send + 'static,
{
    let peer = client.peer;
    // hyper's protocol sniffing has no timer of its own: a connection that never sends a byte
    // would be held for ever.
    let mut first = [0u8; 1];
    match tokio::time::timeout(limits.header_timeout, stream.peek(&mut first)).await {
        Err(_) => return limit_hit(peer, "header-timeout", "sent nothing"),
        Ok(Ok(0) | Err(_)) => return,
        Ok(Ok(_)) => {}
    }
    let activity = Activity::default();
    let handler = Arc::new(handler);
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request| {
            let in_flight = activity.begin();
            let answer = handler(request, client.clone());
            async move {
                let response = answer.await;
                Ok::<_, std::convert::Infallible>(response.map(|body| Held {
                    body,
                    _in_flight: in_flight,
                }))
            }
        })
    };
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = activity.idle(limits.idle_timeout) => {
            tracing::debug!(%peer, "closing a connection idle for {:?}", limits.idle_timeout);
            // HTTP/1.1 closes at once; HTTP/2 sends GOAWAY and waits for the client's answer
            // to its ping, which a client that stopped reading never sends.
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(IDLE_CLOSE_GRACE, connection.as_mut()).await {
                Ok(ended) => ended,
                Err(_) => Ok(()),
            }
        }
        () = stop.wait() => {
            // In-flight requests may finish; the listener's drain timeout bounds them.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        client_limit(peer, error.as_ref());
    }
}

fn limit_hit(peer: SocketAddr, limit: &'static str, what: &str) {
    crate::metrics::get().limit_hit("-", limit);
    tracing::warn!(%peer, limit, "client limit hit, connection closed: it {what}");
}

/// How many requests of one connection are in flight, their response bodies included.
#[derive(Clone, Default)]
struct Activity(Arc<watch::Sender<usize>>);

impl Activity {
    fn begin(&self) -> InFlight {
        self.0.send_modify(|n| *n += 1);
        InFlight(self.0.clone())
    }

    /// Returns once no request has been in flight for `timeout`.
    async fn idle(&self, timeout: Duration) {
        let mut count = self.0.subscribe();
        loop {
            // An error means the sender is gone, which cannot happen while `self` lives.
            let _ = count.wait_for(|n| *n == 0).await;
            tokio::select! {
                biased;
                _ = count.changed() => {}
                () = tokio::time::sleep(timeout) => return,
            }
        }
    }
}

/// One request in flight; dropped when its response body is done or dropped.
struct InFlight(Arc<watch::Sender<usize>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A response body that keeps its request counted as in flight until it is dropped.
pub(super) struct Held {
    body: crate::response::Body,
    _in_flight: InFlight,
}

impl Body for Held {
    type Data = Bytes;
    type Error = <crate::response::Body as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
