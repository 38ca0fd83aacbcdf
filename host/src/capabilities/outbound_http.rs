//! Outbound HTTP policy (`wasi:http/outgoing-handler`): denied for every guest until a route is
//! given an allow-list.

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Refuses every outgoing request with the standard `HTTP-request-denied` error code.
#[derive(Debug, Default)]
pub struct DenyAll {
    /// The route that asked, for the log line.
    pub route: std::sync::Arc<str>,
}

/// What `WasiHttpHooks::send_request` returns, named once for every policy.
pub type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for DenyAll {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        tracing::warn!(
            route = %self.route,
            uri = %request.uri(),
            "outbound HTTP denied: this route has no allowed outbound hosts"
        );
        Box::new(async { Err(Error::HttpRequestDenied) })
    }
}
