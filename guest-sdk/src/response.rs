//! The response a handler returns, shaped like Next.js's `res` helpers, and [`IntoResponse`].

use std::fmt;
use std::io::{self, Write};

use serde::Serialize;

use crate::{Cookie, Error};

/// The `Content-Type` of [`Response::json`], as Next.js's `res.json` sends it.
const JSON: &str = "application/json; charset=utf-8";

/// A streamed body: called once with the writer that reaches the client.
type WriteBody = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()>>;

/// The body of a [`Response`]: bytes in memory, or a function that writes them as they are made.
pub(crate) enum ResponseBody {
    Full(Vec<u8>),
    Stream(WriteBody),
}

/// An HTTP response, built like Next.js's `res.status(201).json(...)`.
///
/// Start from a constructor that sets the body and its content type ([`json`](Response::json),
/// [`text`](Response::text), [`html`](Response::html), [`bytes`](Response::bytes),
/// [`redirect`](Response::redirect), [`stream`](Response::stream), or [`new`](Response::new)
/// for an empty 200), then chain [`status`](Response::status), [`header`](Response::header)
/// and [`set_cookie`](Response::set_cookie). Headers are sent before the body, and a streamed
/// body goes out as it is written, so a large answer never sits whole in memory.
///
/// # Example
///
/// ```
/// use routelet_sdk::Response;
///
/// let res = Response::json(&serde_json::json!({ "ok": true }))
///     .status(201)
///     .header("Cache-Control", "no-store");
/// assert_eq!(res.status_code(), 201);
/// assert_eq!(res.header_value("content-type"), Some("application/json; charset=utf-8"));
/// assert_eq!(res.into_body_bytes().unwrap(), br#"{"ok":true}"#);
/// ```
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: ResponseBody,
}

impl Response {
    /// An empty `200 OK` (Next.js's `res.end()`).
    pub fn new() -> Self {
        Response {
            status: 200,
            headers: Vec::new(),
            body: ResponseBody::Full(Vec::new()),
        }
    }

    /// `value` as JSON with `Content-Type: application/json; charset=utf-8` (Next.js's
    /// `res.json`).
    ///
    /// If `value` cannot be serialized (a map with non-string keys, a failing `Serialize`
    /// impl), the response is a `500` and the reason goes to the log: that is a bug in the
    /// route, not something the client can fix.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Response::bytes(JSON, body),
            Err(e) => Error::internal(format!("Response::json could not serialize the value: {e}"))
                .into_response(),
        }
    }

    /// Plain text with `Content-Type: text/plain; charset=utf-8`.
    pub fn text(text: impl Into<String>) -> Self {
        Response::bytes("text/plain; charset=utf-8", text.into())
    }

    /// HTML with `Content-Type: text/html; charset=utf-8`.
    pub fn html(html: impl Into<String>) -> Self {
        Response::bytes("text/html; charset=utf-8", html.into())
    }

    /// Any bytes with the given `Content-Type`.
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response::new()
            .header("content-type", content_type)
            .body(body)
    }

    /// A `307 Temporary Redirect` to `url` (Next.js's `res.redirect(url)`): the client repeats
    /// the same method there. The body is the URL, as in Next.js.
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Response;
    /// let res = Response::redirect("/login");
    /// assert_eq!(res.status_code(), 307);
    /// assert_eq!(res.header_value("location"), Some("/login"));
    /// ```
    pub fn redirect(url: &str) -> Self {
        Response::redirect_with(307, url)
    }

    /// A redirect with a chosen status (Next.js's `res.redirect(status, url)`): `303` after a
    /// form POST so the browser follows with a GET, `308` or `301` for a permanent move.
    pub fn redirect_with(status: u16, url: &str) -> Self {
        Response::new()
            .status(status)
            .header("location", url)
            .body(url.as_bytes())
    }

    /// A body written while it is sent: `write` runs after the status and headers have gone out
    /// and gets a writer whose bytes reach the client in chunks of at most 4 KiB.
    ///
    /// Use it for answers too large to build in memory. An error returned by `write` (or the
    /// client going away) cuts the body short; the status is already sent by then, so the
    /// client sees a truncated response rather than an error page.
    ///
    /// # Example
    ///
    /// ```
    /// use std::io::Write;
    /// use routelet_sdk::Response;
    ///
    /// let res = Response::stream("text/plain; charset=utf-8", |out| {
    ///     for i in 0..3 {
    ///         writeln!(out, "line {i}")?;
    ///     }
    ///     Ok(())
    /// });
    /// assert_eq!(res.into_body_bytes().unwrap(), b"line 0\nline 1\nline 2\n");
    /// ```
    pub fn stream<F>(content_type: &str, write: F) -> Self
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()> + 'static,
    {
        Response {
            body: ResponseBody::Stream(Box::new(write)),
            ..Response::new().header("content-type", content_type)
        }
    }

    /// Sets the status code (Next.js's `res.status(code)`).
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sets header `name`, replacing any value it had (Next.js's `res.setHeader`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// Adds a value to header `name`, keeping those it had (for headers that may repeat).
    pub fn append_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a `Set-Cookie` header; call it once per cookie.
    pub fn set_cookie(self, cookie: Cookie) -> Self {
        self.append_header("set-cookie", cookie.to_string())
    }

    /// Replaces the body with `body`, keeping status and headers.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = ResponseBody::Full(body.into());
        self
    }

    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// Every header, in the order set.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The first value of header `name`, compared without regard to case.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The whole body, running a streamed body into memory: for tests.
    pub fn into_body_bytes(self) -> io::Result<Vec<u8>> {
        match self.body {
            ResponseBody::Full(bytes) => Ok(bytes),
            ResponseBody::Stream(write) => {
                let mut out = Vec::new();
                write(&mut out)?;
                Ok(out)
            }
        }
    }

    pub(crate) fn into_parts(self) -> (u16, Vec<(String, String)>, ResponseBody) {
        (self.status, self.headers, self.body)
    }
}

impl Default for Response {
    fn default() -> Self {
        Response::new()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match &self.body {
            ResponseBody::Full(bytes) => format!("{} bytes", bytes.len()),
            ResponseBody::Stream(_) => "stream".to_owned(),
        };
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &body)
            .finish()
    }
}

/// Anything a handler may return: turned into the [`Response`] sent to the client.
///
/// A handler returns `impl IntoResponse`; most return [`Result`](crate::Result)`<Response>`,
/// where an `Err` becomes its status and message as text.
///
/// | type                                 | response                                      |
/// |--------------------------------------|-----------------------------------------------|
/// | [`Response`]                         | itself                                        |
/// | [`Error`]                            | its status, its message as `text/plain`       |
/// | `Result<T, E>` of the two kinds      | whichever it holds                            |
/// | `String`, `&'static str`             | `200 text/plain`                              |
/// | [`serde_json::Value`]                | `200 application/json`                        |
/// | `()`                                 | an empty `200`                                |
///
/// # Example
///
/// ```
/// use routelet_sdk::{IntoResponse, Request};
///
/// pub fn handler(_req: Request) -> impl IntoResponse {
///     serde_json::json!({ "message": "hello" })
/// }
/// # let res = handler(Request::builder().build().unwrap()).into_response();
/// # assert_eq!(res.header_value("content-type"), Some("application/json; charset=utf-8"));
/// ```
pub trait IntoResponse {
    /// Makes the response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let json = self.is_json();
        let (status, message, headers, detail) = self.into_parts();
        if let Some(detail) = detail {
            eprintln!("routelet: {status} {message}: {detail}");
        }
        let mut response = if json {
            Response::bytes(JSON, message)
        } else {
            Response::text(message)
        }
        .status(status);
        for (name, value) in headers {
            response = response.header(name, value);
        }
        response
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for serde_json::Value {
    fn into_response(self) -> Response {
        Response::json(&self)
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(res: impl IntoResponse) -> (u16, Vec<u8>) {
        let res = res.into_response();
        (res.status_code(), res.into_body_bytes().unwrap())
    }

    #[test]
    fn content_types() {
        let cases = [
            (Response::text("t"), "text/plain; charset=utf-8"),
            (Response::html("<p>"), "text/html; charset=utf-8"),
            (Response::json(&[1, 2]), JSON),
            (Response::bytes("image/png", vec![1, 2]), "image/png"),
        ];
        for (res, ty) in cases {
            assert_eq!(res.header_value("Content-Type"), Some(ty));
        }
        assert_eq!(Response::new().header_value("content-type"), None);
    }

    #[test]
    fn headers_replace_or_append() {
        let res = Response::new()
            .header("X-A", "1")
            .header("x-a", "2")
            .append_header("vary", "accept")
            .append_header("Vary", "cookie")
            .set_cookie(Cookie::new("a", "1"))
            .set_cookie(Cookie::new("b", "2"));
        let all: Vec<_> = res.headers().collect();
        assert_eq!(
            all,
            [
                ("x-a", "2"),
                ("vary", "accept"),
                ("Vary", "cookie"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2")
            ]
        );
    }

    #[test]
    fn redirects() {
        let res = Response::redirect("/next");
        assert_eq!(
            (res.status_code(), res.header_value("location")),
            (307, Some("/next"))
        );
        let res = Response::redirect_with(303, "/done.html");
        assert_eq!(res.status_code(), 303);
        assert_eq!(res.into_body_bytes().unwrap(), b"/done.html");
    }

    #[test]
    fn into_response_impls() {
        assert_eq!(body("hi"), (200, b"hi".to_vec()));
        assert_eq!(body(String::from("hi")), (200, b"hi".to_vec()));
        assert_eq!(body(()), (200, vec![]));
        assert_eq!(body(serde_json::json!([true])), (200, b"[true]".to_vec()));
        assert_eq!(
            body(Err::<Response, _>(Error::not_found("nope"))),
            (404, b"nope".to_vec())
        );
        assert_eq!(
            body(Ok::<_, Error>(Response::new().status(204))),
            (204, vec![])
        );
        let internal = Error::internal("db password is hunter2").into_response();
        assert_eq!(
            internal.header_value("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(body(internal), (500, b"Internal Server Error".to_vec()));
    }

    #[test]
    fn unserializable_json_is_a_500() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON");
        assert_eq!(
            body(Response::json(&map)),
            (500, b"Internal Server Error".to_vec())
        );
    }

    #[test]
    fn a_failing_stream_reports_its_error() {
        let res = Response::stream("text/plain", |out| {
            out.write_all(b"partial")?;
            Err(io::Error::other("gave up"))
        });
        assert_eq!(
            format!("{res:?}"),
            r#"Response { status: 200, headers: [("content-type", "text/plain")], body: "stream" }"#
        );
        assert_eq!(res.into_body_bytes().unwrap_err().to_string(), "gave up");
    }
}
