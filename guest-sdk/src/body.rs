//! The request body: read up to the route's limit, then parsed by content type, like Next.js.

use std::io::{self, Read};

use serde_json::Value;

use crate::{Config, Error, Query};

/// The request body, parsed by its `Content-Type` the way Next.js fills `req.body`.
///
/// | `Content-Type`                                 | variant                        |
/// |------------------------------------------------|--------------------------------|
/// | `application/json`, any `*/*+json`             | [`Json`](Body::Json); an empty body is `{}` |
/// | `application/x-www-form-urlencoded`            | [`Form`](Body::Form), parsed like a query string |
/// | `text/plain`, or no `Content-Type` (as Next.js)| [`Text`](Body::Text); [`Bytes`](Body::Bytes) if not UTF-8 |
/// | anything else                                  | [`Bytes`](Body::Bytes)          |
///
/// A body with no bytes that is neither JSON nor a form is [`Empty`](Body::Empty), and so is
/// every body on a route with [`Config::body_parser`] off (read it with
/// [`Request::into_body_reader`](crate::Request::into_body_reader) instead).
///
/// # Example
///
/// ```
/// use routelet_sdk::{Body, Request};
///
/// let req = Request::builder()
///     .method("POST")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body("email=ada%40example.com")
///     .build()
///     .unwrap();
/// let email = match req.body() {
///     Body::Form(form) => form.get("email"),
///     Body::Json(json) => json["email"].as_str(),
///     _ => None,
/// };
/// assert_eq!(email, Some("ada@example.com"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Body<'a> {
    /// No body, or body parsing is off for this route.
    Empty,
    /// A JSON body.
    Json(&'a Value),
    /// A form body (`application/x-www-form-urlencoded`).
    Form(&'a Query),
    /// A `text/plain` body (or one without a content type).
    Text(&'a str),
    /// Any other body, as sent.
    Bytes(&'a [u8]),
}

/// How a content type is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Json,
    Form,
    Text,
    Other,
}

/// Picks the parser from a `Content-Type` value; Next.js reads a missing one as `text/plain`.
pub(crate) fn kind_of(content_type: Option<&str>) -> Kind {
    let Some(content_type) = content_type else {
        return Kind::Text;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Kind::Json,
        "application/x-www-form-urlencoded" => Kind::Form,
        "text/plain" => Kind::Text,
        other if other.ends_with("+json") && other.contains('/') => Kind::Json,
        _ => Kind::Other,
    }
}

/// The parsed form of a body; text and bytes stay in the raw buffer.
#[derive(Debug)]
pub(crate) enum Parsed {
    Empty,
    Json(Value),
    Form(Query),
    Text,
    Bytes,
}

/// Parses a fully read body. Invalid JSON is Next.js's `400 Invalid JSON`.
pub(crate) fn parse(kind: Kind, raw: &[u8]) -> Result<Parsed, Error> {
    Ok(match kind {
        Kind::Json if raw.is_empty() => Parsed::Json(Value::Object(Default::default())),
        Kind::Json => Parsed::Json(
            serde_json::from_slice(raw).map_err(|_| Error::bad_request("Invalid JSON"))?,
        ),
        Kind::Form => Parsed::Form(Query::parse(&String::from_utf8_lossy(raw))),
        _ if raw.is_empty() => Parsed::Empty,
        Kind::Text if std::str::from_utf8(raw).is_ok() => Parsed::Text,
        Kind::Text | Kind::Other => Parsed::Bytes,
    })
}

/// Reads a body of at most `config.limit_bytes()`.
///
/// A `Content-Length` over the limit is refused before a byte is read, so an oversized upload
/// costs nothing; a body without one (chunked) is cut off as soon as it passes the limit.
pub(crate) fn read_limited(
    reader: &mut dyn Read,
    content_length: Option<u64>,
    config: &Config,
) -> Result<Vec<u8>, Error> {
    let limit = config.limit_bytes();
    if content_length.is_some_and(|len| len > limit) {
        return Err(Error::body_too_large(config));
    }
    let capacity = content_length.unwrap_or(0).min(limit).min(1 << 20);
    let mut raw = Vec::with_capacity(capacity as usize);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut raw)
        .map_err(|_| Error::bad_request("Invalid body"))?;
    if raw.len() as u64 > limit {
        return Err(Error::body_too_large(config));
    }
    Ok(raw)
}

/// The unread request body as a [`std::io::Read`], for routes that stream their input.
///
/// Returned by [`Request::into_body_reader`](crate::Request::into_body_reader). Reads block
/// until the client sends more; the end of the body is `Ok(0)`. A client that goes away
/// mid-body is an `Err`.
///
/// # Example
///
/// ```
/// use std::io::Read;
/// use routelet_sdk::{Config, Request};
///
/// let req = Request::builder()
///     .config(Config::new().body_parser(false))
///     .body("a large upload")
///     .build()
///     .unwrap();
/// let mut total = 0;
/// let mut reader = req.into_body_reader();
/// let mut chunk = [0u8; 4];
/// loop {
///     let n = reader.read(&mut chunk).unwrap();
///     if n == 0 { break }
///     total += n;
/// }
/// assert_eq!(total, 14);
/// ```
pub struct BodyReader {
    inner: Box<dyn Read>,
}

impl BodyReader {
    pub(crate) fn new(inner: Box<dyn Read>) -> Self {
        BodyReader { inner }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyReader")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(kind_of(Some("application/json")), Kind::Json);
        assert_eq!(kind_of(Some("Application/JSON; charset=utf-8")), Kind::Json);
        assert_eq!(kind_of(Some("application/ld+json")), Kind::Json);
        assert_eq!(kind_of(Some("application/vnd.api+json")), Kind::Json);
        assert_eq!(
            kind_of(Some("application/x-www-form-urlencoded")),
            Kind::Form
        );
        assert_eq!(kind_of(Some("text/plain;charset=utf-8")), Kind::Text);
        assert_eq!(kind_of(None), Kind::Text);
        assert_eq!(kind_of(Some("text/html")), Kind::Other);
        assert_eq!(
            kind_of(Some("multipart/form-data; boundary=x")),
            Kind::Other
        );
        assert_eq!(kind_of(Some("+json")), Kind::Other);
    }

    #[test]
    fn parses_by_kind() {
        assert!(
            matches!(parse(Kind::Json, b""), Ok(Parsed::Json(v)) if v == serde_json::json!({}))
        );
        assert!(
            matches!(parse(Kind::Json, b"[1]"), Ok(Parsed::Json(v)) if v == serde_json::json!([1]))
        );
        let err = parse(Kind::Json, b"{nope").unwrap_err();
        assert_eq!((err.status(), err.message()), (400, "Invalid JSON"));
        assert_eq!(
            parse(Kind::Json, b"  ").unwrap_err().message(),
            "Invalid JSON"
        );
        assert!(
            matches!(parse(Kind::Form, b"a=1"), Ok(Parsed::Form(q)) if q.get("a") == Some("1"))
        );
        assert!(matches!(parse(Kind::Form, b""), Ok(Parsed::Form(q)) if q.is_empty()));
        assert!(matches!(parse(Kind::Text, b"hi"), Ok(Parsed::Text)));
        assert!(matches!(parse(Kind::Text, b"\xff"), Ok(Parsed::Bytes)));
        assert!(matches!(parse(Kind::Text, b""), Ok(Parsed::Empty)));
        assert!(matches!(parse(Kind::Other, b"\x00"), Ok(Parsed::Bytes)));
        assert!(matches!(parse(Kind::Other, b""), Ok(Parsed::Empty)));
    }

    /// A reader that fails the test if read past `allowed` bytes.
    struct Guard {
        left: usize,
        allowed: usize,
        read: usize,
    }

    impl Read for Guard {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.left).min(8192);
            self.left -= n;
            self.read += n;
            assert!(
                self.read <= self.allowed,
                "read {} bytes, allowed {}",
                self.read,
                self.allowed
            );
            buf[..n].fill(b'x');
            Ok(n)
        }
    }

    fn read(len: usize, content_length: Option<u64>, allowed: usize) -> Result<Vec<u8>, Error> {
        let mut guard = Guard {
            left: len,
            allowed,
            read: 0,
        };
        read_limited(&mut guard, content_length, &Config::new())
    }

    #[test]
    fn one_megabyte_is_accepted_one_more_byte_is_not() {
        const MB: usize = 1_048_576;
        assert_eq!(read(MB, Some(MB as u64), MB).unwrap().len(), MB);
        assert_eq!(read(MB, None, MB).unwrap().len(), MB);

        // Refused on Content-Length alone: not one byte read.
        let err = read(MB + 1, Some(MB as u64 + 1), 0).unwrap_err();
        assert_eq!(
            (err.status(), err.message()),
            (413, "Body exceeded 1mb limit")
        );

        // No Content-Length: stopped one byte past the limit, not at the end of the upload.
        let err = read(50 * MB, None, MB + 1).unwrap_err();
        assert_eq!(err.status(), 413);

        // A lying Content-Length does not get past the limit either.
        assert_eq!(read(MB + 1, Some(10), MB + 1).unwrap_err().status(), 413);
    }

    #[test]
    fn a_broken_stream_is_invalid_body() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("reset"))
            }
        }
        let err = read_limited(&mut Broken, None, &Config::new()).unwrap_err();
        assert_eq!((err.status(), err.message()), (400, "Invalid body"));
    }
}
