//! Loading a checked dist: its factors opened (stores, databases, migrations, secrets), every
//! route pre-instantiated and every page connected to what the build prerendered. All or
//! nothing: an error leaves the running deployment untouched.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use routelet_router::RouteTable;

use super::check::{CheckedApp, check};
use super::revalidate::SiteRevalidator;
use super::{App, HandlerRoute, Target};
use crate::dist::Dist;
use crate::engine::Engine;
use crate::engine::compile::proxy_pre;
use crate::engine::compile_cache::CompileCache;
use crate::factors::preview::Revalidate;
use crate::factors::{AppFactors, AppSetup, Role, RouteSetup};
use crate::request::Handler;
use crate::request::reuse::IdleInstances;
use crate::static_pages::kept::PageStore;
use crate::static_pages::{self, sandbox::PageLimits, sandbox::PageSource};

/// What an app is opened as, besides its dist.
#[derive(Default)]
pub struct Opening {
    /// The stored deployment it serves, if it is one.
    pub deployment: Option<String>,
    /// Where its regenerated pages are kept beyond memory.
    pub pages: Option<Arc<dyn PageStore>>,
    /// Served by `routelet dev`.
    pub dev: bool,
}

/// Checks a dist folder, opens its factors and loads it, the blocking parts off the async
/// threads, then serves what its page store kept of it: the one way an app is loaded, at
/// start and on every deploy.
pub async fn open(
    engine: &Arc<Engine>,
    cache: &Arc<CompileCache>,
    data_dir: &Path,
    dir: &Path,
    opening: Opening,
) -> anyhow::Result<App> {
    let Opening {
        deployment,
        pages,
        dev,
    } = opening;
    let dist = Dist::open(dir)?;
    let (for_check, cache) = (engine.clone(), cache.clone());
    let checked = tokio::task::spawn_blocking(move || check(dist, &for_check, &cache))
        .await
        .context("the compile task failed")??;
    let factors = AppFactors::open(&AppSetup {
        config: &checked.config,
        dist: dir,
        data_dir,
        dev,
    })
    .await?;
    let engine = engine.clone();
    let app = tokio::task::spawn_blocking(move || {
        load(checked, engine, Arc::new(factors), deployment, pages)
    })
    .await
    .context("the loading task failed")??;
    // Without its kept pages the app still serves what the build made; the store is asked
    // again on the next change.
    match app.adopt_kept_pages().await {
        Ok(0) => {}
        Ok(taken) => tracing::info!("serving regenerated pages kept from before: {taken}"),
        Err(error) => tracing::warn!("the kept regenerated pages are not served: {error:#}"),
    }
    Ok(app)
}

/// Connects a checked dist to its factors and pre-instantiates every route; pages keep what
/// they regenerate in `pages`.
pub fn load(
    checked: CheckedApp,
    engine: Arc<Engine>,
    factors: Arc<AppFactors>,
    deployment: Option<String>,
    pages: Option<Arc<dyn PageStore>>,
) -> anyhow::Result<App> {
    let CheckedApp {
        dist,
        config,
        routes,
        public,
        app_limits,
        custom,
    } = checked;
    // Pages run under the app's limits; API routes under their own.
    let page_limits = PageLimits {
        memory_bytes: app_limits.memory_bytes,
        timeout: app_limits.timeout,
    };
    let mut loaded = Vec::with_capacity(routes.len());
    for route in routes {
        let pattern = route.pattern.as_str();
        let name = route.file.relative.display().to_string();
        let route_config = config.route(pattern);
        let route_factors = factors.route(&RouteSetup {
            pattern,
            file: &name,
            role: route.role,
            config: route_config,
        })?;
        let target = match route.role {
            Role::Page => Target::Page(Arc::new(static_pages::load(
                &engine,
                &route.component,
                PageSource {
                    pattern,
                    file: &route.file,
                    data_dir: Some(dist.root().join("data")),
                    factors: factors.clone(),
                    route_factors,
                    limits: page_limits,
                },
                dist.root(),
                dist.page(pattern),
                pages.clone(),
            )?)),
            Role::Route => {
                let env = match route_config {
                    Some(config) => config.resolved_env(pattern)?,
                    None => Vec::new(),
                };
                let handler = Handler {
                    pattern: pattern.into(),
                    pre: proxy_pre(&engine, &route.component, &route.file)?,
                    env,
                    limits: route.limits,
                    metrics: crate::metrics::RouteMetrics::new(pattern),
                    factors: route_factors,
                    idle: route
                        .reusable
                        .then(|| Arc::new(IdleInstances::new(engine.limits.max_instances))),
                };
                Target::Handler(Box::new(HandlerRoute {
                    file: route.file,
                    handler,
                }))
            }
        };
        loaded.push((route.pattern, target));
    }
    let routes = Arc::new(RouteTable::new(loaded).context("route table changed while loading")?);
    let revalidator: Arc<dyn Revalidate> = Arc::new(SiteRevalidator {
        routes: routes.clone(),
    });
    factors
        .preview
        .set_revalidator(Arc::downgrade(&revalidator));
    Ok(App {
        engine,
        factors,
        routes,
        public,
        build_id: dist.build_id().map(str::to_owned),
        deployment_header: deployment
            .as_deref()
            .and_then(|id| http::HeaderValue::from_str(id).ok()),
        deployment,
        custom,
        pages,
        _revalidator: revalidator,
    })
}
