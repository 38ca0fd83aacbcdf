//! The app's outbound HTTP client. A name is resolved once, only public addresses (or the app's
//! allowed private networks) are kept, and the connection goes to exactly those: there is no
//! second lookup a DNS answer could change. Idle HTTP/1.1 connections are kept for reuse.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, sleep, sleep_until, timeout_at};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::address::is_public;
use super::allow_list::{Host, Scheme, Target};
use super::config::Settings;

/// Idle connections kept per scheme, host and port.
const MAX_IDLE_PER_TARGET: usize = 16;

/// An idle connection older than this is closed rather than reused.
const IDLE_FOR: Duration = Duration::from_secs(60);

/// How long a finished exchange may take to leave its connection ready for the next one.
const READY_WAIT: Duration = Duration::from_secs(1);

/// What `send` returns besides the response: the connection runs on its own task, so there is
/// nothing left for the guest to wait on.
pub type Exchange = (
    Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Shared by every route of one deployment; cloning shares the pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    tls: tokio_rustls::TlsConnector,
    idle: Mutex<HashMap<Target, Vec<Idle>>>,
}

struct Idle {
    sender: http1::SendRequest<WasiBody>,
    since: Instant,
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

impl Client {
    /// A client with `settings`, trusting the Mozilla root certificates (`webpki-roots`) and
    /// the app's own `ca_certificates`.
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let mut roots = tokio_rustls::rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        for certificate in &settings.ca_certificates {
            roots.add(certificate.clone()).map_err(|error| {
                anyhow::anyhow!(
                    "routelet.toml [outbound_http] ca_certificates: a certificate cannot be \
                     trusted: {error}"
                )
            })?;
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Client {
            inner: Arc::new(Inner {
                settings,
                tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
                idle: Mutex::default(),
            }),
        })
    }

    /// Whether the app lets names and URLs reach this non-public address.
    pub fn allows_private(&self, ip: IpAddr) -> bool {
        let networks = &self.inner.settings.private_networks;
        networks.iter().any(|network| network.contains(ip))
    }

    /// Sends `request` to `target`, which the route's allow-list has already accepted.
    ///
    /// The guest's `options` only ever shorten the host's timeouts.
    pub async fn send(
        &self,
        route: &str,
        mut request: Request<WasiBody>,
        target: Target,
        options: Option<RequestOptions>,
    ) -> Result<Exchange, Error> {
        let settings = &self.inner.settings;
        let options = options.unwrap_or_default();
        let started = Instant::now();
        let deadline = started + settings.timeout;
        let connect_for = shorter(settings.connect_timeout, options.connect_timeout);
        let origin = origin_form(request.uri());
        *request.uri_mut() = origin;

        // A reused connection that closed before taking the request gives it back, and the
        // next idle one (or a new one) is tried.
        while let Some(mut pooled) = self.checkout(&target) {
            let head_by = head_deadline(&options, deadline);
            match timeout_at(head_by, pooled.try_send_request(request)).await {
                Ok(Ok(response)) => {
                    return Ok(self.exchange(response, pooled, target, &options, deadline));
                }
                Ok(Err(mut error)) => match error.take_message() {
                    Some(back) => request = back,
                    None => return Err(Error::from(error.into_error())),
                },
                Err(_) => return Err(timed_out(head_by, deadline)),
            }
        }
        let connect_by = (started + connect_for).min(deadline);
        let mut fresh = timeout_at(connect_by, self.connect(route, &target))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
        let head_by = head_deadline(&options, deadline);
        match timeout_at(head_by, fresh.send_request(request)).await {
            Ok(Ok(response)) => Ok(self.exchange(response, fresh, target, &options, deadline)),
            Ok(Err(error)) => Err(Error::from(error)),
            Err(_) => Err(timed_out(head_by, deadline)),
        }
    }

    /// The guest's side of a response: its body under the timeouts, pooling the connection
    /// once it has been read to the end.
    fn exchange(
        &self,
        response: Response<hyper::body::Incoming>,
        sender: http1::SendRequest<WasiBody>,
        target: Target,
        options: &RequestOptions,
        deadline: Instant,
    ) -> Exchange {
        let reuse = Reuse {
            client: self.clone(),
            target,
            sender,
        };
        let response = response.map(|incoming| {
            ResponseBody {
                incoming,
                reuse: Some(reuse),
                deadline: Box::pin(sleep_until(deadline)),
                between: options
                    .between_bytes_timeout
                    .map(|every| (every, Box::pin(sleep(every)))),
                failed: false,
            }
            .boxed_unsync()
        });
        (response, Box::new(async { Ok(()) }))
    }

    /// An idle connection to `target` that is still open, if there is one.
    fn checkout(&self, target: &Target) -> Option<http1::SendRequest<WasiBody>> {
        let mut idle = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(target)?;
        while let Some(conn) = list.pop() {
            if conn.since.elapsed() < IDLE_FOR && conn.sender.is_ready() {
                return Some(conn.sender);
            }
        }
        None
    }

    fn checkin(&self, target: Target, sender: http1::SendRequest<WasiBody>) {
        let mut idle = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|_, list| {
            list.retain(|conn| conn.since.elapsed() < IDLE_FOR && !conn.sender.is_closed());
            !list.is_empty()
        });
        let list = idle.entry(target).or_default();
        if list.len() < MAX_IDLE_PER_TARGET {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Resolves, checks the addresses, connects, and does TLS and the HTTP/1.1 handshake.
    async fn connect(
        &self,
        route: &str,
        target: &Target,
    ) -> Result<http1::SendRequest<WasiBody>, Error> {
        let addresses = self.resolve(route, target).await?;
        let mut last_error = None;
        let mut stream = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(connected) => {
                    stream = Some(connected);
                    break;
                }
                Err(error) => last_error = Some(error),
            }
        }
        let Some(stream) = stream else {
            return Err(match last_error {
                Some(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                    Error::ConnectionRefused
                }
                Some(error) => Error::Connect(error),
                None => Error::DestinationNotFound,
            });
        };
        let _ = stream.set_nodelay(true);
        let stream: Box<dyn Stream> = match target.scheme {
            Scheme::Http => Box::new(stream),
            Scheme::Https => {
                let name = match &target.host {
                    Host::Name(name) => {
                        tokio_rustls::rustls::pki_types::ServerName::try_from(name.clone())
                            .map_err(|_| Error::HttpRequestUriInvalid)?
                    }
                    Host::Ip(ip) => (*ip).into(),
                };
                let tls = self.inner.tls.connect(name, stream).await;
                Box::new(tls.map_err(|error| {
                    tracing::warn!(route, "TLS with {target} failed: {error}");
                    Error::Tls(error)
                })?)
            }
        };
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(Error::from)?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("outbound connection closed: {error}");
            }
        });
        Ok(sender)
    }

    /// The addresses a connection to `target` may use: all of an IP URL's one address (the
    /// allow-list judged it), or a name's public addresses and those in allowed networks.
    async fn resolve(&self, route: &str, target: &Target) -> Result<Vec<SocketAddr>, Error> {
        let name = match &target.host {
            Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, target.port)]),
            Host::Name(name) => name,
        };
        let found: Vec<SocketAddr> =
            match tokio::net::lookup_host((name.as_str(), target.port)).await {
                Ok(found) => found.collect(),
                Err(error) => {
                    tracing::info!(
                        route,
                        "outbound HTTP to {target}: cannot resolve {name}: {error}"
                    );
                    return Err(Error::DnsError {
                        rcode: Some(error.to_string()),
                        info_code: None,
                    });
                }
            };
        let (usable, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
            .into_iter()
            .partition(|address| is_public(address.ip()) || self.allows_private(address.ip()));
        if usable.is_empty() {
            if refused.is_empty() {
                return Err(Error::DestinationNotFound);
            }
            let refused: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
            tracing::warn!(
                route,
                "outbound HTTP to {target} refused: {name} resolves to {}, which is not a public \
                 address; to reach it, call the address itself and write it in \
                 allowed_outbound_hosts, or add its network to [outbound_http] \
                 allowed_private_networks",
                refused.join(", ")
            );
            return Err(Error::DestinationIpProhibited);
        }
        Ok(usable)
    }
}

/// When the response head must have come: the guest's first-byte timeout, within the total.
fn head_deadline(options: &RequestOptions, deadline: Instant) -> Instant {
    match options.first_byte_timeout {
        Some(first_byte) => (Instant::now() + first_byte).min(deadline),
        None => deadline,
    }
}

/// The error for a head that did not come by `head_by`.
fn timed_out(head_by: Instant, deadline: Instant) -> Error {
    if head_by < deadline {
        Error::ConnectionReadTimeout
    } else {
        Error::HttpResponseTimeout
    }
}

/// The smaller of the host's limit and the guest's, if the guest set one.
fn shorter(host: Duration, guest: Option<Duration>) -> Duration {
    guest.map_or(host, |guest| guest.min(host))
}

/// `http://host/path?q` → `/path?q`: what goes on the request line to an origin server.
fn origin_form(uri: &Uri) -> Uri {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Uri::builder()
        .path_and_query(path)
        .build()
        .unwrap_or_else(|_| Uri::from_static("/"))
}

/// What a response body needs to give its connection back when it ends.
struct Reuse {
    client: Client,
    target: Target,
    sender: http1::SendRequest<WasiBody>,
}

impl Reuse {
    /// Waits, briefly and on its own task, for the connection to be ready, then pools it.
    fn release(self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let Reuse {
                client,
                target,
                mut sender,
            } = self;
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, sender.ready()).await {
                client.checkin(target, sender);
            }
        });
    }
}

/// A response body under the call's total deadline and the guest's between-bytes timeout,
/// which gives its connection back to the pool when it was read to the end.
struct ResponseBody {
    incoming: hyper::body::Incoming,
    reuse: Option<Reuse>,
    deadline: Pin<Box<Sleep>>,
    between: Option<(Duration, Pin<Box<Sleep>>)>,
    failed: bool,
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some((every, timer)) = &mut this.between {
                    timer.as_mut().reset(Instant::now() + *every);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.failed = true;
                this.reuse = None;
                Poll::Ready(Some(Err(Error::from(error))))
            }
            Poll::Ready(None) => {
                if let Some(reuse) = this.reuse.take() {
                    reuse.release();
                }
                Poll::Ready(None)
            }
            Poll::Pending => {
                let timed_out = if this.deadline.as_mut().poll(cx).is_ready() {
                    Some(Error::HttpResponseTimeout)
                } else if let Some((_, timer)) = &mut this.between
                    && timer.as_mut().poll(cx).is_ready()
                {
                    Some(Error::ConnectionReadTimeout)
                } else {
                    None
                };
                match timed_out {
                    Some(error) => {
                        this.failed = true;
                        this.reuse = None;
                        Poll::Ready(Some(Err(error)))
                    }
                    None => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // A body read to its end whose last poll never came still leaves a reusable connection;
        // one dropped half-read closes it.
        if let Some(reuse) = self.reuse.take()
            && !self.failed
            && self.incoming.is_end_stream()
        {
            reuse.release();
        }
    }
}
