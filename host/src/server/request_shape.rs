//! What every request must look like before it is routed: a target in origin or absolute form
//! and under its size limit, headers under theirs, a `Host` on HTTP/1.1. HTTP/1.0 and HTTP/2
//! may leave the authority out; it is filled in from the listener, as other servers do, since
//! guests (wasi:http) need one.

use std::net::SocketAddr;

use http::{HeaderValue, StatusCode, Version, header};

use crate::response::{self, Body};

/// Request targets longer than this get 414, as nginx's default header buffer (8 KiB) would,
/// with room for long query strings.
pub const MAX_TARGET_BYTES: usize = 16 * 1024;

/// Request headers larger than this, all fields together, get 431: roomier than Node's 16 KiB,
/// for cookies.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A request the host answers itself, and the limit it hit, if any.
pub struct Refused {
    /// The answer's status.
    pub status: StatusCode,
    message: String,
    /// Named in the log line and the limit-hit counter.
    pub limit: Option<&'static str>,
}

impl Refused {
    /// The answer, which closes the connection: whatever body follows is never read.
    pub fn response(&self) -> hyper::Response<Body> {
        let mut response = response::text(self.status, &self.message);
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// Checks a request's shape, filling in a missing authority with `local`.
pub fn check<B>(request: &mut hyper::Request<B>, local: SocketAddr) -> Result<(), Refused> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, str::len);
    if target > MAX_TARGET_BYTES {
        return Err(refuse(
            StatusCode::URI_TOO_LONG,
            &format!("URI Too Long: the request target may be at most {MAX_TARGET_BYTES} bytes"),
            Some("uri-size"),
        ));
    }
    if uri.scheme().is_none() && uri.authority().is_some() {
        // `GET host:port HTTP/1.1` is only meant for CONNECT, which this is not a proxy for.
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Bad Request: a request target in authority form is only for CONNECT",
            None,
        ));
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!(
                "Request Header Fields Too Large: headers may be at most {MAX_HEADER_BYTES} \
                 bytes together"
            ),
            Some("header-size"),
        ));
    }
    let has_host = request.headers().contains_key(header::HOST);
    if !has_host && request.version() == Version::HTTP_11 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Bad Request: an HTTP/1.1 request needs a Host header",
            None,
        ));
    }
    if !has_host && request.uri().authority().is_none() {
        let authority = HeaderValue::from_str(&local.to_string()).expect("an address is ASCII");
        request.headers_mut().insert(header::HOST, authority);
    }
    Ok(())
}

fn refuse(status: StatusCode, message: &str, limit: Option<&'static str>) -> Refused {
    Refused {
        status,
        message: message.to_owned(),
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(request: &mut hyper::Request<()>) -> Option<StatusCode> {
        check(request, "127.0.0.1:3000".parse().unwrap())
            .err()
            .map(|refused| refused.status)
    }

    #[test]
    fn each_bad_shape_gets_its_status() {
        let long = format!("/{}", "a".repeat(MAX_TARGET_BYTES));
        let mut request = hyper::Request::get(long)
            .header("host", "x")
            .body(())
            .unwrap();
        assert_eq!(checked(&mut request), Some(StatusCode::URI_TOO_LONG));
        let mut request = hyper::Request::get("127.0.0.1:3000")
            .header("host", "x")
            .body(())
            .unwrap();
        assert_eq!(checked(&mut request), Some(StatusCode::BAD_REQUEST));
        let mut request = hyper::Request::get("/").body(()).unwrap();
        assert_eq!(checked(&mut request), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn http_1_0_and_http_2_without_an_authority_get_the_listeners() {
        for version in [Version::HTTP_10, Version::HTTP_2] {
            let mut request = hyper::Request::get("/api")
                .version(version)
                .body(())
                .unwrap();
            assert_eq!(checked(&mut request), None);
            assert_eq!(request.headers()["host"], "127.0.0.1:3000");
        }
    }
}
