//! The page sandbox, the same at build time and at request time: no network of any kind, the
//! app's `data/` read-only and nothing else of the file system, under the memory and time limits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use routelet_router::{ParamValue, Params};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use super::bindings::{PropsContext, PropsResult, StaticPagePre, StaticPaths};
use crate::capabilities::bindings::context;
use crate::capabilities::grants::Grants;
use crate::capabilities::key_value::{self, KeyValue};
use crate::capabilities::outbound_http::SendFuture;
use crate::capabilities::route_context::{self, RouteContext};
use crate::capabilities::sql::{self, Sql};
use crate::dist::RouteFile;
use crate::runtime::engine::Runtime;
use crate::runtime::guest_log::{GuestOutput, Stream};
use crate::runtime::limits::MemoryLimiter;

/// The data of one page call's `Store`.
pub struct PageState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    network: NoNetwork,
    limiter: MemoryLimiter,
    route: RouteContext,
    key_value: KeyValue,
    sql: Sql,
}

impl WasiView for PageState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PageState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.network,
        }
    }
}

/// Refuses every outgoing request and remembers what was tried, so the error can say so.
#[derive(Default)]
struct NoNetwork {
    attempts: Arc<Mutex<Vec<String>>>,
}

impl WasiHttpHooks for NoNetwork {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        self.attempts
            .lock()
            .expect("attempts")
            .push(request.uri().to_string());
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}

/// Makes the linker every page is instantiated with: WASI, `wasi:http` (to deny it with a
/// clear error code rather than fail to link), and the route context.
pub fn linker(engine: &wasmtime::Engine) -> anyhow::Result<Linker<PageState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(anyhow::Error::from)
        .context("linking WASI for pages")?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(anyhow::Error::from)
        .context("linking wasi:http for pages")?;
    route_context::add_to_linker(&mut linker, |state: &mut PageState| &mut state.route)
        .map_err(anyhow::Error::from)
        .context("linking routelet:route/context for pages")?;
    key_value::add_to_linker(&mut linker, |state: &mut PageState| &mut state.key_value)
        .map_err(anyhow::Error::from)
        .context("linking wasi:keyvalue for pages")?;
    sql::add_to_linker(&mut linker, |state: &mut PageState| &mut state.sql)
        .map_err(anyhow::Error::from)
        .context("linking routelet:route/sql for pages")?;
    Ok(linker)
}

/// Why a page call gave no usable result; the caller adds the page and path.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The page tried to reach the network, which pages never have.
    #[error(
        "it tried to reach {}, but network is not available while building static pages \
         (nor when they are rendered later): read the data directly, from data/ or a store, \
         instead of fetching it, for example from an API route",
        .0.join(", ")
    )]
    Network(Vec<String>),
    /// The page's own function returned an error.
    #[error("{0}")]
    Guest(String),
    /// The page trapped, ran out of memory, or ran out of time.
    #[error("{0}")]
    Failed(String),
}

/// Checks that a page imports only what pages may use and exports the static-page world.
pub fn check_world(
    runtime: &Runtime,
    component: &Component,
    file: &RouteFile,
) -> anyhow::Result<()> {
    page_pre(runtime, component, file).map(drop)
}

fn page_pre(
    runtime: &Runtime,
    component: &Component,
    file: &RouteFile,
) -> anyhow::Result<StaticPagePre<PageState>> {
    let name = file.relative.display();
    let instance_pre = runtime
        .page_linker
        .instantiate_pre(component)
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!("page {name} imports something pages may not use (pages have no network)")
        })?;
    StaticPagePre::new(instance_pre)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{name} does not export routelet:route/static-page"))
}

/// A page component, compiled and pre-instantiated.
pub struct PageComponent {
    /// The page's pattern, e.g. `/blog/[slug]`.
    pub pattern: Arc<str>,
    /// Where it came from, for messages.
    pub file: RouteFile,
    pre: StaticPagePre<PageState>,
    runtime: Arc<Runtime>,
    data_dir: Option<PathBuf>,
    grants: Grants,
    /// Its request and instance counters.
    pub metrics: crate::metrics::RouteMetrics,
}

impl PageComponent {
    /// Pre-instantiates a compiled page; `data_dir` is what the page sees as `data/`.
    pub fn new(
        runtime: &Arc<Runtime>,
        component: &Component,
        pattern: &str,
        file: &RouteFile,
        data_dir: Option<PathBuf>,
        grants: Grants,
    ) -> anyhow::Result<Self> {
        grants.check(pattern, &runtime.key_value, &runtime.sql)?;
        let pre = page_pre(runtime, component, file)?;
        Ok(Self {
            pattern: pattern.into(),
            file: file.clone(),
            pre,
            runtime: runtime.clone(),
            data_dir,
            grants,
            metrics: crate::metrics::RouteMetrics::new(pattern),
        })
    }

    /// Calls `get-static-paths`.
    pub async fn static_paths(&self, log_id: &str) -> Result<StaticPaths, PageError> {
        let call = self.call(Params::default(), log_id, async |page, store| {
            page.routelet_route_page()
                .call_get_static_paths(store)
                .await
        });
        call.await?.map_err(PageError::Guest)
    }

    /// Calls `get-static-props` and then, for props, `render`, in one instance.
    pub async fn props_and_render(
        &self,
        params: Params,
        preview: Option<String>,
        log_id: &str,
    ) -> Result<(PropsResult, Option<String>), PageError> {
        let context = PropsContext {
            params: route_context::wit_params(&params),
            preview: preview.is_some(),
            preview_data: preview,
        };
        let outcome = self.call(params, log_id, async move |page, store| {
            let exports = page.routelet_route_page();
            let props = match exports.call_get_static_props(&mut *store, &context).await? {
                Ok(props) => props,
                Err(message) => return Ok(Err(message)),
            };
            let html = match &props.outcome {
                super::bindings::PropsOutcome::Props(json) => {
                    match exports.call_render(&mut *store, json).await? {
                        Ok(html) => Some(html),
                        Err(message) => return Ok(Err(message)),
                    }
                }
                _ => None,
            };
            Ok(Ok((props, html)))
        });
        outcome.await?.map_err(PageError::Guest)
    }

    /// Runs `body` in a fresh instance under the limits, and names network attempts.
    async fn call<R>(
        &self,
        params: Params,
        log_id: &str,
        body: impl AsyncFnOnce(
            &super::bindings::StaticPage,
            &mut Store<PageState>,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, PageError> {
        let memory_hit = Arc::new(AtomicBool::new(false));
        let log_id: Arc<str> = log_id.into();
        let network = NoNetwork::default();
        let attempts = network.attempts.clone();
        let socket_attempts = network.attempts.clone();
        let mut wasi = WasiCtx::builder();
        wasi.stdout(GuestOutput::new(
            self.pattern.clone(),
            log_id.clone(),
            Stream::Stdout,
        ))
        .stderr(GuestOutput::new(
            self.pattern.clone(),
            log_id,
            Stream::Stderr,
        ))
        .allow_ip_name_lookup(false)
        // Every socket address is refused; the check only records what was tried.
        .socket_addr_check(move |addr, _| {
            socket_attempts
                .lock()
                .expect("attempts")
                .push(format!("socket {addr}"));
            Box::pin(async { false })
        });
        if let Some(dir) = &self.data_dir
            && dir.is_dir()
        {
            for guest_path in ["data", "/data"] {
                wasi.preopened_dir(dir, guest_path, FsPerms::ReadOnly)
                    .map_err(|e| PageError::Failed(format!("opening {}: {e}", dir.display())))?;
            }
        }
        let state = PageState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            network,
            limiter: MemoryLimiter::new(self.runtime.limits.memory_bytes, memory_hit.clone()),
            route: RouteContext::new(self.pattern.clone(), params),
            key_value: KeyValue::new(
                self.runtime.key_value.clone(),
                self.pattern.clone(),
                self.grants.key_value_stores.clone(),
            )
            .read_only(),
            sql: Sql::new(
                self.runtime.sql.clone(),
                self.pattern.clone(),
                self.grants.sql_databases.clone(),
            )
            .read_only(),
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));

        let timeout = self.runtime.limits.timeout;
        self.metrics.instantiations.inc();
        let run = async {
            let page = self.pre.instantiate_async(&mut store).await?;
            body(&page, &mut store).await
        };
        let outcome = tokio::time::timeout(timeout, run).await;
        let attempts = std::mem::take(&mut *attempts.lock().expect("attempts"));
        if !attempts.is_empty() {
            return Err(PageError::Network(attempts));
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let error = anyhow::Error::from(error);
                let prefix = if memory_hit.load(Ordering::Relaxed) {
                    "memory limit reached: "
                } else {
                    ""
                };
                Err(PageError::Failed(format!("{prefix}{error:#}")))
            }
            Err(_) => Err(PageError::Failed(format!("timed out after {timeout:?}"))),
        }
    }
}

/// Turns the WIT params back into the router's, for paths given as params.
pub fn from_wit_params(params: &[context::Param]) -> Params {
    Params(
        params
            .iter()
            .map(|p| {
                let value = match &p.value {
                    context::ParamValue::Single(v) => ParamValue::Single(v.clone()),
                    context::ParamValue::Multiple(v) => ParamValue::Multiple(v.clone()),
                };
                (p.name.clone(), value)
            })
            .collect(),
    )
}
