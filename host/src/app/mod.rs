//! One deployment's lifetime: a dist is checked ([`check`]), loaded with its factors' state
//! ([`load`]), served behind the [`Live`] pointer, and swapped whole by the next deploy.

pub mod check;
pub mod custom_routes;
mod kept_pages;
pub mod live;
pub mod load;
pub mod public_files;
mod revalidate;

use std::sync::Arc;

use routelet_router::RouteTable;

use crate::dist::RouteFile;
use crate::engine::Engine;
use crate::factors::AppFactors;
use crate::factors::preview::Revalidate;
use crate::request::Handler;
use crate::static_pages::kept::PageStore;
use crate::static_pages::route::PageRoute;
pub use check::{CheckedApp, CheckedRoute, check};
pub use live::Live;
pub use load::{Opening, load, open};
use public_files::PublicFiles;

/// What a path of the app resolves to.
pub enum Target {
    /// An API route or any other `wasi:http` component.
    Handler(Box<HandlerRoute>),
    /// A static page.
    Page(Arc<PageRoute>),
}

/// An API route (or other `wasi:http` component), ready to serve.
pub struct HandlerRoute {
    /// Where the component came from, for messages.
    pub file: RouteFile,
    /// What a request runs.
    pub handler: Handler,
}

impl Target {
    /// The component file, for the start-up log.
    pub fn file(&self) -> &RouteFile {
        match self {
            Target::Handler(route) => &route.file,
            Target::Page(page) => &page.component.file,
        }
    }
}

/// One deployment being served: its routes, compiled, its factors' state and its public files.
pub struct App {
    /// The process's engine, shared by every deployment.
    pub engine: Arc<Engine>,
    /// Every factor's state of this deployment.
    pub factors: Arc<AppFactors>,
    /// The route table, in match order.
    pub routes: Arc<RouteTable<Target>>,
    /// Files under `public/`.
    pub public: PublicFiles,
    /// The build id from the manifest.
    pub build_id: Option<String>,
    /// The deployment this app serves, when it came from the host's deployment store.
    pub deployment: Option<String>,
    /// That deployment as the `x-routelet-deployment` header's value, made once.
    pub deployment_header: Option<http::HeaderValue>,
    /// `[[redirects]]` and `[[headers]]` of its `routelet.toml`.
    pub custom: custom_routes::CustomRoutes,
    /// Where its regenerated pages are kept beyond this host's memory.
    pub pages: Option<Arc<dyn PageStore>>,
    /// Kept alive here: factors hold it weakly.
    _revalidator: Arc<dyn Revalidate>,
}

impl App {
    /// The build id from the manifest, for the start-up banner.
    pub fn build_id(&self) -> Option<&str> {
        self.build_id.as_deref()
    }

    /// The deployment this app serves, when it came from the host's deployment store.
    pub fn deployment(&self) -> Option<&str> {
        self.deployment.as_deref()
    }

    /// The routes in match order, for the start-up banner.
    pub fn routes(&self) -> &RouteTable<Target> {
        &self.routes
    }

    /// How many public files are served.
    pub fn public_file_count(&self) -> usize {
        self.public.len()
    }
}
