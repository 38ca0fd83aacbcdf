//! `routelet build`: route files → one generated Cargo workspace → components → a dist folder.

mod cargo;
mod javascript;
mod output;
pub mod route_file;
mod toolchain;
mod type_declarations;
mod workspace;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use routelet_router::pattern_from_page_path;

pub use output::BuildReport;

use crate::config::AppConfig;
use crate::dist::{page_path_of, route_table, slash_path};
use crate::factors::{Role, RouteSetup};

/// What `routelet build` was asked to do.
pub struct BuildOptions {
    /// The app folder.
    pub app: PathBuf,
    /// The dist folder to write.
    pub out: PathBuf,
    /// Optimised components (the default) or quick debug builds.
    pub release: bool,
    /// The generated workspace's Cargo target folder.
    pub target_dir: Option<PathBuf>,
    /// The data directory pages read at build time.
    pub data_dir: PathBuf,
}

/// One route file found under `APP/pages`.
#[derive(Debug, Clone)]
pub struct RouteSource {
    /// `pages/api/users/[id].rs`, relative to the app, `/`-separated: what messages name.
    pub relative: String,
    /// Absolute path, for the generated crate's `#[path]`.
    pub path: PathBuf,
    /// Whether the file declares `pub const CONFIG` (or `static`).
    pub has_config: bool,
    /// Set for a static page, with the data functions it declares.
    pub page: Option<route_file::PageFns>,
    /// The HTTP methods it has a function of its own for (`pub fn get`, ...).
    pub methods: Vec<&'static str>,
    /// Whether it exports `pub fn handler`, for the methods without one.
    pub has_handler: bool,
    /// What it is written in.
    pub language: Language,
}

/// The languages route files are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// `.rs`: one crate of the generated workspace.
    Rust,
    /// `.js`, `.mjs`, `.ts`, `.mts`: Next.js's `handler(req, res)`, in the app's JS component.
    JavaScript,
}

/// Builds the app: validate the layout, compile every route, write the dist folder atomically.
pub fn build(options: &BuildOptions) -> anyhow::Result<BuildReport> {
    let started = Instant::now();
    let app = options
        .app
        .canonicalize()
        .with_context(|| format!("app folder {} does not exist", options.app.display()))?;
    let pages = app.join("pages");
    if !pages.is_dir() {
        bail!(
            "{} has no pages/ folder: put route files in pages/api/, e.g. pages/api/hello.rs",
            options.app.display()
        );
    }

    let mut sources = Vec::new();
    for entry in walkdir::WalkDir::new(&pages).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", pages.display()))?;
        let is_rust = entry.path().extension().is_some_and(|e| e == "rs");
        if !entry.file_type().is_file() || !(is_rust || javascript::is_route_file(entry.path())) {
            continue;
        }
        let relative = slash_path(entry.path().strip_prefix(&app).expect("below app"))?;
        let page_path = page_path_of(entry.path(), &pages)?;
        let pattern = pattern_from_page_path(&page_path);
        let is_api = routelet_router::is_api_route(&pattern);
        if !is_rust {
            if !is_api {
                bail!(
                    "route file {relative}: JavaScript and TypeScript files are API routes: put                      them under pages/api/ (pages are written in Rust for now)"
                );
            }
            sources.push((
                pattern,
                RouteSource {
                    relative,
                    path: entry.path().to_path_buf(),
                    has_config: false,
                    page: None,
                    methods: Vec::new(),
                    has_handler: true,
                    language: Language::JavaScript,
                },
            ));
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .with_context(|| format!("reading route file {relative}"))?;
        let place = route_file::Place {
            pattern: &pattern,
            is_api,
            is_dynamic: pattern.contains('['),
        };
        let info =
            route_file::inspect(&text, &place).with_context(|| format!("route file {relative}"))?;
        sources.push((
            pattern,
            RouteSource {
                relative,
                path: entry.path().to_path_buf(),
                has_config: info.has_config,
                page: info.page,
                methods: info.methods,
                has_handler: info.has_handler,
                language: Language::Rust,
            },
        ));
    }
    if sources.is_empty() {
        bail!(
            "{} has no route files: add one, e.g. pages/api/hello.rs",
            pages.display()
        );
    }
    let table = route_table(sources, |s: &RouteSource| s.relative.clone())
        .with_context(|| format!("invalid route layout in {}", pages.display()))?;

    let config = AppConfig::load(&app)?;
    let setups: Vec<RouteSetup<'_>> = table
        .iter()
        .map(|(route, source)| RouteSetup {
            pattern: route.pattern(),
            file: &source.relative,
            role: if source.page.is_some() {
                Role::Page
            } else {
                Role::Route
            },
            config: config.route(route.pattern()),
        })
        .collect();
    crate::app::check::check_config(&config, &setups)?;

    let target_dir = match &options.target_dir {
        Some(dir) => std::path::absolute(dir)?,
        None => app.join(".routelet").join("target"),
    };
    let mut components = std::collections::HashMap::new();
    let (rust, js): (Vec<_>, Vec<_>) = table
        .iter()
        .map(|(route, source)| (route.pattern(), source))
        .partition(|(_, source)| source.language == Language::Rust);
    if !rust.is_empty() {
        toolchain::ensure_wasm_target()?;
        let workspace = workspace::generate(&app, &rust)?;
        let artifacts = cargo::build(&workspace, &target_dir, options.release)?;
        for krate in &workspace.crates {
            components.insert(krate.pattern.clone(), artifacts[&krate.package].clone());
        }
    }
    if !js.is_empty() {
        let js_dir = target_dir.join("routelet-js");
        let work = js_dir.join(workspace::app_key(&app));
        crate::private::create_dir(&work)
            .with_context(|| format!("creating {}", work.display()))?;
        let component = javascript::build(&app, &js, &work, &js_dir.join("components"))?;
        for (pattern, _) in &js {
            components.insert((*pattern).to_owned(), component.clone());
        }
    }
    let report = output::write_dist(&app, &options.out, &table, &components, &options.data_dir)?;
    Ok(report.finished(started.elapsed()))
}
