//! The access log line and the in-flight gauge of one request, kept by a guard: a request
//! whose client resets the stream or drops the connection is logged as cancelled and leaves
//! the gauge where it found it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Instant;

use http::{Method, StatusCode};

use crate::metrics::{self, RouteMetrics};

/// What answered a request, as the `route` label of metrics and log lines.
pub enum AnsweredBy<'a> {
    /// A route or page.
    Route(&'a Arc<str>, &'a RouteMetrics),
    /// The host itself.
    Fixed(Fixed),
}

/// Answers that come from no route.
#[derive(Clone, Copy)]
pub enum Fixed {
    /// A 308 to the clean path.
    Redirect,
    /// `/_routelet/data/...`.
    PageData,
    /// A file under `public/`.
    Public,
    /// A path that does not decode.
    BadRequest,
    /// Nothing matched.
    NotFound,
}

impl Fixed {
    const NAMES: [&'static str; 5] = [
        "redirect",
        "page-data",
        "public",
        "bad-request",
        "not-found",
    ];
}

impl AnsweredBy<'_> {
    fn metrics(&self) -> &RouteMetrics {
        static FIXED: LazyLock<[RouteMetrics; 5]> =
            LazyLock::new(|| Fixed::NAMES.map(RouteMetrics::new));
        match self {
            AnsweredBy::Route(_, metrics) => metrics,
            AnsweredBy::Fixed(fixed) => &FIXED[*fixed as usize],
        }
    }
}

impl std::fmt::Display for AnsweredBy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnsweredBy::Route(pattern, _) => f.write_str(pattern),
            AnsweredBy::Fixed(fixed) => f.write_str(Fixed::NAMES[*fixed as usize]),
        }
    }
}

/// The status counted for a request whose client went away first (nginx's "client closed
/// request").
const CANCELLED: u16 = 499;

/// One request's log line and gauge, from arrival to answer or cancellation.
pub struct AccessLog<'a> {
    started: Instant,
    peer: SocketAddr,
    method: Method,
    path: String,
    request_id: Arc<str>,
    answered_by: Option<AnsweredBy<'a>>,
    done: bool,
}

impl<'a> AccessLog<'a> {
    /// Counts the request in flight.
    pub fn start<B>(peer: SocketAddr, request: &http::Request<B>, request_id: Arc<str>) -> Self {
        metrics::get().in_flight.inc();
        Self {
            started: Instant::now(),
            peer,
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
            request_id,
            answered_by: None,
            done: false,
        }
    }

    /// Records what is answering, before it runs.
    pub fn answered_by(&mut self, answered_by: AnsweredBy<'a>) {
        self.answered_by = Some(answered_by);
    }

    /// Logs and counts the answer.
    pub fn finish(mut self, status: StatusCode) {
        self.done = true;
        self.write(status.as_u16(), "");
    }

    fn write(&self, status: u16, note: &str) {
        let elapsed = self.started.elapsed();
        let route = match &self.answered_by {
            Some(answered_by) => {
                answered_by
                    .metrics()
                    .answered(status, elapsed.as_secs_f64());
                answered_by.to_string()
            }
            None => "-".to_owned(),
        };
        metrics::get().in_flight.dec();
        let (method, path) = (&self.method, &self.path);
        tracing::info!(
            peer = %self.peer,
            request_id = %self.request_id,
            route = %route,
            "{method} {path} {status}{note} {:.1}ms",
            elapsed.as_secs_f64() * 1000.0
        );
    }
}

impl Drop for AccessLog<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.write(CANCELLED, " cancelled by the client");
        }
    }
}
