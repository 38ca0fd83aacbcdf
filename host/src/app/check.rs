//! Checking a dist without changing anything: the route layout (Next.js rules), its config,
//! public files against pages, every component's hash, that it compiles (or is in the compile
//! cache), and that it exports a world this host serves.

use std::time::Instant;

use anyhow::{Context, bail};
use routelet_router::is_api_route;
use wasmtime::component::Component;

use super::custom_routes::CustomRoutes;
use super::public_files::PublicFiles;
use crate::config::AppConfig;
use crate::dist::{Dist, RouteFile};
use crate::engine::Engine;
use crate::engine::compile;
use crate::engine::compile_cache::CompileCache;
use crate::factors::{Role, RouteSetup, registry};
use crate::request::limits::{LimitsConfig, RouteLimits};
use crate::static_pages;

/// The section and route key the limits read; every other one belongs to a factor.
const LIMITS: &str = "limits";

/// A dist that passed every check and compiled, not yet connected to its data.
pub struct CheckedApp {
    /// The dist folder.
    pub dist: Dist,
    /// Its `routelet.toml`.
    pub config: AppConfig,
    /// Its routes, in match order.
    pub routes: Vec<CheckedRoute>,
    /// Its public files.
    pub public: PublicFiles,
    /// `[limits]`: what pages run under.
    pub app_limits: RouteLimits,
    /// `redirects`, `rewrites`, `headers`, `basePath` and `trailingSlash`.
    pub custom: CustomRoutes,
}

/// One route of a checked dist.
pub struct CheckedRoute {
    /// Its pattern, e.g. `/api/users/[id]`.
    pub pattern: String,
    /// Its component file.
    pub file: RouteFile,
    /// Its compiled component.
    pub component: Component,
    /// Whether one instance may serve several of its requests (the component says so).
    pub reusable: bool,
    /// API route or page.
    pub role: Role,
    /// The limits it runs under, when it is an API route.
    pub limits: RouteLimits,
}

impl CheckedApp {
    /// The route patterns in match order.
    pub fn patterns(&self) -> Vec<String> {
        self.routes.iter().map(|r| r.pattern.clone()).collect()
    }
}

/// Checks a dist in full; nothing is opened or changed.
pub fn check(dist: Dist, engine: &Engine, cache: &CompileCache) -> anyhow::Result<CheckedApp> {
    let files = dist
        .route_table()
        .with_context(|| format!("invalid route layout in {}", dist.root().display()))?;
    let public = PublicFiles::scan(&dist.public_dir())?;
    let config = AppConfig::load(dist.root())?;
    check_known(&config, files.iter().map(|(route, _)| route.pattern()))?;
    for (route, file) in files.iter() {
        if !route.is_dynamic() && public.get(route.pattern()).is_some() {
            bail!(
                "A conflicting public file and page file was found for path {} \
                 (public{} and {})",
                route.pattern(),
                route.pattern(),
                file.relative.display()
            );
        }
    }
    let started = Instant::now();
    let route_files: Vec<&RouteFile> = files.iter().map(|(_, file)| file).collect();
    let components = compile::compile_all(engine, cache, &route_files)?;
    tracing::info!(
        "compile cache {}: {} (compiled in {:.0?})",
        cache.dir().display(),
        cache.summary(),
        started.elapsed()
    );
    let roles: Vec<Role> = files
        .iter()
        .zip(&components)
        .map(|((route, _), compiled)| {
            let page = !is_api_route(route.pattern())
                && static_pages::is_page(&engine.wasm, &compiled.component);
            if page { Role::Page } else { Role::Route }
        })
        .collect();
    let names: Vec<String> = files
        .iter()
        .map(|(_, file)| file.relative.display().to_string())
        .collect();
    let setups: Vec<RouteSetup<'_>> = files
        .iter()
        .zip(&roles)
        .zip(&names)
        .map(|(((route, _), role), name)| RouteSetup {
            pattern: route.pattern(),
            file: name,
            role: *role,
            config: config.route(route.pattern()),
        })
        .collect();
    let custom = check_config(&config, &setups)?;
    let app_limits = RouteLimits::app(&config.section(LIMITS)?, &engine.limits)?;
    let mut routes = Vec::with_capacity(components.len());
    for (((route, file), compiled), setup) in files.iter().zip(components).zip(&setups) {
        let compile::Compiled {
            component,
            reusable,
        } = compiled;
        let pattern = route.pattern();
        let limits = app_limits.route(pattern, route_limits(setup)?.as_ref(), &engine.limits)?;
        match setup.role {
            Role::Page => static_pages::check_world(engine, &component, file)?,
            Role::Route => compile::check_world(engine, &component, file)?,
        }
        routes.push(CheckedRoute {
            pattern: pattern.to_owned(),
            file: file.clone(),
            component,
            reusable,
            role: setup.role,
            limits,
        });
    }
    Ok(CheckedApp {
        dist,
        config,
        routes,
        public,
        app_limits,
        custom,
    })
}

/// Checks `routelet.toml` against the routes it configures, opening nothing: sections and keys
/// no one reads, routes that do not exist, every factor's own check and the custom routes,
/// which it returns checked. `routelet build` runs the same check.
pub fn check_config(config: &AppConfig, routes: &[RouteSetup<'_>]) -> anyhow::Result<CustomRoutes> {
    check_known(config, routes.iter().map(|r| r.pattern))?;
    config.section::<LimitsConfig>(LIMITS)?;
    let custom = CustomRoutes::from_config(config)?;
    for route in routes {
        route_limits(route)?;
    }
    registry::check(config, routes)?;
    Ok(custom)
}

/// Refuses sections and route keys no one reads, and routes that do not exist.
fn check_known<'a>(
    config: &AppConfig,
    patterns: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<()> {
    let sections = [
        registry::sections(),
        vec![LIMITS],
        super::custom_routes::SECTIONS.to_vec(),
    ]
    .concat();
    let keys = [registry::route_keys(), vec![LIMITS]].concat();
    config.check_known(&sections, &keys, patterns)
}

/// A route's own `limits`, as written.
fn route_limits(setup: &RouteSetup<'_>) -> anyhow::Result<Option<LimitsConfig>> {
    setup.key(LIMITS)
}
