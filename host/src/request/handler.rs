//! What a request needs of its route to run it: made once per deploy, read by every request.

use std::sync::Arc;

use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::limits::RouteLimits;
use super::reuse::IdleInstances;
use crate::engine::state::GuestState;
use crate::factors::RouteFactors;
use crate::metrics::RouteMetrics;

/// A route's pre-instantiated handler and everything it runs with.
pub struct Handler {
    /// The pattern, shared with every request's context and log lines.
    pub pattern: Arc<str>,
    /// Instantiating from this is all a request pays for.
    pub pre: ProxyPre<GuestState>,
    /// The environment this route's guest sees, from `routelet.toml`.
    pub env: Vec<(String, String)>,
    /// The memory, time, concurrency and size limits it runs under.
    pub limits: RouteLimits,
    /// Its request and instance counters.
    pub metrics: RouteMetrics,
    /// What each factor granted it.
    pub factors: RouteFactors,
    /// The instances kept between its requests, when its component asks for reuse.
    pub idle: Option<Arc<IdleInstances>>,
}
