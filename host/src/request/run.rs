//! One request's store, and running a route's handler in it under the guest limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hyper::body::Incoming;
use routelet_router::Params;
use tokio::sync::oneshot;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::body_limits::{CappedBody, count_response};
use super::component::LoadedRoute;
use super::engine::Runtime;
use super::guest_log::{GuestOutput, Stream};
use super::limits::MemoryLimiter;
use crate::capabilities::key_value::KeyValue;
use crate::capabilities::outbound_http::Outbound;
use crate::capabilities::preview::PreviewHost;
use crate::capabilities::route_context::RouteContext;
use crate::capabilities::sql::Sql;

/// The data of one request's `Store`: WASI with nothing granted, wasi:http, and our context.
pub struct RequestState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: Outbound,
    limiter: MemoryLimiter,
    /// Read by the `routelet:route/context` import.
    pub route: RouteContext,
    /// Serves the `routelet:route/preview` import.
    pub preview: PreviewHost,
    /// Read by the `wasi:keyvalue` imports.
    pub key_value: KeyValue,
    /// Read by the `routelet:route/sql` import.
    pub sql: Sql,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// Why a guest produced no usable response; each maps to a status and a log line.
#[derive(Debug, thiserror::Error)]
pub enum GuestFailure {
    /// The request could not be handed to the guest (HTTP 400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Every instance slot is in use, or the route's own cap is reached (HTTP 503).
    #[error("no instance slot free: {0}")]
    Busy(String),
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
}

impl GuestFailure {
    /// The limit this failure hit, as named in metrics and logs: `memory`, `timeout`,
    /// `instances` or `body-size`.
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            GuestFailure::Busy(_) => Some("instances"),
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
            GuestFailure::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GuestFailure::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Runs `route` for one request in a fresh instance and returns its response once it starts.
///
/// The body keeps streaming from the guest after this returns. Failures are logged here, once,
/// with the route and request id, whether or not the response had already started.
pub async fn run(
    runtime: &Runtime,
    route: &LoadedRoute,
    params: Params,
    request_id: Arc<str>,
    request: hyper::Request<Incoming>,
    preview: PreviewHost,
) -> Result<hyper::Response<HyperOutgoingBody>, GuestFailure> {
    let limits = &route.limits;
    let id = request_id.clone();
    let refuse = move |failure: GuestFailure| {
        let limit = failure.limit().unwrap_or("-");
        crate::metrics::get().limit_hit(&route.pattern, limit);
        tracing::warn!(request_id = %id, route = %route.pattern, limit, "refused: {failure}");
        failure
    };
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.body_bytes) {
        return Err(refuse(GuestFailure::BodyTooLarge(limits.body_bytes)));
    }
    let permit = match &limits.concurrency {
        Some(slots) => Some(slots.clone().try_acquire_owned().map_err(|_| {
            refuse(GuestFailure::Busy(format!(
                "{} is running as many instances as its max_concurrent limit allows",
                route.pattern
            )))
        })?),
        None => None,
    };
    let (parts, body) = request.into_parts();
    let body = CappedBody::new(body, limits.body_bytes);
    let body_hit = body.hit.clone();
    let request = hyper::Request::from_parts(parts, body);
    let memory_hit = Arc::new(AtomicBool::new(false));
    let wasi = WasiCtx::builder()
        .envs(&route.env)
        .stdout(GuestOutput::new(
            route.pattern.clone(),
            request_id.clone(),
            Stream::Stdout,
        ))
        .stderr(GuestOutput::new(
            route.pattern.clone(),
            request_id.clone(),
            Stream::Stderr,
        ))
        .build();
    let state = RequestState {
        table: ResourceTable::new(),
        wasi,
        http: WasiHttpCtx::new(),
        outbound: Outbound::new(
            route.pattern.clone(),
            request_id.clone(),
            route.outbound.clone(),
        ),
        limiter: MemoryLimiter::new(limits.memory_bytes, memory_hit.clone()),
        route: RouteContext::new(route.pattern.clone(), params),
        preview,
        key_value: KeyValue::new(
            runtime.key_value.clone(),
            route.pattern.clone(),
            route.grants.key_value_stores.clone(),
        ),
        sql: Sql::new(
            runtime.sql.clone(),
            route.pattern.clone(),
            route.grants.sql_databases.clone(),
        ),
    };
    let mut store = Store::new(&runtime.engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));

    let (sender, receiver) = oneshot::channel();
    let incoming = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, request)
        .map_err(|e| GuestFailure::BadRequest(e.to_string()))?;
    let outparam = store
        .data_mut()
        .http()
        .new_response_outparam(sender)
        .map_err(|e| GuestFailure::BadRequest(e.to_string()))?;

    let pre = route.pre.clone();
    let timeout = limits.timeout;
    let pattern = route.pattern.clone();
    let instantiations = route.metrics.instantiations.clone();
    let task = tokio::spawn(async move {
        // The route's slot is held until the instance is gone, body streaming included.
        let _permit = permit;
        instantiations.inc();
        let call = async {
            let proxy = pre.instantiate_async(&mut store).await.map_err(|e| {
                if e.is::<wasmtime::PoolConcurrencyLimitError>() {
                    GuestFailure::Busy(e.to_string())
                } else {
                    trap(e, &memory_hit)
                }
            })?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
                .map_err(|e| trap(e, &memory_hit))
        };
        let outcome = match tokio::time::timeout(timeout, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(GuestFailure::Timeout(timeout)),
        };
        if let Err(failure) = &outcome {
            if let Some(limit) = failure.limit() {
                crate::metrics::get().limit_hit(&pattern, limit);
            }
            tracing::error!(request_id = %request_id, "route {pattern} failed: {failure}");
        }
        outcome
    });

    let answer = receiver.await;
    if body_hit.load(Ordering::Relaxed) {
        // Whatever the guest made of its cut-off body, the client learns why.
        return Err(refuse(GuestFailure::BodyTooLarge(limits.body_bytes)));
    }
    match answer {
        Ok(Ok(response)) => Ok(response.map(|body| {
            count_response(body, route.pattern.clone(), limits.response_warning_bytes)
        })),
        Ok(Err(code)) => {
            tracing::error!(route = %route.pattern, "guest answered with error code {code:?}");
            Err(GuestFailure::ErrorCode(code))
        }
        Err(_) => match task.await {
            Ok(Ok(())) => {
                tracing::error!(route = %route.pattern, "guest returned without a response");
                Err(GuestFailure::NoResponse)
            }
            Ok(Err(failure)) => Err(failure),
            Err(join) => Err(GuestFailure::Trap {
                message: join.to_string(),
                memory_limit: false,
            }),
        },
    }
}

fn trap(error: wasmtime::Error, memory_hit: &AtomicBool) -> GuestFailure {
    let error = anyhow::Error::from(error);
    GuestFailure::Trap {
        message: format!("{error:#}"),
        memory_limit: memory_hit.load(Ordering::Relaxed),
    }
}
