//! Outbound HTTP from a route, like `fetch` in a Next.js handler, over
//! `wasi:http/outgoing-handler`.
//!
//! The host refuses every call unless the route's `allowed_outbound_hosts` in `routelet.toml`
//! names the scheme, host and port, and a host name only ever reaches public addresses:
//!
//! ```toml
//! [routes."/api/weather"]
//! allowed_outbound_hosts = ["https://api.weather.example"]
//! ```
//!
//! ```no_run
//! use routelet_sdk::{FetchRequest, Request, Response, Result, fetch};
//!
//! pub fn handler(req: Request) -> Result {
//!     let city = req.query().get("city").unwrap_or("Paris");
//!     let upstream = fetch(format!("https://api.weather.example/now?city={city}"))?;
//!     if !upstream.ok() {
//!         return Ok(Response::text("weather unavailable").status(502));
//!     }
//!     let report: serde_json::Value = upstream.json()?;
//!
//!     // A POST with a JSON body and a deadline of its own:
//!     let saved = fetch(
//!         FetchRequest::post("https://api.weather.example/log")
//!             .json(&report)
//!             .first_byte_timeout(std::time::Duration::from_secs(2)),
//!     )?;
//!     Ok(Response::json(&serde_json::json!({ "report": report, "logged": saved.status() })))
//! }
//! ```

use std::fmt;
use std::io::Write;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

use crate::Headers;
use crate::runtime::{READ_CHUNK, StreamWriter, headers_of};

/// Sends `request` (a URL, or a [`FetchRequest`]) and reads the whole response.
///
/// An error is returned only when no HTTP response came (denied, unreachable, timed out); a
/// `404` or `500` from the server is a response, as with JavaScript's `fetch`. With `?` in a
/// handler, a [`FetchError`] becomes a `500` whose reason is written to the route's log.
pub fn fetch(request: impl Into<FetchRequest>) -> Result<FetchResponse, FetchError> {
    let request = request.into();
    let url = Url::parse(&request.url)?;
    let outgoing = build(&request, &url)?;
    let body = outgoing
        .body()
        .map_err(|()| FetchError::other(&request.url, "the request body was already taken"))?;
    let options = options(&request);
    let future = outgoing_handler::handle(outgoing, options)
        .map_err(|code| FetchError::from_code(&request.url, code))?;

    // The request is on its way: stream the body, then finish it. If that fails, the response
    // future says why (or the server answered anyway), so the write's own error is not needed.
    if write_body(&body, request.body.as_deref().unwrap_or_default()).is_ok() {
        let _ = OutgoingBody::finish(body, None);
    }

    let response = loop {
        match future.get() {
            Some(result) => break result,
            None => future.subscribe().block(),
        }
    };
    let response = response
        .map_err(|()| FetchError::other(&request.url, "the response was already taken"))?
        .map_err(|code| FetchError::from_code(&request.url, code))?;

    let status = response.status();
    let headers = headers_of(&response.headers());
    let incoming = response
        .consume()
        .map_err(|()| FetchError::other(&request.url, "the response body was already taken"))?;
    let bytes = read_body(&incoming, &request.url)?;
    drop(IncomingBody::finish(incoming));
    Ok(FetchResponse {
        status,
        headers,
        body: bytes,
    })
}

/// An outgoing request: method, URL, headers, body and timeouts.
///
/// A URL alone (`&str` or `String`) is a `GET`:
///
/// ```
/// use routelet_sdk::FetchRequest;
///
/// let get: FetchRequest = "https://api.example.com/items".into();
/// let post = FetchRequest::post("https://api.example.com/items")
///     .header("authorization", "Bearer token")
///     .json(&serde_json::json!({ "name": "ada" }));
/// ```
#[derive(Debug, Clone)]
pub struct FetchRequest {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    connect_timeout: Option<Duration>,
    first_byte_timeout: Option<Duration>,
    between_bytes_timeout: Option<Duration>,
}

impl FetchRequest {
    /// A request with any method, e.g. `"PATCH"`.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        FetchRequest {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            connect_timeout: None,
            first_byte_timeout: None,
            between_bytes_timeout: None,
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        FetchRequest::new("GET", url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        FetchRequest::new("POST", url)
    }

    /// `PUT url`.
    pub fn put(url: impl Into<String>) -> Self {
        FetchRequest::new("PUT", url)
    }

    /// `DELETE url`.
    pub fn delete(url: impl Into<String>) -> Self {
        FetchRequest::new("DELETE", url)
    }

    /// Adds a header; several with one name are all sent.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body, sent as it is.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// A JSON body, with `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        // Serializing to a Vec fails only for maps with non-string keys and the like; such a
        // body is sent empty and the server says what it thinks.
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json").body(bytes)
    }

    /// How long to wait for the connection. The host's own limit still applies: a guest can
    /// only shorten it.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long to wait for the response head once the request is sent.
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = Some(timeout);
        self
    }

    /// How long the response body may pause between two chunks.
    pub fn between_bytes_timeout(mut self, timeout: Duration) -> Self {
        self.between_bytes_timeout = Some(timeout);
        self
    }
}

impl From<&str> for FetchRequest {
    fn from(url: &str) -> Self {
        FetchRequest::get(url)
    }
}

impl From<String> for FetchRequest {
    fn from(url: String) -> Self {
        FetchRequest::get(url)
    }
}

impl From<&String> for FetchRequest {
    fn from(url: &String) -> Self {
        FetchRequest::get(url.as_str())
    }
}

/// A response, read to its end.
#[derive(Debug, Clone)]
pub struct FetchResponse {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

impl FetchResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx, like JavaScript's `response.ok`.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// One header's first value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The body bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.body
    }

    /// The body as text; bytes that are not UTF-8 become U+FFFD.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, FetchError> {
        serde_json::from_slice(&self.body).map_err(|error| FetchError {
            kind: FetchErrorKind::InvalidResponse,
            message: format!("the response body is not the JSON expected: {error}"),
        })
    }
}

/// Why no usable response came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// The host refused: the URL is not in the route's `allowed_outbound_hosts`, or the name
    /// resolved to an address that is not public.
    Denied,
    /// Connecting, the response head or the body took longer than allowed.
    Timeout,
    /// The host name could not be resolved.
    Dns,
    /// The connection was refused, reset or could not be made.
    Connection,
    /// TLS failed: a bad certificate or handshake.
    Tls,
    /// The request itself is not valid: the URL, the method or a header.
    InvalidRequest,
    /// The response could not be read, or is not what was expected.
    InvalidResponse,
    /// Anything else the host reported.
    Other,
}

/// A failed [`fetch`]: what kind of failure, and a message naming the URL.
#[derive(Debug, Clone)]
pub struct FetchError {
    kind: FetchErrorKind,
    message: String,
}

impl FetchError {
    /// What kind of failure this is.
    pub fn kind(&self) -> FetchErrorKind {
        self.kind
    }

    /// Whether the host refused the call: see `allowed_outbound_hosts`.
    pub fn is_denied(&self) -> bool {
        self.kind == FetchErrorKind::Denied
    }

    /// Whether a timeout ran out.
    pub fn is_timeout(&self) -> bool {
        self.kind == FetchErrorKind::Timeout
    }

    fn other(url: &str, what: &str) -> Self {
        FetchError {
            kind: FetchErrorKind::Other,
            message: format!("fetch {url}: {what}"),
        }
    }

    fn invalid(url: &str, what: impl fmt::Display) -> Self {
        FetchError {
            kind: FetchErrorKind::InvalidRequest,
            message: format!("fetch {url}: {what}"),
        }
    }

    fn from_code(url: &str, code: ErrorCode) -> Self {
        use ErrorCode as C;
        use FetchErrorKind as K;
        let (kind, what) = match &code {
            C::HttpRequestDenied => (
                K::Denied,
                "denied by the host (HTTP-request-denied): allow it in this route's \
                 allowed_outbound_hosts in routelet.toml"
                    .to_owned(),
            ),
            C::DestinationIpProhibited => (
                K::Denied,
                "denied by the host (destination-IP-prohibited): the address is not public"
                    .to_owned(),
            ),
            C::DnsTimeout => (K::Timeout, "resolving the host name timed out".to_owned()),
            C::ConnectionTimeout => (K::Timeout, "connecting timed out".to_owned()),
            C::ConnectionReadTimeout | C::HttpResponseTimeout => {
                (K::Timeout, "waiting for the response timed out".to_owned())
            }
            C::ConnectionWriteTimeout => (K::Timeout, "sending the request timed out".to_owned()),
            C::DnsError(payload) => (
                K::Dns,
                format!(
                    "the host name could not be resolved{}",
                    payload
                        .rcode
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
            ),
            C::DestinationNotFound => (K::Dns, "the host name has no address".to_owned()),
            C::ConnectionRefused => (K::Connection, "the connection was refused".to_owned()),
            C::ConnectionTerminated => (K::Connection, "the connection was closed".to_owned()),
            C::DestinationUnavailable | C::DestinationIpUnroutable => (
                K::Connection,
                "the destination cannot be reached".to_owned(),
            ),
            C::ConnectionLimitReached => (K::Connection, "too many connections".to_owned()),
            C::TlsCertificateError => (
                K::Tls,
                "the server's certificate is not trusted (TLS-certificate-error)".to_owned(),
            ),
            C::TlsAlertReceived(payload) => (
                K::Tls,
                format!(
                    "the server ended the TLS handshake ({})",
                    payload.alert_message.as_deref().unwrap_or("an alert")
                ),
            ),
            C::TlsProtocolError => (K::Tls, "TLS failed (TLS-protocol-error)".to_owned()),
            C::HttpRequestUriInvalid | C::HttpRequestMethodInvalid => (
                K::InvalidRequest,
                format!("the request is not valid ({code:?})"),
            ),
            C::HttpResponseIncomplete | C::HttpProtocolError => (
                K::InvalidResponse,
                format!("the response is not valid ({code:?})"),
            ),
            _ => (K::Other, format!("{code:?}")),
        };
        FetchError {
            kind,
            message: format!("fetch {url}: {what}"),
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

/// The parts of an `http(s)://authority/path?query` URL that `wasi:http` takes apart.
#[derive(Debug, PartialEq)]
struct Url<'a> {
    https: bool,
    authority: &'a str,
    path_with_query: &'a str,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Result<Self, FetchError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| FetchError::invalid(url, "the URL needs http:// or https://"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            other => {
                return Err(FetchError::invalid(
                    url,
                    format!("the scheme {other:?} is not http or https"),
                ));
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err(FetchError::invalid(url, "the URL has no host"));
        }
        let tail = tail.split('#').next().unwrap_or_default();
        // `?q` alone is sent as `/?q` by `build`.
        let path_with_query = if tail.is_empty() { "/" } else { tail };
        Ok(Url {
            https,
            authority,
            path_with_query,
        })
    }
}

fn build(request: &FetchRequest, url: &Url<'_>) -> Result<OutgoingRequest, FetchError> {
    let fields = Fields::new();
    for (name, value) in &request.headers {
        fields.append(name, value.as_bytes()).map_err(|error| {
            FetchError::invalid(&request.url, format!("header `{name}` ({error:?})"))
        })?;
    }
    let has_length = request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
    if let Some(body) = &request.body
        && !has_length
    {
        fields
            .append("content-length", body.len().to_string().as_bytes())
            .map_err(|error| FetchError::invalid(&request.url, format!("{error:?}")))?;
    }
    let outgoing = OutgoingRequest::new(fields);
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        "PATCH" => Method::Patch,
        "TRACE" => Method::Trace,
        "CONNECT" => Method::Connect,
        _ => Method::Other(request.method.clone()),
    };
    let path = if url.path_with_query.starts_with('?') {
        format!("/{}", url.path_with_query)
    } else {
        url.path_with_query.to_owned()
    };
    let scheme = if url.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let invalid = |what: &str| FetchError::invalid(&request.url, what);
    outgoing
        .set_method(&method)
        .map_err(|()| invalid("the method is not valid"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("the scheme is not valid"))?;
    outgoing
        .set_authority(Some(url.authority))
        .map_err(|()| invalid("the host is not valid"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("the path is not valid"))?;
    Ok(outgoing)
}

fn options(request: &FetchRequest) -> Option<RequestOptions> {
    if request.connect_timeout.is_none()
        && request.first_byte_timeout.is_none()
        && request.between_bytes_timeout.is_none()
    {
        return None;
    }
    let nanos = |d: Option<Duration>| d.map(|d| d.as_nanos().min(u64::MAX as u128) as u64);
    let options = RequestOptions::new();
    // A host that does not support one of these keeps its own limit, which is fine.
    let _ = options.set_connect_timeout(nanos(request.connect_timeout));
    let _ = options.set_first_byte_timeout(nanos(request.first_byte_timeout));
    let _ = options.set_between_bytes_timeout(nanos(request.between_bytes_timeout));
    Some(options)
}

/// Streams the request body; an `Err` means the host stopped taking it.
fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), ()> {
    let stream = body.write()?;
    StreamWriter { stream: &stream }
        .write_all(bytes)
        .map_err(drop)
}

fn read_body(body: &IncomingBody, url: &str) -> Result<Vec<u8>, FetchError> {
    let stream = body
        .stream()
        .map_err(|()| FetchError::other(url, "the response body stream was already taken"))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(match wasi::http::types::http_error_code(&error) {
                    Some(code) => FetchError::from_code(url, code),
                    None => FetchError {
                        kind: FetchErrorKind::InvalidResponse,
                        message: format!(
                            "fetch {url}: reading the response body failed: {}",
                            error.to_debug_string()
                        ),
                    },
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        assert_eq!(
            Url::parse("https://api.example.com/a/b?c=d#frag").unwrap(),
            Url {
                https: true,
                authority: "api.example.com",
                path_with_query: "/a/b?c=d"
            }
        );
        assert_eq!(
            Url::parse("http://127.0.0.1:8080").unwrap(),
            Url {
                https: false,
                authority: "127.0.0.1:8080",
                path_with_query: "/"
            }
        );
        assert_eq!(
            Url::parse("HTTP://[::1]:81?x=1").unwrap().path_with_query,
            "?x=1"
        );
        for bad in ["example.com/x", "ftp://example.com", "https:///path"] {
            let error = Url::parse(bad).unwrap_err();
            assert_eq!(error.kind(), FetchErrorKind::InvalidRequest, "{bad}");
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn error_codes_become_kinds_with_a_reason() {
        let denied = FetchError::from_code("http://x", ErrorCode::HttpRequestDenied);
        assert!(denied.is_denied());
        assert!(
            denied.to_string().contains("allowed_outbound_hosts"),
            "{denied}"
        );
        let prohibited = FetchError::from_code("http://x", ErrorCode::DestinationIpProhibited);
        assert!(prohibited.is_denied());
        assert!(FetchError::from_code("http://x", ErrorCode::ConnectionReadTimeout).is_timeout());
        assert_eq!(
            FetchError::from_code("http://x", ErrorCode::ConnectionRefused).kind(),
            FetchErrorKind::Connection
        );
    }

    #[test]
    fn requests_are_built_up() {
        let request = FetchRequest::post("http://x/").json(&serde_json::json!({"a": 1}));
        assert_eq!(request.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert!(
            request
                .headers
                .contains(&("content-type".into(), "application/json".into()))
        );
        let request: FetchRequest = "http://x/".into();
        assert_eq!(request.method, "GET");
    }
}
