//! The HTTP server: hyper for HTTP/1.1 and HTTP/2 (h2c), graceful shutdown on Ctrl-C/SIGTERM.

mod access_log;
mod connection;
mod etag;
pub mod handler;
mod request_id;
pub mod request_shape;
mod resolve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use handler::{handle, handle_live};

use crate::request::shares::{Client, ShareLimits, Shares};
use request_shape::MAX_HEADER_BYTES;

/// How long in-flight requests get to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What one listener lets its clients hold: connections, time and instances.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Open connections; past this, new ones are closed at once (and counted).
    pub max_connections: usize,
    /// A new connection must send its first byte, and every request its headers, within this.
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2: GOAWAY).
    pub idle_timeout: Duration,
    /// Guest instances one connection and one client address may hold.
    pub shares: ShareLimits,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shares: ShareLimits {
                per_connection: 100,
                per_address: 250,
            },
        }
    }
}

/// Accepts connections until `stop` fires, then drains in-flight requests; `handler` answers
/// each request (the public app, or the admin API).
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    stop: Stop,
    limits: ServerLimits,
) -> anyhow::Result<()>
where
    H: Fn(hyper::Request<Incoming>, Client) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = hyper::Response<crate::response::Body>> + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Heads past twice the header limit get hyper's own 431; below that request_shape
        // answers precisely (414 for a long target, 431 for headers). More than 100 header
        // fields also get 431: hyper's default, kept because setting it moves the header table
        // off the stack.
        .max_buf_size(2 * MAX_HEADER_BYTES)
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(2 * MAX_HEADER_BYTES as u32)
        // Pings find peers that vanished without closing; the idle timeout finds live ones.
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    let shares = Shares::new(limits.shares);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut stopping = stop.clone();
    let local = listener.local_addr()?;
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
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    // Closing at once is the cheapest answer: the client sees a reset, and a
                    // flood costs no more than the accept.
                    drop(stream);
                    over_capacity(peer, limits.max_connections);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().unwrap_or(local);
                tokio::spawn(connection::serve(
                    stream,
                    shares.connect(peer, local),
                    builder.clone(),
                    handler.clone(),
                    limits,
                    stop.clone(),
                    slot,
                ));
            }
            () = stopping.wait() => break,
        }
    }
    drop(listener);
    // Every connection holds a slot until it has ended, so all slots back means all done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => tracing::info!("stopped cleanly"),
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway")
        }
    }
    Ok(())
}

/// Counts a connection refused at the cap, and logs at most one line every ten seconds.
fn over_capacity(peer: SocketAddr, max: usize) {
    static START: std::sync::LazyLock<std::time::Instant> =
        std::sync::LazyLock::new(std::time::Instant::now);
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    static LOGGED_AT: AtomicU64 = AtomicU64::new(0);
    crate::metrics::get().limit_hit("-", "connections");
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    let now = START.elapsed().as_secs() + 1;
    let last = LOGGED_AT.load(Ordering::Relaxed);
    if (last == 0 || now >= last + 10)
        && LOGGED_AT
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            %peer,
            limit = "connections",
            "client limit hit, connection closed: {max} connections are open \
             ({refused} refused so far; raise --max-connections if this is expected)"
        );
    }
}

/// Logs and counts a connection that ended on a client limit; other endings are debug noise.
fn client_limit(peer: SocketAddr, error: &(dyn std::error::Error + 'static)) {
    let limit = match error.downcast_ref::<hyper::Error>() {
        // hyper answers 414 or 431 itself and says which only in its message.
        Some(error) if error.is_parse_too_large() && error.to_string().contains("URI") => {
            "uri-size"
        }
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
