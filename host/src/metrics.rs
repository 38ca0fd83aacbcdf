//! Process-wide counters for `/metrics` on the admin listener, in Prometheus text format.
//!
//! One registry for the process: requests and their latency by route and status class,
//! instantiations, compile-cache hits and misses, in-flight requests, the active deployment,
//! deploys, and every limit a guest or a client ran into.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a request counter: the route pattern (or what answered instead) and `2xx`...`5xx`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: &'static str,
}

/// Labels naming a route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// Labels of a limit hit: which route, which limit.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub route: String,
    pub limit: &'static str,
}

/// Labels of a deploy attempt: `ok` or `refused`, and its kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeployLabels {
    pub kind: &'static str,
    pub result: &'static str,
}

/// Labels of the active-deployment gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeploymentLabels {
    pub id: String,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Every metric the host keeps.
pub struct Metrics {
    registry: Registry,
    /// Answered requests, so error rates show per route.
    pub requests: Family<RequestLabels, Counter>,
    /// Time to the response head, for tail latency per route.
    pub latency: Latency,
    /// Guest instances made, the main per-request cost.
    pub instantiations: Family<RouteLabels, Counter>,
    /// Requests open now, to see load and draining.
    pub in_flight: Gauge,
    /// Components reused from disk: a restart should only add these.
    pub compile_cache_hits: Counter,
    /// Components compiled: new code, or a cache that was lost.
    pub compile_cache_misses: Counter,
    /// Limits hit, so a noisy route or client shows up.
    pub limit_hits: Family<LimitLabels, Counter>,
    /// Deploy attempts, refused ones included.
    pub deploys: Family<DeployLabels, Counter>,
    /// Which deployment serves, as a 1 under its id.
    pub active_deployment: Family<DeploymentLabels, Gauge<i64, std::sync::atomic::AtomicI64>>,
    /// Outbound calls the allow-list refused.
    pub outbound_denied: Family<RouteLabels, Counter<u64, AtomicU64>>,
    /// 1 while the control-plane database answers (0 when there is none configured).
    pub control_plane_up: Gauge,
    /// The control plane's generation this host serves, so hosts that lag show.
    pub active_generation: Gauge,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("routelet");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and status class",
            requests.clone(),
        );
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time to the response's head, by route",
            latency.clone(),
        );
        let instantiations = Family::<RouteLabels, Counter>::default();
        registry.register(
            "instantiations",
            "Guest instances created, by route",
            instantiations.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "Requests being answered now",
            in_flight.clone(),
        );
        let compile_cache_hits = Counter::default();
        registry.register(
            "compile_cache_hits",
            "Components loaded from the compile cache",
            compile_cache_hits.clone(),
        );
        let compile_cache_misses = Counter::default();
        registry.register(
            "compile_cache_misses",
            "Components compiled because the cache had no valid artifact",
            compile_cache_misses.clone(),
        );
        let limit_hits = Family::<LimitLabels, Counter>::default();
        registry.register(
            "limit_hits",
            "Requests stopped or flagged by a limit, by route and limit",
            limit_hits.clone(),
        );
        let deploys = Family::<DeployLabels, Counter>::default();
        registry.register(
            "deploys",
            "Deploy, undeploy and rollback attempts, by kind and result",
            deploys.clone(),
        );
        let active_deployment = Family::default();
        registry.register(
            "active_deployment",
            "1 for the deployment being served",
            active_deployment.clone(),
        );
        let outbound_denied = Family::default();
        registry.register(
            "outbound_denied",
            "Outbound HTTP requests refused by the allow-list or the address check, by route",
            outbound_denied.clone(),
        );
        let control_plane_up = Gauge::default();
        registry.register(
            "control_plane_up",
            "1 while the control-plane database answers this host, 0 when it does not or none \
             is configured",
            control_plane_up.clone(),
        );
        let active_generation = Gauge::default();
        registry.register(
            "active_generation",
            "The control-plane generation this host serves (0 without a control plane)",
            active_generation.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            instantiations,
            in_flight,
            compile_cache_hits,
            compile_cache_misses,
            limit_hits,
            deploys,
            active_deployment,
            outbound_denied,
            control_plane_up,
            active_generation,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Counts one limit hit; the caller logs it with the request's context.
    pub fn limit_hit(&self, route: &str, limit: &'static str) {
        self.limit_hits
            .get_or_create(&LimitLabels {
                route: route.to_owned(),
                limit,
            })
            .inc();
    }

    /// Counts one outbound request refused by a route's allow-list or the address check.
    pub fn count_outbound_denied(&self, route: &str) {
        self.outbound_denied
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .inc();
    }

    /// Marks `id` as the one active deployment.
    pub fn set_active_deployment(&self, id: &str) {
        self.active_deployment.clear();
        self.active_deployment
            .get_or_create(&DeploymentLabels { id: id.to_owned() })
            .set(1);
    }
}

/// One route's counters, looked up once per deployment so a request only adds to them.
pub struct RouteMetrics {
    route: String,
    /// By status class: 1xx, 2xx, 3xx, 4xx, 5xx; made on first use, so unused classes stay out
    /// of the exposition.
    requests: [std::sync::OnceLock<Counter>; 5],
    latency: Histogram,
    /// Instances made for this route.
    pub instantiations: Counter,
}

impl RouteMetrics {
    /// The counters labelled with `route` (a pattern, or what answered instead of a route).
    pub fn new(route: &str) -> Self {
        let metrics = get();
        let labels = RouteLabels {
            route: route.to_owned(),
        };
        Self {
            route: route.to_owned(),
            requests: Default::default(),
            latency: metrics.latency.get_or_create(&labels).clone(),
            instantiations: metrics.instantiations.get_or_create(&labels).clone(),
        }
    }

    /// Counts one answered request.
    pub fn answered(&self, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        self.requests[class]
            .get_or_init(|| {
                get()
                    .requests
                    .get_or_create(&RequestLabels {
                        route: self.route.clone(),
                        status: status_class(status),
                    })
                    .clone()
            })
            .inc();
        self.latency.observe(seconds);
    }
}

/// `2xx`, `4xx`...: the status class label.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics; counting is a few atomic operations.
pub fn get() -> &'static Metrics {
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_with_their_labels() {
        let metrics = Metrics::new();
        metrics
            .requests
            .get_or_create(&RequestLabels {
                route: "/api/[id]".into(),
                status: status_class(404),
            })
            .inc();
        metrics.limit_hit("/api/x", "memory");
        metrics.set_active_deployment("d1");
        metrics.set_active_deployment("d2");
        let text = metrics.encode();
        assert!(
            text.contains(r#"routelet_requests_total{route="/api/[id]",status="4xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"routelet_limit_hits_total{route="/api/x",limit="memory"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"routelet_active_deployment{id="d2"} 1"#),
            "{text}"
        );
        assert!(!text.contains(r#"id="d1""#), "{text}");
    }
}
