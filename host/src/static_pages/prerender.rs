//! The build host: runs every page's paths, props and render in the page sandbox and writes
//! `DIST/static/<path>.html` and `.json`, like `next build`'s static generation.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use wasmtime::component::Component;

use super::paths::{PagePath, PagePattern, file_stem};
use super::rendered::Outcome;
use super::route::PageRoute;
use super::sandbox::PageComponent;
use super::sandbox::{PageLimits, PageSource};
use super::{bindings::Fallback, manifest_fallback};
use crate::config::AppConfig;
use crate::dist::{ManifestOutcome, ManifestPage, ManifestPath, RouteFile};
use crate::engine::Engine;
use crate::engine::limits::Limits;
use crate::factors::{AppFactors, AppSetup, Role, RouteSetup};

/// One line of the build's page table.
#[derive(Debug)]
pub struct PageSummary {
    pub pattern: String,
    pub paths: usize,
    pub bytes: u64,
    /// The shortest `revalidate` among its paths.
    pub revalidate: Option<u32>,
    pub fallback: &'static str,
}

/// Prerenders every page of a staged dist; the first failure stops the build with its page and path.
pub fn prerender(
    dist: &Path,
    pages: &[(String, RouteFile)],
    config: &AppConfig,
    data_dir: &Path,
) -> anyhow::Result<(Vec<ManifestPage>, Vec<PageSummary>)> {
    if pages.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the build host")?;
    let limits = Limits::default();
    let page_limits = PageLimits {
        memory_bytes: limits.memory_bytes,
        timeout: limits.timeout,
    };
    let engine = Engine::new(limits)?;
    let factors = Arc::new(tokio.block_on(AppFactors::open(&AppSetup {
        config,
        dist,
        data_dir,
        dev: false,
    }))?);
    let mut manifest = Vec::new();
    let mut summaries = Vec::new();
    for (pattern, file) in pages {
        let route_factors = factors.route(&RouteSetup {
            pattern,
            file: &file.relative.display().to_string(),
            role: Role::Page,
            config: config.route(pattern),
        })?;
        let source = PageSource {
            pattern,
            file,
            data_dir: Some(dist.join("data")),
            factors: factors.clone(),
            route_factors,
            limits: page_limits,
        };
        let (page, summary) = tokio.block_on(prerender_page(&engine, dist, source))?;
        manifest.push(page);
        summaries.push(summary);
    }
    Ok((manifest, summaries))
}

async fn prerender_page(
    engine: &Engine,
    dist: &Path,
    source: PageSource<'_>,
) -> anyhow::Result<(ManifestPage, PageSummary)> {
    let (pattern, file) = (source.pattern, source.file);
    let name = file.relative.display().to_string();
    let bytes = std::fs::read(&file.path).with_context(|| format!("reading {name}"))?;
    let component = Component::new(&engine.wasm, &bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {name}"))?;
    let component = PageComponent::new(engine, &component, source)?;
    let page = PagePattern::new(pattern);
    let (paths, fallback) = if page.is_dynamic() {
        let result = component.static_paths("build").await.map_err(|e| {
            anyhow::anyhow!("Error occurred prerendering page \"{pattern}\" ({name}): {e}")
        })?;
        page.check_static_paths(result)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?
    } else {
        let path = page
            .match_path(pattern)
            .with_context(|| format!("page {pattern} does not match its own path"))?;
        (vec![path], Fallback::None)
    };
    let route = PageRoute::new(component, fallback, Default::default(), Vec::new(), None);
    let mut written = Vec::new();
    let mut total = 0u64;
    let mut shortest: Option<u32> = None;
    for PagePath { path, params } in paths {
        let rendered = route
            .render(
                &PagePath {
                    path: path.clone(),
                    params,
                },
                None,
                "build",
            )
            .await
            .map_err(anyhow::Error::msg)?;
        if let Some(seconds) = rendered.revalidate {
            shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
        }
        let outcome = match rendered.outcome {
            Outcome::Page { html, props } => {
                let stem = file_stem(&path);
                let html_file = format!("static/{stem}.html");
                let props_file = format!("static/{stem}.json");
                for (file, body) in [(&html_file, &html), (&props_file, &props)] {
                    let target = dist.join(file);
                    if !target.starts_with(dist.join("static")) {
                        bail!("page {pattern}: path {path} does not make a safe file name");
                    }
                    std::fs::create_dir_all(target.parent().expect("below static"))?;
                    std::fs::write(&target, body)
                        .with_context(|| format!("writing {}", target.display()))?;
                }
                total += html.len() as u64;
                ManifestOutcome::Page {
                    html: html_file,
                    props: props_file,
                }
            }
            Outcome::NotFound => ManifestOutcome::NotFound,
            // Next.js refuses it too: a redirect belongs in `[[redirects]]`, or at request time.
            Outcome::Redirect { .. } => bail!(
                "`redirect` can not be returned from getStaticProps during prerendering ({path})\n\
                 See more info here: https://nextjs.org/docs/messages/gsp-redirect-during-prerender"
            ),
        };
        written.push(ManifestPath {
            path,
            revalidate: rendered.revalidate,
            outcome,
        });
    }
    let summary = PageSummary {
        pattern: pattern.to_owned(),
        paths: written.len(),
        bytes: total,
        revalidate: shortest,
        fallback: if page.is_dynamic() {
            manifest_fallback(fallback).name()
        } else {
            "-"
        },
    };
    Ok((
        ManifestPage {
            pattern: pattern.to_owned(),
            fallback: manifest_fallback(fallback),
            paths: written,
        },
        summary,
    ))
}
