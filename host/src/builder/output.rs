//! Writing the dist folder, all at once: a failed build never leaves a half-written dist.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use routelet_router::RouteTable;

use super::RouteSource;
use crate::config::{AppConfig, CONFIG_FILE};
use crate::dist::{
    MANIFEST_FILE, Manifest, ManifestRoute, PREVIEW_SECRET_FILE, RouteFile, sha256_hex,
};
use crate::factors::preview::PreviewConfig;
use crate::factors::sql::migrations::{self, MIGRATIONS_DIR};
use crate::static_pages::prerender::{PageSummary, prerender};

/// What a build wrote, for the summary table.
pub struct BuildReport {
    out: std::path::PathBuf,
    manifest: Manifest,
    public_files: usize,
    pages: Vec<PageSummary>,
    elapsed: Duration,
}

/// Copies the components and public files into a fresh folder, then swaps it in for `out`.
pub fn write_dist(
    app: &Path,
    out: &Path,
    table: &RouteTable<RouteSource>,
    components: &HashMap<String, PathBuf>,
    data_dir: &Path,
) -> anyhow::Result<BuildReport> {
    let out = std::path::absolute(out)?;
    if out.exists() && !out.join(MANIFEST_FILE).is_file() && !is_empty_dir(&out) {
        bail!(
            "refusing to replace {}: it is not empty and has no {MANIFEST_FILE}, so it is not a \
             dist folder written by routelet build",
            out.display()
        );
    }
    let name = out
        .file_name()
        .context("the output folder needs a name")?
        .to_string_lossy();
    let staging = out.with_file_name(format!(".{name}.routelet-staging"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }

    let mut routes = Vec::new();
    // The JavaScript routes of an app share one component: its first copy is written, the
    // others are hard links to it, so the dist holds its bytes once.
    let mut written: HashMap<&Path, PathBuf> = HashMap::new();
    for (route, source) in table.iter() {
        let built = &components[route.pattern()];
        let stem = source
            .relative
            .rsplit_once('.')
            .map_or(&*source.relative, |(stem, _)| stem);
        let file = format!("{stem}.wasm");
        let target = staging.join(&file);
        std::fs::create_dir_all(target.parent().expect("has a parent"))?;
        let bytes = std::fs::read(built).with_context(|| format!("reading {}", built.display()))?;
        let linked = written
            .get(built.as_path())
            .is_some_and(|first| std::fs::hard_link(first, &target).is_ok());
        if !linked {
            std::fs::write(&target, &bytes)
                .with_context(|| format!("writing {}", target.display()))?;
            written.insert(built, target.clone());
        }
        routes.push(ManifestRoute {
            pattern: route.pattern().to_owned(),
            file,
            source: source.relative.clone(),
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
        });
    }
    let public_files = copy_tree(&app.join("public"), &staging.join("public"))?;
    copy_migrations(&app.join(MIGRATIONS_DIR), &staging.join(MIGRATIONS_DIR))?;
    let config = app.join(CONFIG_FILE);
    if config.is_file() {
        std::fs::copy(&config, staging.join(CONFIG_FILE))
            .with_context(|| format!("copying {CONFIG_FILE}"))?;
    }
    let preview: PreviewConfig = AppConfig::load(app)?.section("preview")?;
    if preview.secret.is_none() {
        // A fresh secret per build, as Next.js makes one per build: older preview cookies
        // stop counting when a new build is served.
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        write_private(
            &staging.join(PREVIEW_SECRET_FILE),
            hex::encode(secret).as_bytes(),
        )?;
    }
    copy_tree(&app.join("data"), &staging.join("data"))?;
    let config = AppConfig::load(app)?;
    let page_files: Vec<(String, RouteFile)> = table
        .iter()
        .zip(&routes)
        .filter(|((_, source), _)| source.page.is_some())
        .map(|((route, _), built)| {
            (
                route.pattern().to_owned(),
                RouteFile {
                    relative: built.file.clone().into(),
                    path: staging.join(&built.file),
                    sha256: None,
                },
            )
        })
        .collect();
    let (pages, page_summaries) = prerender(&staging, &page_files, &config, data_dir)?;
    let mut id_input = String::new();
    for route in &routes {
        id_input.push_str(&format!("{} {}\n", route.file, route.sha256));
    }
    let manifest = Manifest {
        build_id: sha256_hex(id_input.as_bytes())[..16].to_owned(),
        routes,
        pages,
    };
    std::fs::write(
        staging.join(MANIFEST_FILE),
        serde_json::to_string_pretty(&manifest)?,
    )?;

    // Swap: the old dist stays whole until the new one is complete.
    let retired = out.with_file_name(format!(".{name}.routelet-old"));
    if retired.exists() {
        std::fs::remove_dir_all(&retired)?;
    }
    if out.exists() {
        std::fs::rename(&out, &retired)
            .with_context(|| format!("moving {} aside", out.display()))?;
    }
    std::fs::rename(&staging, &out)
        .with_context(|| format!("moving the new dist to {}", out.display()))?;
    if retired.exists() {
        std::fs::remove_dir_all(&retired)?;
    }
    Ok(BuildReport {
        out,
        manifest,
        public_files,
        pages: page_summaries,
        elapsed: Duration::ZERO,
    })
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// Copies `APP/migrations/*.sql` as they are; the host applies them before serving.
fn copy_migrations(from: &Path, to: &Path) -> anyhow::Result<()> {
    let files = migrations::files(from)?;
    if files.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for (name, path) in files {
        std::fs::copy(&path, to.join(&name))
            .with_context(|| format!("copying {MIGRATIONS_DIR}/{name}"))?;
    }
    Ok(())
}

/// Copies a folder's regular files (public/, data/), returning how many.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<usize> {
    let mut count = 0;
    if !from.is_dir() {
        return Ok(0);
    }
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let target = to.join(entry.path().strip_prefix(from).expect("below from"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
            count += 1;
        }
    }
    Ok(count)
}

impl BuildReport {
    /// Records how long the whole build took.
    pub fn finished(mut self, elapsed: Duration) -> Self {
        self.elapsed = elapsed;
        self
    }

    /// Prints the route table the way `next build` prints its pages.
    pub fn print(&self) {
        let width = self
            .manifest
            .routes
            .iter()
            .map(|r| r.pattern.len())
            .max()
            .unwrap_or(5)
            .max(5);
        println!("{:<width$}  {:>9}  File", "Route", "Size");
        for route in &self.manifest.routes {
            println!(
                "{:<width$}  {:>9}  {}",
                route.pattern,
                format!("{:.1} kB", route.size as f64 / 1000.0),
                route.file
            );
        }
        if !self.pages.is_empty() {
            let width = self
                .pages
                .iter()
                .map(|p| p.pattern.len())
                .max()
                .unwrap_or(4)
                .max(4);
            println!(
                "\n{:<width$}  {:>5}  {:>9}  {:>10}  Fallback",
                "Page", "Paths", "Size", "Revalidate"
            );
            for page in &self.pages {
                let revalidate = page
                    .revalidate
                    .map(|s| format!("{s} s"))
                    .unwrap_or_else(|| "-".to_owned());
                println!(
                    "{:<width$}  {:>5}  {:>9}  {:>10}  {}",
                    page.pattern,
                    page.paths,
                    format!("{:.1} kB", page.bytes as f64 / 1000.0),
                    revalidate,
                    page.fallback
                );
            }
        }
        println!(
            "\nbuilt {} routes and copied {} public files into {} in {:.1?} (build id {})",
            self.manifest.routes.len(),
            self.public_files,
            self.out.display(),
            self.elapsed,
            self.manifest.build_id
        );
    }
}
