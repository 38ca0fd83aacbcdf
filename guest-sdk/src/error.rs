//! The handler's error type: an HTTP status and a message the client may read.

use std::fmt;

use crate::Config;

/// `Result<Response, Error>` by default, so a handler can be `fn handler(req: Request) -> Result`.
pub type Result<T = crate::Response, E = Error> = std::result::Result<T, E>;

/// An error a handler returns: it becomes a `text/plain` response with its status and message,
/// like Next.js's `ApiError`.
///
/// Use the constructors for answers the client should see (`Error::bad_request("email is
/// required")`). Any other error type converts with `?` into a `500 Internal Server Error`:
/// its text goes to the route's log (standard error), never to the client, because it may name
/// internals. That is why `Error` does not implement [`std::error::Error`]: the blanket
/// `From` impl that makes `?` work on every error type would otherwise overlap with itself.
///
/// # Example
///
/// ```
/// use routelet_sdk::{Error, Request, Response, Result};
///
/// fn handler(req: Request) -> Result {
///     let id: u64 = req
///         .param("id")
///         .ok_or_else(|| Error::not_found("no such user"))?
///         .parse()
///         .map_err(|_| Error::bad_request("id must be a number"))?;
///     let body = serde_json::to_string(&id)?; // a serde_json error would be a 500
///     Ok(Response::text(body))
/// }
///
/// let res = handler(Request::builder().param("id", "x").build().unwrap());
/// # use routelet_sdk::IntoResponse;
/// let res = res.into_response();
/// assert_eq!(res.status_code(), 400);
/// assert_eq!(res.into_body_bytes().unwrap(), b"id must be a number");
/// ```
pub struct Error {
    status: u16,
    message: String,
    headers: Vec<(String, String)>,
    detail: Option<String>,
    /// The message is a JSON body, not text.
    json: bool,
}

impl Error {
    /// An error with any status and a message the client will read.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Error {
            status,
            message: message.into(),
            headers: Vec::new(),
            detail: None,
            json: false,
        }
    }

    /// An error answered with a JSON body, so a JSON API's errors need no `Ok(..)`:
    /// `Err(Error::json(422, &json!({ "error": "email is taken" })))`. A value that cannot be
    /// serialized is a 500, its reason kept for the log.
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::{Error, IntoResponse};
    ///
    /// let res = Error::json(409, &serde_json::json!({ "error": "taken" })).into_response();
    /// assert_eq!(res.status_code(), 409);
    /// assert_eq!(res.header_value("content-type"), Some("application/json; charset=utf-8"));
    /// assert_eq!(res.into_body_bytes().unwrap(), br#"{"error":"taken"}"#);
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Error {
                json: true,
                ..Error::new(status, body)
            },
            Err(error) => Error::internal(format!(
                "Error::json could not serialize the value: {error}"
            )),
        }
    }

    /// `400 Bad Request`: the request itself is wrong (a missing field, a bad value).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::new(400, message)
    }

    /// `401 Unauthorized`: the client must authenticate first.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Error::new(401, message)
    }

    /// `403 Forbidden`: the client is known but may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::new(403, message)
    }

    /// `404 Not Found`: nothing is at this id or path.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(404, message)
    }

    /// `405 Method Not Allowed` with the `Allow` header listing what the route accepts.
    ///
    /// Next.js never sends a 405 for an API route on its own; the handler decides, and this is
    /// the one-line way to do it.
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::{Error, IntoResponse};
    /// let res = Error::method_not_allowed(&["GET", "POST"]).into_response();
    /// assert_eq!(res.status_code(), 405);
    /// assert_eq!(res.header_value("allow"), Some("GET, POST"));
    /// ```
    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        Error::new(405, "Method Not Allowed").header("allow", allowed.join(", "))
    }

    /// `422 Unprocessable Content`: well-formed, but the values are not acceptable.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Error::new(422, message)
    }

    /// `500 Internal Server Error`. The client reads only `Internal Server Error`; `detail` is
    /// written to the route's log.
    pub fn internal(detail: impl fmt::Display) -> Self {
        let mut error = Error::new(500, "Internal Server Error");
        error.detail = Some(detail.to_string());
        error
    }

    /// `413` with Next.js's message for a body over the route's limit.
    pub(crate) fn body_too_large(config: &Config) -> Self {
        Error::new(413, format!("Body exceeded {} limit", config.limit_text()))
    }

    /// Adds a header to the error response (e.g. `WWW-Authenticate` on a 401).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message the client reads.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The log-only detail of an internal error, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Whether the message is a JSON body.
    pub fn is_json(&self) -> bool {
        self.json
    }

    pub(crate) fn into_parts(self) -> (u16, String, Vec<(String, String)>, Option<String>) {
        (self.status, self.message, self.headers, self.detail)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Error");
        s.field("status", &self.status)
            .field("message", &self.message);
        if let Some(detail) = &self.detail {
            s.field("detail", detail);
        }
        s.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// Any other error becomes a `500`, its text kept for the log, so `?` works everywhere.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        Error::internal(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_makes_a_500_that_hides_the_detail() {
        fn parse() -> Result<serde_json::Value> {
            Ok(serde_json::from_str("{oops")?)
        }
        let err = parse().unwrap_err();
        assert_eq!(err.status(), 500);
        assert_eq!(err.message(), "Internal Server Error");
        assert!(err.detail().unwrap().contains("key must be a string"));
        assert!(format!("{err}").starts_with("500 Internal Server Error: "));
    }

    #[test]
    fn constructors() {
        assert_eq!(Error::bad_request("x").status(), 400);
        assert_eq!(Error::unauthorized("x").status(), 401);
        assert_eq!(Error::forbidden("x").status(), 403);
        assert_eq!(Error::not_found("x").status(), 404);
        assert_eq!(Error::unprocessable("x").status(), 422);
        assert_eq!(Error::new(418, "teapot").message(), "teapot");
        let big = Error::body_too_large(&Config::new().body_limit("4mb"));
        assert_eq!(
            (big.status(), big.message()),
            (413, "Body exceeded 4mb limit")
        );
        assert_eq!(
            format!("{:?}", Error::not_found("gone")),
            r#"Error { status: 404, message: "gone" }"#
        );
    }
}
