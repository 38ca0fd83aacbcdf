//! Running a route's handler for one request, in four steps: admit (body cap, concurrency),
//! state (the store: a fresh one, or an instance the route kept), call (under the time limit)
//! and outcome. [`report`] is the one place a failure is logged and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use routelet_router::Params;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use wasmtime::Store;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::Proxy;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::body_limits::{BodyFault, BodyFaults, CappedBody, EndsWithGuest, count_response};
use super::failure::GuestFailure;
use super::guest_log::{GuestOutput, Stream};
use super::handler::Handler;
use super::reuse::Idle;
use super::shares::{Client, SharePermit};
use crate::engine::limits::MemoryLimiter;
use crate::engine::state::GuestState;
use crate::factors::{AppFactors, RequestSetup, ResponseHook, Role};

/// Runs `handler` for one request in a fresh instance (or one its route kept, for components
/// that ask for reuse) and returns its response once it starts.
///
/// The body keeps streaming from the guest after this returns. Every failure is reported once,
/// with the route and request id, whether or not the response had already started.
pub async fn run(
    engine: &wasmtime::Engine,
    factors: &AppFactors,
    handler: &Handler,
    params: Params,
    request_id: Arc<str>,
    client: &Client,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<HyperOutgoingBody>, GuestFailure> {
    let outcome = async {
        let admitted = admit(handler, client, request)?;
        let (instance, hooks) = state(engine, factors, handler, params, &request_id);
        call(handler, &request_id, admitted, instance, hooks).await
    };
    outcome.await.map_err(|failure| match failure {
        Reported::Refused(failure) => report(handler, &request_id, failure, true),
        Reported::Now(failure) => report(handler, &request_id, failure, false),
        Reported::Already(failure) => failure,
    })
}

/// A request let through: its body under the cap, the client's share, and the route's slot if
/// it has a cap.
struct Admitted {
    request: hyper::Request<CappedBody>,
    faults: BodyFaults,
    permits: (SharePermit, Option<OwnedSemaphorePermit>),
}

/// Refuses a declared body over the cap, a client over its share and a route at its
/// `max_concurrent`, before any instance exists.
fn admit(
    handler: &Handler,
    client: &Client,
    request: hyper::Request<Incoming>,
) -> Result<Admitted, Reported> {
    let limits = &handler.limits;
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.body_bytes) {
        return Err(Reported::Refused(GuestFailure::BodyTooLarge(
            limits.body_bytes,
        )));
    }
    let share = client.take().map_err(Reported::Refused)?;
    let permit = match &limits.concurrency {
        Some(slots) => Some(slots.clone().try_acquire_owned().map_err(|_| {
            Reported::Refused(GuestFailure::Busy(format!(
                "{} is running as many instances as its max_concurrent limit allows",
                handler.pattern
            )))
        })?),
        None => None,
    };
    let (parts, body) = request.into_parts();
    let body = CappedBody::new(body, limits.body_bytes, limits.body_timeout);
    let faults = body.faults.clone();
    Ok(Admitted {
        request: hyper::Request::from_parts(parts, body),
        faults,
        permits: (share, permit),
    })
}

/// What a request runs in: a fresh store to instantiate into, or an instance its route kept.
struct Instance {
    store: Store<GuestState>,
    /// The kept instance's export; `None` for a fresh store.
    kept: Option<Proxy>,
    outputs: [GuestOutput; 2],
    /// Requests served before this one.
    served: u32,
}

/// The store of one request: WASI with the route's environment and its output in the log,
/// the memory limit, and every factor's request state; in a kept instance, the same, made
/// anew for this request.
fn state(
    engine: &wasmtime::Engine,
    factors: &AppFactors,
    handler: &Handler,
    params: Params,
    request_id: &Arc<str>,
) -> (Instance, Vec<ResponseHook>) {
    let request_factors = factors.request(
        &handler.factors,
        RequestSetup {
            pattern: handler.pattern.clone(),
            request_id: request_id.clone(),
            params,
            role: Role::Route,
        },
    );
    let hooks = request_factors.response_hooks();
    let limiter = MemoryLimiter::new(handler.limits.memory_bytes);
    if let Some(idle) = handler.idle.as_ref().and_then(|idle| idle.take()) {
        let Idle {
            mut store,
            proxy,
            outputs,
            served,
            ..
        } = idle;
        for output in &outputs {
            output.relabel(request_id.clone());
        }
        GuestState::renew(&mut store, limiter, request_factors);
        let instance = Instance {
            store,
            kept: Some(proxy),
            outputs,
            served,
        };
        return (instance, hooks);
    }
    let output = |stream| GuestOutput::new(handler.pattern.clone(), request_id.clone(), stream);
    let outputs = [output(Stream::Stdout), output(Stream::Stderr)];
    let wasi = WasiCtx::builder()
        .envs(&handler.env)
        .stdout(outputs[0].clone())
        .stderr(outputs[1].clone())
        .build();
    let instance = Instance {
        store: GuestState::store(engine, wasi, limiter, request_factors),
        kept: None,
        outputs,
        served: 0,
    };
    (instance, hooks)
}

/// Instantiates (unless the instance was kept) and calls the handler in its own task, under the
/// time limit, and waits for the response to start (or for the guest to end without one).
async fn call(
    handler: &Handler,
    request_id: &Arc<str>,
    admitted: Admitted,
    instance: Instance,
    hooks: Vec<ResponseHook>,
) -> Result<hyper::Response<HyperOutgoingBody>, Reported> {
    let Admitted {
        request,
        faults,
        permits,
    } = admitted;
    let Instance {
        mut store,
        kept,
        outputs,
        served,
    } = instance;
    let (sender, receiver) = oneshot::channel();
    let bad_request = |e: wasmtime::Error| Reported::Now(GuestFailure::BadRequest(e.to_string()));
    let incoming = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, request)
        .map_err(bad_request)?;
    let outparam = store
        .data_mut()
        .http()
        .new_response_outparam(sender)
        .map_err(bad_request)?;

    let pre = handler.pre.clone();
    let timeout = handler.limits.timeout;
    let memory_hit = store.data().memory_hit();
    let instantiations = handler.metrics.instantiations.clone();
    let idle = handler.idle.clone();
    let reporter = Reporter {
        pattern: handler.pattern.clone(),
        request_id: request_id.clone(),
        memory_bytes: handler.limits.memory_bytes,
    };
    let (finished, outcome) = oneshot::channel();
    let task = tokio::spawn(async move {
        // The client's share and the route's slot are held until the instance is gone, body
        // streaming included.
        let _permits = permits;
        let call = async {
            let proxy = match kept {
                Some(proxy) => proxy,
                None => {
                    instantiations.inc();
                    pre.instantiate_async(&mut store).await.map_err(|e| {
                        if e.is::<wasmtime::PoolConcurrencyLimitError>() {
                            GuestFailure::Busy(e.to_string())
                        } else {
                            trap(e, &memory_hit)
                        }
                    })?
                }
            };
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
                .map_err(|e| trap(e, &memory_hit))?;
            Ok(proxy)
        };
        let outcome = match tokio::time::timeout(timeout, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(GuestFailure::Timeout(timeout)),
        };
        // Before the store goes: dropping it ends the response body, which must know by then
        // whether that end is clean.
        let _ = finished.send(outcome.is_ok());
        let memory_limit_hit = memory_hit.load(Ordering::Relaxed);
        match (outcome, idle) {
            // Kept only when nothing of this request can reach the next: it ended well, under
            // its memory limit, and handed back every host resource.
            (Ok(proxy), Some(idle)) if !memory_limit_hit && store.data().holds_nothing() => {
                idle.put(Idle::new(store, proxy, outputs, served + 1));
                Ok(())
            }
            (outcome, _) => {
                drop(store);
                // A guest may survive a refused allocation (JavaScript engines throw "out of
                // memory" and the route answers 500 itself): the limit was still hit, and is
                // logged as such.
                if outcome.is_ok() && memory_limit_hit {
                    reporter.survived_memory_limit();
                }
                // Reported here, since the response may have started long ago.
                outcome
                    .map(drop)
                    .map_err(|failure| reporter.report(failure))
            }
        }
    });

    let answer = receiver.await;
    // Whatever the guest made of a body the host cut short, the client learns why.
    let limits = &handler.limits;
    match faults.get() {
        Some(BodyFault::TooLarge) => {
            return Err(Reported::Refused(GuestFailure::BodyTooLarge(
                limits.body_bytes,
            )));
        }
        Some(BodyFault::Stalled) => {
            return Err(Reported::Refused(GuestFailure::BodyStalled(
                limits.body_timeout,
            )));
        }
        Some(BodyFault::Malformed) => {
            return Err(Reported::Refused(GuestFailure::BadRequest(
                "the request body is malformed or was cut off".into(),
            )));
        }
        None => {}
    }
    match answer {
        Ok(Ok(mut response)) => {
            for hook in hooks {
                hook(response.headers_mut());
            }
            let (pattern, warning) = (
                handler.pattern.clone(),
                handler.limits.response_warning_bytes,
            );
            Ok(response.map(|body| {
                let body = EndsWithGuest::new(body, outcome).boxed_unsync();
                count_response(body, pattern, warning)
            }))
        }
        Ok(Err(code)) => Err(Reported::Now(GuestFailure::ErrorCode(code))),
        Err(_) => match task.await {
            Ok(Ok(())) => Err(Reported::Now(GuestFailure::NoResponse)),
            Ok(Err(failure)) => Err(Reported::Already(failure)),
            Err(join) => Err(Reported::Now(GuestFailure::Host(format!(
                "the task running the guest ended: {join}"
            )))),
        },
    }
}

/// A failure, and whether it still needs its log line.
enum Reported {
    /// Refused before or instead of running: the client's doing, not the guest's.
    Refused(GuestFailure),
    /// The guest or the host failed; not yet logged.
    Now(GuestFailure),
    /// Logged already, by the guest's task.
    Already(GuestFailure),
}

/// What the guest's task needs to report a failure after `run` has returned.
struct Reporter {
    pattern: Arc<str>,
    request_id: Arc<str>,
    memory_bytes: usize,
}

impl Reporter {
    fn report(&self, failure: GuestFailure) -> GuestFailure {
        log_and_count(&self.pattern, &self.request_id, failure, false)
    }

    fn survived_memory_limit(&self) {
        let pattern = &*self.pattern;
        crate::metrics::get().limit_hit(pattern, "memory");
        tracing::warn!(
            request_id = %self.request_id,
            route = %pattern,
            limit = "memory",
            "route {pattern}: memory limit reached ({} MiB): the guest was refused memory and \
             handled it itself",
            self.memory_bytes >> 20
        );
    }
}

/// Logs and counts one failure of `handler`: the only place that does.
fn report(
    handler: &Handler,
    request_id: &str,
    failure: GuestFailure,
    refused: bool,
) -> GuestFailure {
    log_and_count(&handler.pattern, request_id, failure, refused)
}

fn log_and_count(
    pattern: &str,
    request_id: &str,
    failure: GuestFailure,
    refused: bool,
) -> GuestFailure {
    let limit = failure.limit();
    if let Some(limit) = limit {
        crate::metrics::get().limit_hit(pattern, limit);
    }
    let limit = limit.unwrap_or("-");
    match &failure {
        _ if refused => {
            tracing::warn!(request_id = %request_id, route = %pattern, limit, "refused: {failure}")
        }
        GuestFailure::Host(_) => {
            tracing::error!(
                request_id = %request_id,
                route = %pattern,
                "host error running {pattern}: {failure}"
            )
        }
        _ => tracing::error!(
            request_id = %request_id,
            route = %pattern,
            limit,
            "route {pattern} failed: {failure}"
        ),
    }
    failure
}

fn trap(error: wasmtime::Error, memory_hit: &AtomicBool) -> GuestFailure {
    let error = anyhow::Error::from(error);
    GuestFailure::Trap {
        message: format!("{error:#}"),
        memory_limit: memory_hit.load(Ordering::Relaxed),
    }
}
