//! The data of one guest's `Store`, the same type for API routes and pages: WASI, `wasi:http`
//! with the outbound factor as its hooks, the memory limiter, and every factor's request state.

use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::limits::MemoryLimiter;
use crate::factors::{HasFactors, RequestFactors};

/// One guest call's store data.
pub struct GuestState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    limiter: MemoryLimiter,
    /// Every factor's state of this request.
    pub factors: RequestFactors,
}

impl GuestState {
    /// A store for one guest call, under `limiter` and yielding at every epoch tick.
    pub fn store(
        engine: &wasmtime::Engine,
        wasi: WasiCtx,
        limiter: MemoryLimiter,
        factors: RequestFactors,
    ) -> Store<GuestState> {
        let state = GuestState {
            table: ResourceTable::new(),
            wasi,
            http: WasiHttpCtx::new(),
            limiter,
            factors,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
        store
    }
}

impl GuestState {
    /// Readies an instance's store for its next request: that request's factors and a fresh
    /// memory limiter (the instance's memory stays under the same limit), a fresh `wasi:http`
    /// context, and yielding at the next epoch tick again.
    pub fn renew(store: &mut Store<GuestState>, limiter: MemoryLimiter, factors: RequestFactors) {
        let state = store.data_mut();
        state.limiter = limiter;
        state.factors = factors;
        state.http = WasiHttpCtx::new();
        store.set_epoch_deadline(1);
    }

    /// True once the guest has handed back every resource the host gave it: nothing of a
    /// request it served (a body, a stream, a store's handle) can reach the next one.
    pub fn holds_nothing(&self) -> bool {
        self.table.is_empty() && !self.factors.hold_resources()
    }

    /// Set once the memory limit refused growth.
    pub fn memory_hit(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        self.limiter.hit()
    }
}

impl HasFactors for GuestState {
    fn factors(&mut self) -> &mut RequestFactors {
        &mut self.factors
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.factors.outbound_http,
        }
    }
}
