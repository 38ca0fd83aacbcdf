//! The deployment being served, swapped atomically: a request keeps the version it started on
//! until its response is complete, and new requests see only the newest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;

use super::App;

/// The active app behind one atomic pointer.
pub struct Live {
    app: ArcSwap<App>,
    name_deployment: AtomicBool,
}

impl Live {
    /// Starts serving `app`.
    pub fn new(app: App) -> Arc<Self> {
        Arc::new(Self {
            app: ArcSwap::from_pointee(app),
            name_deployment: AtomicBool::new(true),
        })
    }

    /// Whether responses carry `x-routelet-deployment`, the deployment that answered them.
    pub fn names_deployment(&self) -> bool {
        self.name_deployment.load(Ordering::Relaxed)
    }

    /// Turns the `x-routelet-deployment` response header on or off.
    pub fn set_names_deployment(&self, on: bool) {
        self.name_deployment.store(on, Ordering::Relaxed);
    }

    /// The app new requests go to.
    pub fn current(&self) -> Arc<App> {
        self.app.load_full()
    }

    /// Makes `app` the one new requests go to; returns the one it replaced, which lives on
    /// until its last request is done.
    pub fn swap(&self, app: App) -> Arc<App> {
        self.app.swap(Arc::new(app))
    }
}
