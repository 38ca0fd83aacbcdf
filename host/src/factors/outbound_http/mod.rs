//! Outbound HTTP (`wasi:http/outgoing-handler`) for API routes: denied unless the route's
//! `allowed_outbound_hosts` names the scheme, host and port; names reach only public addresses.
//! Pages never get it: their requests are refused and remembered, so the page's error can say
//! what it tried to reach.

pub mod address;
pub mod allow_list;
pub mod client;
pub mod config;

use std::sync::{Arc, Mutex};

use anyhow::bail;
use tokio_rustls::rustls;
use wasmtime::component::Linker;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, TlsAlertReceivedPayload};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub use allow_list::AllowList;
use allow_list::{Host, Target, Verdict};
pub use client::Client;

use super::{AppSetup, Factor, PageAccess, RequestSetup, Role, RouteSetup};
use crate::config::{AppConfig, CONFIG_FILE};

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

/// The factor: outbound HTTP through the route's allow-list. Its request state is the
/// `wasi:http` hooks, so it links nothing of its own.
pub struct OutboundHttpFactor;

impl Factor for OutboundHttpFactor {
    type App = Client;
    type Route = Option<Arc<RouteOutbound>>;
    type Request = Outbound;
    const SECTION: Option<&'static str> = Some("outbound_http");
    const ROUTE_KEYS: &'static [&'static str] = &["allowed_outbound_hosts"];
    const PAGES: PageAccess = PageAccess::Never;

    fn check(config: &AppConfig, routes: &[RouteSetup<'_>]) -> anyhow::Result<()> {
        let section: config::OutboundConfig = config.section("outbound_http")?;
        config::Settings::from_config(&section)?;
        for route in routes {
            allow_list(route)?;
        }
        Ok(())
    }

    fn open(setup: &AppSetup<'_>) -> anyhow::Result<Client> {
        let section: config::OutboundConfig = setup.config.section("outbound_http")?;
        Client::new(config::Settings::from_config(&section)?)
    }

    fn route(client: &Client, setup: &RouteSetup<'_>) -> anyhow::Result<Self::Route> {
        let allow = allow_list(setup)?;
        Ok((!allow.is_empty()).then(|| {
            Arc::new(RouteOutbound {
                allow,
                client: client.clone(),
            })
        }))
    }

    fn link<T: Send + 'static>(
        _: &mut Linker<T>,
        _: fn(&mut T) -> &mut Outbound,
    ) -> wasmtime::Result<()> {
        Ok(())
    }

    fn request(_: &Client, route: &Self::Route, setup: &mut RequestSetup) -> Outbound {
        let page = setup.role == Role::Page;
        Outbound {
            route: setup.pattern.clone(),
            request_id: setup.request_id.clone(),
            access: if page { None } else { route.clone() },
            attempts: page.then(Arc::default),
        }
    }
}

/// A route's `allowed_outbound_hosts`, parsed; an error names the route and the entry, and a
/// page may have none.
fn allow_list(setup: &RouteSetup<'_>) -> anyhow::Result<AllowList> {
    let pattern = setup.pattern;
    let written: Vec<String> = setup.key("allowed_outbound_hosts")?.unwrap_or_default();
    let allow = AllowList::parse(&written).map_err(|why| {
        anyhow::anyhow!("{CONFIG_FILE}: [routes.\"{pattern}\"] allowed_outbound_hosts entry {why}")
    })?;
    if setup.role == Role::Page && !allow.is_empty() {
        bail!(
            "{CONFIG_FILE}: [routes.\"{pattern}\"]: {} is a page, and pages never get network \
             access; allowed_outbound_hosts is for API routes",
            setup.file
        );
    }
    Ok(allow)
}

/// One request's outbound policy: its route's allow-list, or nothing at all.
pub struct Outbound {
    route: Arc<str>,
    request_id: Arc<str>,
    access: Option<Arc<RouteOutbound>>,
    /// A page's: every attempt is refused and written down here.
    attempts: Option<Arc<Mutex<Vec<String>>>>,
}

impl Outbound {
    /// What a page tried to reach, for its error; `None` for API routes.
    pub fn attempts(&self) -> Option<Arc<Mutex<Vec<String>>>> {
        self.attempts.clone()
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
        if let Some(attempts) = &self.attempts {
            attempts
                .lock()
                .expect("attempts")
                .push(request.uri().to_string());
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
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
