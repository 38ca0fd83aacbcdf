//! Host capabilities a guest may import, each a *factor*: one folder with its `routelet.toml`
//! section and route keys, its start-up check, how it adds itself to a linker, and its state
//! per deployment, per route and per request. [`registry`] lists them, one line each; nothing
//! else in the host names a factor's imports.
//!
//! Adding a capability: a new folder here that implements [`Factor`], and its line in
//! [`registry`].

pub mod bindings;
pub mod data_dir;
pub mod key_value;
pub mod named;
pub mod outbound_http;
pub mod preview;
pub mod registry;
pub mod route_context;
pub mod sql;

use std::path::Path;
use std::sync::Arc;

use routelet_router::Params;
use wasmtime::component::Linker;

use crate::config::{AppConfig, RouteConfig};
pub use registry::{AppFactors, HasFactors, RequestFactors, RouteFactors};

/// Which kind of guest a factor serves: pages get less than API routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An API route, or any other `wasi:http` handler.
    Route,
    /// A static page, at build time or at request time.
    Page,
}

/// What pages get of a factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAccess {
    /// Not linked for pages: a page that imports it does not load.
    Never,
    /// Linked; the factor's request state refuses every write.
    ReadOnly,
    /// Linked exactly as for API routes.
    Same,
}

/// What a factor sees when a deployment opens.
pub struct AppSetup<'a> {
    /// The app's `routelet.toml`.
    pub config: &'a AppConfig,
    /// The dist folder being loaded (migrations, the build's preview secret).
    pub dist: &'a Path,
    /// Where embedded backends keep their files (`--data-dir`).
    pub data_dir: &'a Path,
    /// Served by `routelet dev`: what differs there as it does under `next dev`.
    pub dev: bool,
}

/// What a factor sees for each route of a deployment.
pub struct RouteSetup<'a> {
    /// The route's pattern, e.g. `/api/users/[id]`.
    pub pattern: &'a str,
    /// Its component, relative to the dist, for messages.
    pub file: &'a str,
    /// API route or page.
    pub role: Role,
    /// Its `[routes."PATTERN"]` section, if any.
    pub config: Option<&'a RouteConfig>,
}

impl RouteSetup<'_> {
    /// The route key `name` as its factor's type; absent is `None`.
    pub fn key<T: serde::de::DeserializeOwned>(&self, name: &str) -> anyhow::Result<Option<T>> {
        match self.config {
            Some(config) => config.key(self.pattern, name),
            None => Ok(None),
        }
    }
}

/// What a factor sees for each request.
pub struct RequestSetup {
    /// The route's pattern, shared with log lines.
    pub pattern: Arc<str>,
    /// The request's id, for log lines.
    pub request_id: Arc<str>,
    /// What the router matched; the route context takes them.
    pub params: Params,
    /// API route or page.
    pub role: Role,
}

/// Amends the guest's response once it has started, e.g. with preview cookies.
pub type ResponseHook = Box<dyn FnOnce(&mut http::HeaderMap) + Send>;

/// One host capability, in its three lifetimes.
pub trait Factor: 'static {
    /// Opened once per deployment: stores, pools, clients, keys.
    type App: Send + Sync + 'static;
    /// Resolved once per route: what it was granted.
    type Route: Send + Sync + 'static;
    /// Made for each request: the store data behind the factor's imports.
    type Request: Send + 'static;

    /// The top-level `routelet.toml` section it reads, e.g. `key_value`.
    const SECTION: Option<&'static str> = None;
    /// The keys it reads in `[routes."PATTERN"]`.
    const ROUTE_KEYS: &'static [&'static str] = &[];
    /// What pages get of it.
    const PAGES: PageAccess;

    /// Checks its section and route keys without opening anything: what `routelet build`
    /// and a deploy refuse before any other work.
    fn check(config: &AppConfig, routes: &[RouteSetup<'_>]) -> anyhow::Result<()> {
        let _ = (config, routes);
        Ok(())
    }

    /// Reads its section and opens its per-deploy state; connects to nothing yet.
    fn open(setup: &AppSetup<'_>) -> anyhow::Result<Self::App>;

    /// Runs once all factors opened and before any guest runs, e.g. migrations.
    fn start(
        app: &Self::App,
        setup: &AppSetup<'_>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        let _ = (app, setup);
        async { Ok(()) }
    }

    /// Reads its route keys and checks them against the deployment, naming the route.
    fn route(app: &Self::App, setup: &RouteSetup<'_>) -> anyhow::Result<Self::Route>;

    /// Adds its imports to a linker; `get` finds its request state in the store data.
    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut Self::Request,
    ) -> wasmtime::Result<()>;

    /// The state of one request of a route.
    fn request(app: &Self::App, route: &Self::Route, setup: &mut RequestSetup) -> Self::Request;

    /// What to do to the response once the guest's response has started; most do nothing.
    fn respond(state: &Self::Request) -> Option<ResponseHook> {
        let _ = state;
        None
    }

    /// Whether the guest still holds something this factor opened for the request (a store, a
    /// connection): such an instance is not kept for another request.
    fn holds_resources(state: &Self::Request) -> bool {
        let _ = state;
        false
    }
}
