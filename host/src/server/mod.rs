//! The HTTP server: hyper for HTTP/1.1 and HTTP/2 (h2c), graceful shutdown on Ctrl-C/SIGTERM.

mod access_log;
pub mod handler;
mod request_id;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use handler::{handle, handle_live};

/// Request headers larger than this get 431, like Node's (16 KiB) but roomier for cookies.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A client must finish sending its request headers within this, or the connection closes.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long in-flight requests get to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `stop` fires, then drains in-flight requests; `handler` answers
/// each request (the public app, or the admin API).
pub async fn serve<H, F>(listener: TcpListener, handler: H, mut stop: Stop) -> anyhow::Result<()>
where
    H: Fn(hyper::Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = hyper::Response<crate::response::Body>> + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        // The header buffer may not grow past this: hyper answers 431.
        .max_buf_size(MAX_HEADER_BYTES)
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Running out of file descriptors and the like: back off, keep serving.
                        tracing::warn!("accepting a connection failed: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let service = hyper::service::service_fn(move |request| {
                    let answer = handler(request, peer);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        client_limit(peer, error.as_ref());
                    }
                });
            }
            () = stop.wait() => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("stopped cleanly"),
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway")
        }
    }
    Ok(())
}

/// Logs and counts a connection that ended on a client limit; other endings are debug noise.
fn client_limit(peer: SocketAddr, error: &(dyn std::error::Error + 'static)) {
    let limit = match error.downcast_ref::<hyper::Error>() {
        Some(error) if error.is_parse_too_large() => "header-size",
        Some(error) if error.is_timeout() => "header-timeout",
        _ => {
            tracing::debug!(%peer, "connection ended with an error: {error}");
            return;
        }
    };
    crate::metrics::get().limit_hit("-", limit);
    tracing::warn!(%peer, limit, "client limit hit, connection closed: {error}");
}

/// Fires once when the process is asked to stop; every listener holds a clone.
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

impl Stop {
    /// Fires on Ctrl-C or SIGTERM; call inside the async runtime.
    pub fn on_signal() -> Self {
        let (sender, receiver) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let signal = stop_signal().await;
            tracing::info!("{signal}: finishing in-flight requests, then stopping");
            let _ = sender.send(true);
        });
        Self(receiver)
    }

    /// Returns once the stop fired.
    pub async fn wait(&mut self) {
        // An error means the sender is gone without firing: then never stop from here.
        if self.0.wait_for(|stopped| *stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Binds the listener, with a message that says what to do when the address is taken.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}: is another server using it? Pick one with --listen")
    })
}

async fn stop_signal() -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    };
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let sigterm = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
            "SIGTERM"
        };
        tokio::select! { s = ctrl_c => s, s = sigterm => s }
    }
    #[cfg(not(unix))]
    ctrl_c.await
}
