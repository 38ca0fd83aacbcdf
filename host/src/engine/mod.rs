//! The engine and linker, made once per process, and the one epoch ticker for all deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use wasmtime::component::Linker;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::Limits;
use super::request::RequestState;
use crate::capabilities::key_value::{self, Stores};
use crate::capabilities::sql::{self, Databases};
use crate::capabilities::{preview, route_context};
use crate::pages::sandbox::PageState;

/// How often the epoch advances; a running guest yields to other requests at this pace.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each linear memory kept resident and reset with memset after a request.
const KEEP_RESIDENT: usize = 2 << 20;

/// Decommits gathered into one batch of system calls.
const DECOMMIT_BATCH: usize = 16;

/// Everything shared by all requests of the process.
pub struct Runtime {
    pub engine: Engine,
    pub linker: Linker<RequestState>,
    /// Pages link against less: no outbound HTTP that could succeed, no preview import.
    pub page_linker: Linker<PageState>,
    pub limits: Limits,
    /// The deployment's key-value stores; none until the host configures them.
    pub key_value: Arc<Stores>,
    /// The deployment's SQL databases; none until the host configures them.
    pub sql: Arc<Databases>,
    _ticker: Arc<EpochTicker>,
}

impl Runtime {
    /// Configures the engine (pooling allocator, copy-on-write memory, epochs) and the linker.
    pub fn new(limits: Limits) -> anyhow::Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(limits.max_instances)
            .total_memories(limits.max_instances)
            .total_tables(limits.max_instances * 2)
            .total_stacks(limits.max_instances)
            .total_core_instances(limits.max_instances * 4)
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
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("configuring the wasm engine")?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking wasi:http")?;
        route_context::add_to_linker(&mut linker, |state: &mut RequestState| &mut state.route)
            .map_err(anyhow::Error::from)
            .context("linking routelet:route/context")?;
        preview::add_to_linker(&mut linker, |state: &mut RequestState| &mut state.preview)
            .map_err(anyhow::Error::from)
            .context("linking routelet:route/preview")?;
        let page_linker = crate::pages::sandbox::linker(&engine)?;
        key_value::add_to_linker(&mut linker, |state: &mut RequestState| &mut state.key_value)
            .map_err(anyhow::Error::from)
            .context("linking wasi:keyvalue")?;
        sql::add_to_linker(&mut linker, |state: &mut RequestState| &mut state.sql)
            .map_err(anyhow::Error::from)
            .context("linking routelet:route/sql")?;

        let ticker = EpochTicker::start(engine.clone());
        Ok(Self {
            engine,
            linker,
            page_linker,
            limits,
            key_value: Arc::default(),
            sql: Arc::default(),
            _ticker: Arc::new(ticker),
        })
    }
}

impl Runtime {
    /// The same engine, linkers and ticker serving another deployment's data: a deploy never
    /// makes a second engine, so compiled code and the instance pool are shared.
    pub fn with_data(&self, key_value: Arc<Stores>, sql: Arc<Databases>) -> Runtime {
        Runtime {
            engine: self.engine.clone(),
            linker: self.linker.clone(),
            page_linker: self.page_linker.clone(),
            limits: self.limits.clone(),
            key_value,
            sql,
            _ticker: self._ticker.clone(),
        }
    }
}

/// One thread that advances the engine's epoch until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("routelet-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
