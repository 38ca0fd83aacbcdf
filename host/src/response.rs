//! Responses the host writes itself: errors, redirects and files.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The body type every response shares, guest-made or host-made.
pub type Body = HyperOutgoingBody;

/// A whole body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A file read in pieces as the client takes them, so a large one is never held in memory.
pub fn file(file: tokio::fs::File) -> Body {
    use futures::TryStreamExt;
    let chunks = tokio_util::io::ReaderStream::with_capacity(file, 64 << 10)
        .map_ok(http_body::Frame::data)
        .map_err(|error| {
            tracing::error!("reading a public file failed mid-response: {error}");
            wasmtime_wasi_http::Error::InternalError(Some("reading the file failed".into()))
        });
    http_body_util::StreamBody::new(chunks).boxed_unsync()
}

/// No body at all.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A short plain-text response; internal details never go in `message`.
pub fn text(status: StatusCode, message: &str) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(full(message.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The 308 Next.js sends to a path's clean form.
pub fn permanent_redirect(location: &str) -> hyper::Response<Body> {
    redirect(StatusCode::PERMANENT_REDIRECT, location)
}

/// A redirect as Next.js answers one: the location as the body and in `Location`, and for a
/// 308 also `Refresh`; a location HTTP cannot carry is a 400.
pub fn redirect(status: StatusCode, location: &str) -> hyper::Response<Body> {
    let mut response = text(status, location);
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            // Next.js also sends Refresh for clients that ignore 308.
            if status == StatusCode::PERMANENT_REDIRECT
                && let Ok(refresh) = HeaderValue::from_str(&format!("0;url={location}"))
            {
                response.headers_mut().insert(header::REFRESH, refresh);
            }
            response
        }
        Err(_) => text(StatusCode::BAD_REQUEST, "Bad Request"),
    }
}

/// The 405 that files and pages send to methods other than GET and HEAD.
pub fn get_or_head_only() -> hyper::Response<Body> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// Next.js's 404 text, for paths nothing answers.
pub fn not_found() -> hyper::Response<Body> {
    host_error(text(
        StatusCode::NOT_FOUND,
        "404 | This page could not be found.",
    ))
}

/// The 500 for a page that could not be generated.
pub fn page_failed() -> hyper::Response<Body> {
    host_error(text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
    ))
}

/// Marks an answer whose body is the host's own error text, which the app's `pages/404` or
/// `pages/500` replaces.
#[derive(Clone, Copy, Debug)]
pub struct HostErrorBody;

fn host_error(mut response: hyper::Response<Body>) -> hyper::Response<Body> {
    response.extensions_mut().insert(HostErrorBody);
    response
}

/// Adds `Set-Cookie` lines; the host builds them, so a value never fails to be a header.
pub fn append_cookies(response: &mut hyper::Response<Body>, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}
