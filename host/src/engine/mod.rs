//! The engine, once per process: the wasmtime engine and its instance pool, the linkers every
//! guest is instantiated with, the epoch ticker, and compiling components.

pub mod compile;
pub mod compile_cache;
pub mod epoch;
pub mod limits;
pub mod state;

use std::sync::Arc;

use anyhow::Context;
use wasmtime::component::Linker;
use wasmtime::{Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::factors::{self, Role};
use epoch::EpochTicker;
use limits::Limits;
use state::GuestState;

pub use epoch::EPOCH_TICK;

/// Bytes of each linear memory kept resident and reset with memset after a request.
const KEEP_RESIDENT: usize = 2 << 20;

/// Decommits gathered into one batch of system calls.
const DECOMMIT_BATCH: usize = 16;

/// Everything shared by all deployments and requests of the process.
pub struct Engine {
    /// The wasmtime engine: compiled code and the instance pool belong to it.
    pub wasm: wasmtime::Engine,
    /// What API routes are instantiated with: WASI, `wasi:http` and every factor.
    pub route_linker: Linker<GuestState>,
    /// What pages are instantiated with: the same, less the factors pages never get.
    pub page_linker: Linker<GuestState>,
    /// The host's limits: the pool's size and the largest instance.
    pub limits: Limits,
    _ticker: Arc<EpochTicker>,
}

impl Engine {
    /// Configures the engine (pooling allocator, copy-on-write memory, epochs) and the linkers.
    pub fn new(limits: Limits) -> anyhow::Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        // Per component instance, counted in our components: a Rust route has 3 core instances,
        // 1 memory and 2 tables; a JavaScript route (componentize-js 0.23) 4 core instances,
        // 1 memory and 2 tables (the larger of 7,811 elements, under the default 20,000). The
        // core instances leave room for toolchains that split a guest into more modules.
        pool.total_component_instances(limits.max_instances)
            .total_memories(limits.max_instances)
            .total_tables(limits.max_instances * 2)
            .total_stacks(limits.max_instances)
            .total_core_instances(limits.max_instances * 6)
            .max_memory_size(limits.memory_bytes)
            // Resetting a slot with madvise after every request (page faults, TLB shootdowns)
            // was the largest cost in a hello request's profile: reset small memories with
            // memset (only dirty pages, found with PAGEMAP_SCAN where the kernel has it) and
            // batch the remaining decommits.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT / 16)
            .pagemap_scan(Enabled::Auto)
            .decommit_batch_size(DECOMMIT_BATCH);

        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .memory_init_cow(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let wasm = wasmtime::Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("configuring the wasm engine")?;
        let route_linker = linker(&wasm, Role::Route)?;
        let page_linker = linker(&wasm, Role::Page)?;
        let ticker = EpochTicker::start(wasm.clone());
        Ok(Self {
            wasm,
            route_linker,
            page_linker,
            limits,
            _ticker: Arc::new(ticker),
        })
    }

    /// The linker for a guest of `role`.
    pub fn linker(&self, role: Role) -> &Linker<GuestState> {
        match role {
            Role::Route => &self.route_linker,
            Role::Page => &self.page_linker,
        }
    }
}

/// The one linker builder: WASI with nothing granted, `wasi:http` (for pages too, so a fetch
/// fails with a clear error code instead of failing to link), and the factors `role` may have.
fn linker(engine: &wasmtime::Engine, role: Role) -> anyhow::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(anyhow::Error::from)
        .context("linking WASI")?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(anyhow::Error::from)
        .context("linking wasi:http")?;
    factors::registry::link(&mut linker, role)?;
    Ok(linker)
}
