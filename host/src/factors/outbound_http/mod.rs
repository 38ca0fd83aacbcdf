//! Outbound HTTP (`wasi:http/outgoing-handler`) for API routes: denied unless the route's
//! `allowed_outbound_hosts` names the scheme, host and port; names reach only public addresses.
//! Pages never get it (they link [`crate::pages::sandbox`]'s own hooks).

pub mod address;
pub mod allow_list;
pub mod client;
pub mod config;

use std::sync::Arc;

use tokio_rustls::rustls;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, TlsAlertReceivedPayload};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub use allow_list::AllowList;
use allow_list::{Host, Target, Verdict};
pub use client::Client;

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

/// What one route may call, and the deployment's client to call it with.
pub struct RouteOutbound {
    /// The route's `allowed_outbound_hosts`.
    pub allow: AllowList,
    /// Shared by the deployment's routes, so connections are reused across them.
    pub client: Client,
}

/// One request's outbound policy: its route's allow-list, or nothing at all.
pub struct Outbound {
    route: Arc<str>,
    request_id: Arc<str>,
    access: Option<Arc<RouteOutbound>>,
}

impl Outbound {
    /// The policy of `route` for one request; `access` is `None` when the route may call nothing.
    pub fn new(route: Arc<str>, request_id: Arc<str>, access: Option<Arc<RouteOutbound>>) -> Self {
        Outbound {
            route,
            request_id,
            access,
        }
    }

    fn refuse(&self, target: &Target, error: Error, why: &str) -> SendFuture {
        crate::metrics::get().count_outbound_denied(&self.route);
        tracing::warn!(
            request_id = %self.request_id,
            route = %self.route,
            "outbound HTTP to {target} denied: {why}"
        );
        Box::new(async move { Err(error) })
    }
}

impl WasiHttpHooks for Outbound {
    /// A certificate the roots do not vouch for is `TLS-certificate-error`, not a protocol error.
    fn p2_error_from_tls(&mut self, error: &std::io::Error) -> ErrorCode {
        match error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            Some(rustls::Error::InvalidCertificate(_)) => ErrorCode::TlsCertificateError,
            Some(rustls::Error::AlertReceived(alert)) => {
                ErrorCode::TlsAlertReceived(TlsAlertReceivedPayload {
                    alert_id: None,
                    alert_message: Some(format!("{alert:?}")),
                })
            }
            _ => ErrorCode::TlsProtocolError,
        }
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let target = match Target::of(request.uri()) {
            Ok(target) => target,
            Err(why) => {
                tracing::info!(request_id = %self.request_id, route = %self.route, "outbound HTTP: {why}");
                return Box::new(async { Err(Error::HttpRequestUriInvalid) });
            }
        };
        let Some(access) = self.access.clone() else {
            return self.refuse(
                &target,
                Error::HttpRequestDenied,
                "this route has no allowed_outbound_hosts in routelet.toml",
            );
        };
        match access.allow.check(&target) {
            Verdict::Denied => {
                let why = format!(
                    "not in this route's allowed_outbound_hosts ({})",
                    access.allow.written().join(", ")
                );
                return self.refuse(&target, Error::HttpRequestDenied, &why);
            }
            Verdict::Prohibited => {
                let Host::Ip(ip) = &target.host else {
                    unreachable!("only an address in the URL is prohibited by the allow-list")
                };
                if !access.client.allows_private(*ip) {
                    return self.refuse(
                        &target,
                        Error::DestinationIpProhibited,
                        "the address is not public; write it out in allowed_outbound_hosts to \
                         allow it",
                    );
                }
            }
            Verdict::Allowed => {}
        }
        let route = self.route.clone();
        let request_id = self.request_id.clone();
        Box::new(async move {
            let shown = target.to_string();
            let result = access.client.send(&route, request, target, options).await;
            match &result {
                Ok((response, _)) => tracing::debug!(
                    request_id = %request_id,
                    route = %route,
                    "outbound HTTP to {shown}: {}",
                    response.status()
                ),
                Err(error) => {
                    if matches!(error, Error::DestinationIpProhibited) {
                        crate::metrics::get().count_outbound_denied(&route);
                    }
                    tracing::warn!(
                        request_id = %request_id,
                        route = %route,
                        "outbound HTTP to {shown} failed: {error}"
                    );
                }
            }
            result
        })
    }
}
