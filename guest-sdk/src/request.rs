//! The incoming request, shaped like Next.js's `req`.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use serde::Deserialize;

use crate::body::{self, BodyReader, Parsed};
use crate::cookie::parse_cookie_header;
use crate::{Body, Config, Error, Headers, Query, QueryValue};

/// An HTTP request to an API route: Next.js's `req`, with the body already parsed.
///
/// By the time a handler runs, the body has been read (up to the route's limit) and parsed by
/// content type, so an oversized body is already a `413` and invalid JSON a `400`, as in
/// Next.js. Accessors borrow, so a handler can look at anything in any order; only
/// [`into_body_reader`](Request::into_body_reader) consumes the request.
///
/// # Example
///
/// ```
/// use routelet_sdk::{Request, Response, Result};
///
/// // pages/api/users/[id].rs
/// pub fn handler(req: Request) -> Result {
///     let id = req.param("id").unwrap_or_default();
///     let fields = req.query().get_all("fields");
///     Ok(Response::json(&serde_json::json!({ "id": id, "fields": fields })))
/// }
///
/// let req = Request::builder()
///     .url("/api/users/42?fields=name&fields=email")
///     .pattern("/api/users/[id]")
///     .param("id", "42")
///     .build()
///     .unwrap();
/// let res = handler(req).unwrap();
/// assert_eq!(res.into_body_bytes().unwrap(), br#"{"fields":["name","email"],"id":"42"}"#);
/// ```
pub struct Request {
    method: String,
    url: String,
    headers: Headers,
    query: Query,
    params: Query,
    pattern: String,
    cookies: BTreeMap<String, String>,
    body: RequestBody,
}

enum RequestBody {
    Parsed { raw: Vec<u8>, parsed: Parsed },
    Unread(Box<dyn Read>),
}

/// What the runtime knows about a request before its body is read.
pub(crate) struct Parts {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Headers,
    pub(crate) pattern: String,
    pub(crate) params: Query,
}

impl Request {
    /// Builds a request from its parts, reading and parsing the body as `config` says. The error
    /// is what the route answers instead of running the handler (413, 400).
    pub(crate) fn from_parts(
        parts: Parts,
        mut body: Box<dyn Read>,
        config: &Config,
    ) -> Result<Request, Error> {
        let Parts {
            method,
            url,
            headers,
            pattern,
            params,
        } = parts;

        let mut query = Query::parse(url.split_once('?').map_or("", |(_, q)| q));
        for (name, value) in params.entries() {
            query.insert(name.clone(), value.clone());
        }

        let mut cookies = BTreeMap::new();
        for header in headers.get_all("cookie") {
            parse_cookie_header(header, &mut cookies);
        }

        let body = if config.parses_body() {
            let content_length = headers
                .get("content-length")
                .and_then(|len| len.trim().parse::<u64>().ok());
            let raw = body::read_limited(&mut body, content_length, config)?;
            let parsed = body::parse(body::kind_of(headers.get("content-type")), &raw)?;
            RequestBody::Parsed { raw, parsed }
        } else {
            RequestBody::Unread(body)
        };

        Ok(Request {
            method,
            url,
            headers,
            query,
            params,
            pattern,
            cookies,
            body,
        })
    }

    /// A builder for requests in unit tests, so a handler can be run natively, without a host.
    ///
    /// [`RequestBuilder::build`] runs the same body reading and parsing as a deployed route.
    pub fn builder() -> RequestBuilder {
        RequestBuilder::default()
    }

    /// The HTTP method in upper case (`"GET"`, `"POST"`), Next.js's `req.method`.
    ///
    /// Next.js leaves method handling to the handler; compare and answer a 405 yourself, e.g.
    /// with [`Error::method_not_allowed`].
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path and query exactly as received (`/api/users/42?tab=posts`), Next.js's `req.url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The path without the query, still percent-encoded (`/api/users/42`).
    pub fn path(&self) -> &str {
        self.url.split_once('?').map_or(&self.url, |(path, _)| path)
    }

    /// The request headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first value of header `name`, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get("content-type")
    }

    /// Next.js's `req.query`: the query string parsed like Node's `querystring`, with the route
    /// params laid over it. A param wins over a query key of the same name, and a catch-all
    /// param is a list.
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Request;
    ///
    /// // /api/posts/[...slug] requested as /api/posts/2024/hello?slug=x&draft=1
    /// let req = Request::builder()
    ///     .url("/api/posts/2024/hello?slug=x&draft=1")
    ///     .param("slug", ["2024", "hello"])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(req.query().get_all("slug"), ["2024", "hello"]);
    /// assert_eq!(req.query().get("draft"), Some("1"));
    /// ```
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// [`query`](Request::query) read into your own type; a mismatch is a `400`.
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Request;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// struct Page { page: u32, per_page: Option<u32> }
    ///
    /// let req = Request::builder().url("/api/posts?page=2").build().unwrap();
    /// let page: Page = req.query_as().unwrap();
    /// assert_eq!((page.page, page.per_page), (2, None));
    /// ```
    pub fn query_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        self.query.deserialize()
    }

    /// The route params alone, as decoded by the host: `[id]` is a single value, `[...slug]` a
    /// list, and an empty `[[...slug]]` is absent.
    pub fn params(&self) -> &Query {
        &self.params
    }

    /// The route params read into your own type (`[id]` as a number, say); a mismatch is a
    /// `400` saying which param and why, like [`query_as`](Request::query_as).
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Request;
    /// use serde::Deserialize;
    ///
    /// #[derive(Debug, Deserialize)]
    /// struct Post { id: u64 }
    ///
    /// let req = Request::builder().url("/api/posts/7").param("id", "7").build().unwrap();
    /// assert_eq!(req.params_as::<Post>().unwrap().id, 7);
    /// let bad = Request::builder().url("/api/posts/x").param("id", "x").build().unwrap();
    /// let error = bad.params_as::<Post>().unwrap_err();
    /// assert_eq!(error.status(), 400);
    /// assert!(error.message().starts_with("Invalid params"), "{}", error.message());
    /// ```
    pub fn params_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        T::deserialize(crate::de::QueryDeserializer::new(&self.params))
            .map_err(|e| Error::bad_request(crate::shape::explain("Invalid params", e)))
    }

    /// The value of route param `name` (the `id` of `[id]`); for a catch-all, its first
    /// segment (use [`param_list`](Request::param_list) for all of them).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// Every segment of catch-all param `name`; empty if absent (an optional catch-all that
    /// matched nothing).
    pub fn param_list(&self, name: &str) -> &[String] {
        self.params.get_all(name)
    }

    /// The pattern that matched, as in the route table (`/api/users/[id]`).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Next.js's `req.cookies`: every cookie from the `Cookie` header, decoded.
    pub fn cookies(&self) -> &BTreeMap<String, String> {
        &self.cookies
    }

    /// The value of cookie `name`.
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Request;
    /// let req = Request::builder().header("cookie", "theme=dark; session=a%20b").build().unwrap();
    /// assert_eq!(req.cookie("session"), Some("a b"));
    /// assert_eq!(req.cookie("missing"), None);
    /// ```
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Next.js's `req.body`: the body parsed by content type (see [`Body`]).
    pub fn body(&self) -> Body<'_> {
        let RequestBody::Parsed { raw, parsed } = &self.body else {
            return Body::Empty;
        };
        match parsed {
            Parsed::Empty => Body::Empty,
            Parsed::Json(value) => Body::Json(value),
            Parsed::Form(form) => Body::Form(form),
            Parsed::Text => std::str::from_utf8(raw).map_or(Body::Bytes(raw), Body::Text),
            Parsed::Bytes => Body::Bytes(raw),
        }
    }

    /// The JSON body read into your own type.
    ///
    /// A body that is not JSON is `415 Unsupported Media Type`; JSON of the wrong shape is
    /// `400 Invalid body: ...` with serde's explanation. (Invalid JSON never reaches the
    /// handler: it is already `400 Invalid JSON`.)
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Request;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// struct Signup { email: String }
    ///
    /// let req = Request::builder()
    ///     .method("POST")
    ///     .header("content-type", "application/json")
    ///     .body(r#"{"email":"ada@example.com"}"#)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(req.json::<Signup>().unwrap().email, "ada@example.com");
    /// ```
    pub fn json<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        match &self.body {
            RequestBody::Parsed {
                parsed: Parsed::Json(value),
                ..
            } => T::deserialize(value)
                .map_err(|e| Error::bad_request(crate::shape::explain("Invalid body", e))),
            RequestBody::Parsed { .. } => Err(unsupported("application/json")),
            RequestBody::Unread(_) => Err(parser_off()),
        }
    }

    /// The form body (`application/x-www-form-urlencoded`) read into your own type, with the
    /// same text-to-value rules as [`query_as`](Request::query_as).
    ///
    /// A body that is not a form is `415`; a form of the wrong shape is `400 Invalid body: ...`.
    pub fn form<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        match &self.body {
            RequestBody::Parsed {
                parsed: Parsed::Form(form),
                ..
            } => form.deserialize().map_err(|e| {
                let reason = e
                    .message()
                    .strip_prefix("Invalid query: ")
                    .unwrap_or(e.message());
                Error::bad_request(format!("Invalid body: {reason}"))
            }),
            RequestBody::Parsed { .. } => Err(unsupported("application/x-www-form-urlencoded")),
            RequestBody::Unread(_) => Err(parser_off()),
        }
    }

    /// The raw body as text, whatever its content type; `400` if it is not UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(self.bytes())
            .map_err(|_| Error::bad_request("Invalid body: not UTF-8 text"))
    }

    /// The raw body as sent, whatever its content type (a webhook checks its signature over
    /// these). Empty on a route with body parsing off.
    pub fn bytes(&self) -> &[u8] {
        match &self.body {
            RequestBody::Parsed { raw, .. } => raw,
            RequestBody::Unread(_) => &[],
        }
    }

    /// The body as a stream: the unread body on a route with
    /// [`Config::body_parser`]`(false)`, otherwise the bytes already read.
    ///
    /// Take what you need from the request (headers, params) before calling this.
    pub fn into_body_reader(self) -> BodyReader {
        match self.body {
            RequestBody::Parsed { raw, .. } => BodyReader::new(Box::new(Cursor::new(raw))),
            RequestBody::Unread(reader) => BodyReader::new(reader),
        }
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("pattern", &self.pattern)
            .field("headers", &self.headers)
            .field("query", &self.query)
            .field("body", &self.body())
            .finish_non_exhaustive()
    }
}

fn unsupported(expected: &str) -> Error {
    Error::new(415, format!("Unsupported Media Type: expected {expected}"))
}

fn parser_off() -> Error {
    Error::internal(
        "the body parser is off for this route (Config::body_parser(false)); read the body with Request::into_body_reader",
    )
}

/// Builds a [`Request`] for unit tests, so handlers run natively with `cargo test`.
///
/// Defaults: `GET /`, no headers, no params, an empty body, [`Config::DEFAULT`].
///
/// # Example
///
/// ```
/// use routelet_sdk::Request;
///
/// let err = Request::builder()
///     .method("POST")
///     .header("content-type", "application/json")
///     .body("{not json")
///     .build()
///     .unwrap_err();
/// assert_eq!((err.status(), err.message()), (400, "Invalid JSON"));
/// ```
#[derive(Debug)]
pub struct RequestBuilder {
    method: String,
    url: String,
    headers: Headers,
    pattern: String,
    params: Query,
    body: Vec<u8>,
    config: Config,
}

impl Default for RequestBuilder {
    fn default() -> Self {
        RequestBuilder {
            method: "GET".into(),
            url: "/".into(),
            headers: Headers::default(),
            pattern: String::new(),
            params: Query::new(),
            body: Vec::new(),
            config: Config::DEFAULT,
        }
    }
}

impl RequestBuilder {
    /// The method, e.g. `"POST"`.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into();
        self
    }

    /// The path and query, e.g. `"/api/users/42?tab=posts"`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The matched route pattern, e.g. `"/api/users/[id]"`.
    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.pattern = pattern.into();
        self
    }

    /// A route param as the host would give it: a string for `[name]`, a list for catch-alls.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<QueryValue>) -> Self {
        self.params.insert(name, value);
        self
    }

    /// The body bytes. No `Content-Length` is added, as with a chunked upload.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The route's [`Config`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Reads and parses the body as a deployed route would. The error is the response the
    /// route would give instead of running the handler (`413`, `400 Invalid JSON`).
    pub fn build(self) -> Result<Request, Error> {
        let parts = Parts {
            method: self.method,
            url: self.url,
            headers: self.headers,
            pattern: self.pattern,
            params: self.params,
        };
        Request::from_parts(parts, Box::new(Cursor::new(self.body)), &self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn post(content_type: &str, body: &str) -> Request {
        Request::builder()
            .method("POST")
            .url("/api/echo")
            .header("Content-Type", content_type)
            .body(body)
            .build()
            .unwrap()
    }

    #[test]
    fn url_parts_and_params_over_query() {
        let req = Request::builder()
            .url("/api/users/42?id=evil&tab=posts&tab=likes")
            .pattern("/api/users/[id]")
            .param("id", "42")
            .build()
            .unwrap();
        assert_eq!(req.path(), "/api/users/42");
        assert_eq!(req.url(), "/api/users/42?id=evil&tab=posts&tab=likes");
        assert_eq!(req.pattern(), "/api/users/[id]");
        assert_eq!(req.param("id"), Some("42"));
        assert_eq!(req.query().get("id"), Some("42"));
        assert_eq!(req.query().get_all("tab"), ["posts", "likes"]);
        assert_eq!(req.params().len(), 1);
        assert_eq!(req.method(), "GET");
        assert_eq!(
            serde_json::to_value(req.query()).unwrap(),
            serde_json::json!({"id": "42", "tab": ["posts", "likes"]})
        );
    }

    #[test]
    fn catch_all_params_are_lists() {
        let req = Request::builder()
            .url("/api/docs")
            .param("path", ["a", "b"])
            .build()
            .unwrap();
        assert_eq!(req.param_list("path"), ["a", "b"]);
        assert_eq!(req.param("path"), Some("a"));
        assert!(
            Request::builder()
                .build()
                .unwrap()
                .param_list("path")
                .is_empty()
        );
    }

    #[test]
    fn cookies_from_every_cookie_header() {
        let req = Request::builder()
            .header("cookie", "a=1; b=2")
            .header("Cookie", "c=3; a=9")
            .build()
            .unwrap();
        assert_eq!(req.cookie("a"), Some("1"));
        assert_eq!(req.cookie("c"), Some("3"));
        assert_eq!(req.cookies().len(), 3);
    }

    #[test]
    fn bodies_by_content_type() {
        let req = post("application/json", r#"{"a":[1,2]}"#);
        assert_eq!(req.body(), Body::Json(&serde_json::json!({"a": [1, 2]})));
        assert_eq!(req.text().unwrap(), r#"{"a":[1,2]}"#);

        let req = post("application/json", "");
        assert_eq!(req.body(), Body::Json(&serde_json::json!({})));

        let req = post("application/x-www-form-urlencoded", "a=1&b=x+y");
        let Body::Form(form) = req.body() else {
            panic!("{:?}", req.body())
        };
        assert_eq!(form.get("b"), Some("x y"));

        assert_eq!(post("text/plain", "hi").body(), Body::Text("hi"));
        assert_eq!(
            post("application/octet-stream", "hi").body(),
            Body::Bytes(b"hi")
        );
        assert_eq!(post("text/plain", "").body(), Body::Empty);

        let no_type = Request::builder()
            .method("POST")
            .body("plain")
            .build()
            .unwrap();
        assert_eq!(no_type.body(), Body::Text("plain"));
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Signup {
        email: String,
        #[serde(default)]
        newsletter: bool,
    }

    #[test]
    fn typed_json_and_form() {
        let json = post("application/json", r#"{"email":"a@b.c","newsletter":true}"#);
        assert_eq!(
            json.json::<Signup>().unwrap(),
            Signup {
                email: "a@b.c".into(),
                newsletter: true
            }
        );
        let err = post("application/json", r#"{"mail":"a@b.c"}"#)
            .json::<Signup>()
            .unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(
            err.message()
                .starts_with("Invalid body: missing field `email`"),
            "{}",
            err.message()
        );

        let form = post(
            "application/x-www-form-urlencoded",
            "email=a%40b.c&newsletter=on",
        );
        assert_eq!(
            form.form::<Signup>().unwrap(),
            Signup {
                email: "a@b.c".into(),
                newsletter: true
            }
        );
        let err = post("application/x-www-form-urlencoded", "newsletter=on")
            .form::<Signup>()
            .unwrap_err();
        assert_eq!(err.message(), "Invalid body: missing field `email`");

        assert_eq!(form.json::<Signup>().unwrap_err().status(), 415);
        assert_eq!(json.form::<Signup>().unwrap_err().status(), 415);
    }

    #[test]
    fn body_errors_stop_before_the_handler() {
        let err = Request::builder()
            .method("POST")
            .header("content-type", "application/json")
            .body("{")
            .build()
            .unwrap_err();
        assert_eq!((err.status(), err.message()), (400, "Invalid JSON"));

        let big = vec![b'x'; 1_048_577];
        let err = Request::builder().body(big.clone()).build().unwrap_err();
        assert_eq!(
            (err.status(), err.message()),
            (413, "Body exceeded 1mb limit")
        );

        let ok = Request::builder()
            .config(Config::new().body_limit("2mb"))
            .body(big)
            .build()
            .unwrap();
        assert_eq!(ok.bytes().len(), 1_048_577);

        let err = Request::builder()
            .config(Config::new().body_limit("10b"))
            .header("content-length", "11")
            .body("x")
            .build()
            .unwrap_err();
        assert_eq!(err.message(), "Body exceeded 10b limit");
    }

    #[test]
    fn parser_off_leaves_the_body_for_streaming() {
        let req = Request::builder()
            .config(Config::new().body_parser(false).body_limit("1b"))
            .header("content-type", "application/json")
            .body("{not even json, and over the limit}")
            .build()
            .unwrap();
        assert_eq!(req.body(), Body::Empty);
        assert!(req.bytes().is_empty());
        assert_eq!(req.json::<serde_json::Value>().unwrap_err().status(), 500);
        let mut text = String::new();
        req.into_body_reader().read_to_string(&mut text).unwrap();
        assert_eq!(text, "{not even json, and over the limit}");
    }

    #[test]
    fn debug_shows_the_essentials() {
        let req = post("text/plain", "hi");
        let debug = format!("{req:?}");
        assert!(
            debug.contains(r#"method: "POST""#) && debug.contains(r#"Text("hi")"#),
            "{debug}"
        );
    }
}
