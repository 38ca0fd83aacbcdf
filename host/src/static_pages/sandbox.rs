//! The page sandbox, the same at build time and at request time: no network of any kind, the
//! app's `data/` read-only and nothing else of the file system, under the memory and time limits.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use routelet_router::{ParamValue, Params};
use wasmtime::Store;
use wasmtime::component::Component;
use wasmtime_wasi::{FsPerms, WasiCtx};

use super::bindings::{PropsContext, PropsResult, StaticPagePre, StaticPaths};
use crate::dist::RouteFile;
use crate::engine::Engine;
use crate::engine::limits::MemoryLimiter;
use crate::engine::state::GuestState;
use crate::factors::bindings::context;
use crate::factors::{AppFactors, RequestSetup, Role, RouteFactors, route_context};
use crate::request::guest_log::{GuestOutput, Stream};

/// The memory and time a page call gets: the app's `[limits]`, handed in when it loads.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    /// Linear memory per instance.
    pub memory_bytes: usize,
    /// One call, from instantiation to its result.
    pub timeout: std::time::Duration,
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
pub fn check_world(engine: &Engine, component: &Component, file: &RouteFile) -> anyhow::Result<()> {
    page_pre(engine, component, file).map(drop)
}

fn page_pre(
    engine: &Engine,
    component: &Component,
    file: &RouteFile,
) -> anyhow::Result<StaticPagePre<GuestState>> {
    let name = file.relative.display();
    let instance_pre = engine
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
    pre: StaticPagePre<GuestState>,
    wasm: wasmtime::Engine,
    factors: Arc<AppFactors>,
    route_factors: RouteFactors,
    data_dir: Option<PathBuf>,
    limits: PageLimits,
    /// Its request and instance counters.
    pub metrics: crate::metrics::RouteMetrics,
}

/// Where a page comes from and what it runs with.
pub struct PageSource<'a> {
    /// The page's pattern.
    pub pattern: &'a str,
    /// Its component file.
    pub file: &'a RouteFile,
    /// What the page sees as `data/`.
    pub data_dir: Option<PathBuf>,
    /// The deployment's factors.
    pub factors: Arc<AppFactors>,
    /// What the factors granted this page.
    pub route_factors: RouteFactors,
    /// Its memory and time.
    pub limits: PageLimits,
}

impl PageComponent {
    /// Pre-instantiates a compiled page.
    pub fn new(
        engine: &Engine,
        component: &Component,
        source: PageSource<'_>,
    ) -> anyhow::Result<Self> {
        let pre = page_pre(engine, component, source.file)?;
        Ok(Self {
            pattern: source.pattern.into(),
            file: source.file.clone(),
            pre,
            wasm: engine.wasm.clone(),
            factors: source.factors,
            route_factors: source.route_factors,
            data_dir: source.data_dir,
            limits: source.limits,
            metrics: crate::metrics::RouteMetrics::new(source.pattern),
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
            &mut Store<GuestState>,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, PageError> {
        let log_id: Arc<str> = log_id.into();
        let factors = self.factors.request(
            &self.route_factors,
            RequestSetup {
                pattern: self.pattern.clone(),
                request_id: log_id.clone(),
                params,
                role: Role::Page,
            },
        );
        let attempts = factors
            .outbound_http
            .attempts()
            .expect("a page's outbound state records attempts");
        let socket_attempts = attempts.clone();
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
        let limiter = MemoryLimiter::new(self.limits.memory_bytes);
        let mut store = GuestState::store(&self.wasm, wasi.build(), limiter, factors);
        let memory_hit = store.data().memory_hit();

        let timeout = self.limits.timeout;
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
                let prefix = if memory_hit.load(std::sync::atomic::Ordering::Relaxed) {
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
