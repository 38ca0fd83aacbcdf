//! Why a guest produced no usable response, and the status each reason gets.

use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;

/// Why a guest produced no usable response; each maps to a status and a log line.
#[derive(Debug, thiserror::Error)]
pub enum GuestFailure {
    /// The request could not be handed to the guest (HTTP 400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Every instance slot is in use, or the route's own cap is reached (HTTP 503).
    #[error("no instance slot free: {0}")]
    Busy(String),
    /// The client's connection or address already holds its share of instances (HTTP 429).
    #[error("{message}")]
    OverShare {
        /// `connection-instances` or `client-instances`.
        limit: &'static str,
        message: String,
    },
    /// The request body paused for longer than the route's `body_timeout` (HTTP 408).
    #[error("no request body bytes arrived for {0:?}")]
    BodyStalled(std::time::Duration),
    /// The request body is larger than the route's `body` limit (HTTP 413).
    #[error("request body larger than the limit of {0} bytes")]
    BodyTooLarge(u64),
    /// The guest ran past the time limit (HTTP 504).
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The guest trapped; `memory_limit` says it was refused memory first (HTTP 500).
    #[error("{}{message}", if *.memory_limit { "memory limit reached: " } else { "" })]
    Trap { message: String, memory_limit: bool },
    /// The guest returned without setting a response (HTTP 500).
    #[error("the guest returned without sending a response")]
    NoResponse,
    /// The guest answered with a wasi:http error code instead of a response (HTTP 500).
    #[error("the guest answered with error code {0:?}")]
    ErrorCode(ErrorCode),
    /// The host failed running the guest, e.g. its task panicked (HTTP 500); not the guest's fault.
    #[error("host error: {0}")]
    Host(String),
}

impl GuestFailure {
    /// The limit this failure hit, as named in metrics and logs: `memory`, `timeout`,
    /// `instances`, `connection-instances`, `client-instances`, `body-size` or `body-timeout`.
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            GuestFailure::Busy(_) => Some("instances"),
            GuestFailure::OverShare { limit, .. } => Some(*limit),
            GuestFailure::BodyStalled(_) => Some("body-timeout"),
            GuestFailure::BodyTooLarge(_) => Some("body-size"),
            GuestFailure::Timeout(_) => Some("timeout"),
            GuestFailure::Trap {
                memory_limit: true, ..
            } => Some("memory"),
            _ => None,
        }
    }

    /// The HTTP status the client gets for this failure.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            GuestFailure::BadRequest(_) => StatusCode::BAD_REQUEST,
            GuestFailure::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            GuestFailure::OverShare { .. } => StatusCode::TOO_MANY_REQUESTS,
            GuestFailure::BodyStalled(_) => StatusCode::REQUEST_TIMEOUT,
            GuestFailure::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GuestFailure::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
