//! On-demand revalidation for API routes, against the route table of their own deployment.

use std::pin::Pin;
use std::sync::Arc;

use routelet_router::{Lookup, Normalized, RouteTable, normalize};

use super::Target;
use crate::factors::preview::Revalidate;

/// Regenerates a page of the deployment it belongs to.
pub struct SiteRevalidator {
    /// The deployment's routes.
    pub routes: Arc<RouteTable<Target>>,
}

impl Revalidate for SiteRevalidator {
    fn revalidate<'a>(
        &'a self,
        path: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let clean = match normalize(path, None) {
                Normalized::Clean(clean) => clean.to_owned(),
                Normalized::Redirect(_) => path.trim_end_matches('/').to_owned(),
            };
            match self.routes.lookup(&clean) {
                Lookup::Found(found) => match found.value {
                    Target::Page(page) => page.revalidate(&clean).await,
                    Target::Handler(_) => Err(format!(
                        "Failed to revalidate {path}: it is not a static page"
                    )),
                },
                _ => Err(format!("Failed to revalidate {path}: Invalid response 404")),
            }
        })
    }
}
