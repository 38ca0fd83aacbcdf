//! Instances kept between requests of one route, for components that ask for it (Routelet's
//! JavaScript build does: making a JS instance is most of a JS request's cost, and its engine
//! warms up as it serves). An instance serves one request at a time, only of its own route in
//! its own deployment; one whose request failed, timed out, hit the memory limit or left a host
//! resource behind is dropped, never kept.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::Proxy;

use super::guest_log::GuestOutput;
use crate::engine::state::GuestState;

/// Idle instances one route keeps at most.
const MAX_IDLE_PER_ROUTE: usize = 64;

/// Requests one instance serves at most, so what a guest leaks (heap, fragmentation) is bounded.
pub const MAX_REQUESTS: u32 = 10_000;

/// How long an idle instance is kept; then its memory and pool slot go back.
const IDLE_FOR: Duration = Duration::from_secs(30);

/// How often idle instances are looked over.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Idle instances of every route of the process: at most a quarter of the instance pool, so
/// instances kept for some routes never keep another route from getting one.
static IDLE_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// One instance between two requests.
pub struct Idle {
    /// Its store, the guest's handles and memory in it.
    pub store: Store<GuestState>,
    /// Its `wasi:http` export.
    pub proxy: Proxy,
    /// Its stdout and stderr, labelled with each request's id in turn.
    pub outputs: [GuestOutput; 2],
    /// Requests it has served.
    pub served: u32,
    since: Instant,
}

impl Idle {
    /// An instance that has just served its `served`th request.
    pub fn new(
        store: Store<GuestState>,
        proxy: Proxy,
        outputs: [GuestOutput; 2],
        served: u32,
    ) -> Self {
        Self {
            store,
            proxy,
            outputs,
            served,
            since: Instant::now(),
        }
    }
}

/// The idle instances of one route of one deployment; they go when it does.
pub struct IdleInstances {
    idle: Mutex<Vec<Idle>>,
    /// At most this many idle instances in the whole process.
    total_cap: usize,
    sweeping: AtomicBool,
}

impl IdleInstances {
    /// An empty set, for a host whose instance pool holds `max_instances`.
    pub fn new(max_instances: u32) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            total_cap: max_instances as usize / 4,
            sweeping: AtomicBool::new(false),
        }
    }

    /// The instance that served last, if one is idle (its caches are the warmest).
    pub fn take(&self) -> Option<Idle> {
        let idle = self.lock().pop()?;
        IDLE_TOTAL.fetch_sub(1, Ordering::Relaxed);
        Some(idle)
    }

    /// Keeps `idle` for the route's next request, unless the route or the process keeps enough.
    pub fn put(self: &Arc<Self>, idle: Idle) {
        if idle.served >= MAX_REQUESTS {
            return;
        }
        {
            let mut list = self.lock();
            if list.len() >= MAX_IDLE_PER_ROUTE {
                return;
            }
            if IDLE_TOTAL.fetch_add(1, Ordering::Relaxed) >= self.total_cap {
                IDLE_TOTAL.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            list.push(idle);
        }
        if !self.sweeping.swap(true, Ordering::Relaxed) {
            tokio::spawn(sweep(Arc::downgrade(self)));
        }
    }

    /// Drops the instances idle longer than `IDLE_FOR`.
    fn drop_stale(&self) {
        let stale: Vec<Idle> = {
            let mut list = self.lock();
            let (stale, fresh) = std::mem::take(&mut *list)
                .into_iter()
                .partition(|idle| idle.since.elapsed() >= IDLE_FOR);
            *list = fresh;
            stale
        };
        IDLE_TOTAL.fetch_sub(stale.len(), Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for IdleInstances {
    fn drop(&mut self) {
        let list = self.idle.get_mut().unwrap_or_else(|e| e.into_inner());
        IDLE_TOTAL.fetch_sub(list.len(), Ordering::Relaxed);
    }
}

/// Looks over one route's idle instances until its deployment is gone.
async fn sweep(instances: Weak<IdleInstances>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        match instances.upgrade() {
            Some(instances) => instances.drop_stale(),
            None => return,
        }
    }
}
