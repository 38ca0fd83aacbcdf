//! Static pages: `get-static-paths`, `get-static-props` and `render`, run by the build host into
//! `DIST/static/`, then served from memory with fallback rendering, stale-while-revalidate,
//! on-demand revalidation and Preview Mode. A page never has network.

pub mod bindings;
pub mod cache;
pub mod kept;
pub mod on_disk;
pub mod paths;
pub mod prerender;
pub mod rendered;
pub mod route;
pub mod sandbox;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use wasmtime::component::Component;

use crate::dist::{ManifestFallback, ManifestOutcome, ManifestPage};
use crate::engine::Engine;
use bindings::Fallback;
use kept::PageStore;
use paths::PagePattern;
use rendered::{Outcome, Rendered};
use route::PageRoute;
use sandbox::{PageComponent, PageSource};

pub use sandbox::check_world;

/// Whether a compiled component is a page rather than an HTTP handler.
pub fn is_page(engine: &wasmtime::Engine, component: &Component) -> bool {
    component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name == bindings::STATIC_PAGE_EXPORT)
}

/// Loads a page for serving, with what the build prerendered for it and the store its
/// regenerated paths go to. A page without build output (a dist written by hand) is asked for
/// its paths now, and renders them on demand.
pub fn load(
    engine: &Engine,
    component: &Component,
    source: PageSource<'_>,
    dist_root: &Path,
    built: Option<&ManifestPage>,
    store: Option<Arc<dyn PageStore>>,
) -> anyhow::Result<PageRoute> {
    let (pattern, file) = (source.pattern, source.file.clone());
    let page = PageComponent::new(engine, component, source)?;
    let name = file.relative.display();
    let Some(built) = built else {
        let pattern_info = PagePattern::new(pattern);
        let (fallback, listed) = if pattern_info.is_dynamic() {
            let result = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?
                .block_on(page.static_paths("start"))
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("getStaticPaths of {name}"))?;
            let (paths, fallback) = pattern_info
                .check_static_paths(result)
                .map_err(anyhow::Error::msg)?;
            (fallback, paths.into_iter().map(|p| p.path).collect())
        } else {
            (Fallback::Blocking, HashSet::new())
        };
        return Ok(PageRoute::new(page, fallback, listed, Vec::new(), store));
    };
    let mut prerendered = Vec::new();
    let mut listed = HashSet::new();
    for path in &built.paths {
        listed.insert(path.path.clone());
        let outcome = match &path.outcome {
            ManifestOutcome::Page { html, props } => {
                let read = |file: &str| {
                    std::fs::read(dist_root.join(file))
                        .map(Bytes::from)
                        .with_context(|| format!("reading {file}, prerendered for page {name}"))
                };
                Outcome::Page {
                    html: read(html)?,
                    props: read(props)?,
                }
            }
            ManifestOutcome::NotFound => Outcome::NotFound,
            ManifestOutcome::Redirect { location, status } => Outcome::Redirect {
                location: location.clone(),
                status: *status,
            },
        };
        prerendered.push((
            path.path.clone(),
            Rendered {
                outcome,
                revalidate: path.revalidate,
            },
        ));
    }
    Ok(PageRoute::new(
        page,
        fallback_from_manifest(built.fallback),
        listed,
        prerendered,
        store,
    ))
}

/// A fallback as the manifest records it.
pub fn manifest_fallback(fallback: Fallback) -> ManifestFallback {
    match fallback {
        Fallback::None => ManifestFallback::None,
        Fallback::Render => ManifestFallback::Render,
        Fallback::Blocking => ManifestFallback::Blocking,
    }
}

fn fallback_from_manifest(fallback: ManifestFallback) -> Fallback {
    match fallback {
        ManifestFallback::None => Fallback::None,
        ManifestFallback::Render => Fallback::Render,
        ManifestFallback::Blocking => Fallback::Blocking,
    }
}
