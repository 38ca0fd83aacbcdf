//! `routelet dev APP`: build, serve, and rebuild on every change to `pages/`, `public/`,
//! `data/` or `routelet.toml`, swapping the new version in without a restart. A build that
//! fails is shown, and the last good version keeps serving.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use notify::{RecursiveMode, Watcher};

use crate::app::{self, App, Live};
use crate::builder::{self, BuildOptions};
use crate::engine::Engine;
use crate::engine::compile_cache::CompileCache;
use crate::engine::limits::Limits;
use crate::metrics;
use crate::server::{self, Stop};

/// What is not watched at the app folder's top: build outputs and installed packages (a
/// change to those shows as a changed lock file). Hidden entries are skipped too. Everything
/// else is source: `pages/`, `public/`, `data/`, `routelet.toml`, and whatever JS routes import
/// (`lib/`, `package.json`, `tsconfig.json`, ...).
const NOT_WATCHED: &[&str] = &["node_modules", "dist", "target", "routelet-env.d.ts"];

/// Changes closer together than this are one rebuild.
const SETTLE: Duration = Duration::from_millis(200);

/// Build, serve and watch an app; changes are rebuilt and swapped in while it serves.
#[derive(clap::Args)]
pub struct DevArgs {
    /// The app folder: `pages/` with route files, optional `public/`, `data/`, `Cargo.toml`.
    app: PathBuf,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,

    /// Where dev keeps its data (stores, databases, compiled components) [default:
    /// APP/.routelet/data].
    #[arg(long)]
    data_dir: Option<PathBuf>,

    /// Build optimised components, as `routelet build` does (slower to build).
    #[arg(long)]
    release: bool,

    /// Cargo target folder for the generated workspace [default: APP/.routelet/target].
    #[arg(long, env = "ROUTELET_TARGET_DIR")]
    target_dir: Option<PathBuf>,
}

impl DevArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let app_dir = self
            .app
            .canonicalize()
            .with_context(|| format!("app folder {} does not exist", self.app.display()))?;
        let work = app_dir.join(".routelet").join("dev");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| app_dir.join(".routelet").join("data"));
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let base = Arc::new(Engine::new(Limits::default())?);
        let cache = Arc::new(CompileCache::open(&data_dir, &base.wasm)?);
        let builds = Builds {
            app: app_dir.clone(),
            work,
            data_dir,
            release: self.release,
            target_dir: self.target_dir.clone(),
            base,
            cache,
            generation: 0,
        };
        tokio.block_on(builds.serve(self.listen, started))
    }
}

/// Successive builds of one app, each into its own folder, so the version serving is never
/// changed under its requests.
struct Builds {
    app: PathBuf,
    work: PathBuf,
    data_dir: PathBuf,
    release: bool,
    target_dir: Option<PathBuf>,
    base: Arc<Engine>,
    cache: Arc<CompileCache>,
    generation: u32,
}

impl Builds {
    async fn serve(mut self, listen: SocketAddr, started: Instant) -> anyhow::Result<()> {
        let stop = Stop::on_signal();
        let first = match self.next().await {
            Ok(app) => app,
            Err(error) => {
                eprintln!(
                    "error: {error:#}\nroutelet dev: serving no routes until a change builds"
                );
                let empty = self.work.join("empty");
                crate::private::create_dir(&empty)?;
                app::open(&self.base, &self.cache, &self.data_dir, &empty, dev()).await?
            }
        };
        let routes = first.routes().len();
        let live = Live::new(first);
        let listener = server::bind(listen).await?;
        let addr = listener.local_addr()?;
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(
                stdout,
                "routelet dev: serving {routes} routes from {} at http://{addr} (ready in \
                 {:.1?}); watching its sources",
                self.app.display(),
                started.elapsed()
            )?;
            stdout.flush()?;
        }
        let (changes, mut changed) = tokio::sync::mpsc::unbounded_channel();
        let app = self.app.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && !matches!(event.kind, notify::EventKind::Access(_))
                    && event.paths.iter().any(|path| is_watched(&app, path))
                {
                    let _ = changes.send(());
                }
            })
            .context("starting the file watcher")?;
        // The app folder itself, to see public/, data/ or routelet.toml appear.
        watcher
            .watch(&self.app, RecursiveMode::NonRecursive)
            .with_context(|| format!("watching {}", self.app.display()))?;
        let mut watched = HashSet::new();
        watch_new_folders(&mut watcher, &self.app, &mut watched)?;
        let handler = {
            let live = live.clone();
            move |request, client| server::handle_live(live.clone(), request, client)
        };
        let server = tokio::spawn(server::serve(
            listener,
            handler,
            stop.clone(),
            server::ServerLimits::default(),
        ));
        let mut stopped = stop;
        loop {
            tokio::select! {
                Some(()) = changed.recv() => {
                    // Let a burst of saves settle into one rebuild.
                    tokio::time::sleep(SETTLE).await;
                    while changed.try_recv().is_ok() {}
                    // A folder made since (`lib/`, say) is watched from now on.
                    if let Err(error) = watch_new_folders(&mut watcher, &self.app, &mut watched) {
                        eprintln!("routelet dev: {error:#}");
                    }
                    self.rebuild(&live).await;
                }
                () = stopped.wait() => break,
            }
        }
        drop(watcher);
        server.await.context("the server task failed")?
    }

    /// Rebuilds after a change and swaps the result in; a failure keeps the last good one.
    async fn rebuild(&mut self, live: &Live) {
        let started = Instant::now();
        let (hits, misses) = cache_counts();
        match self.next().await {
            Ok(app) => {
                let (hits_after, misses_after) = cache_counts();
                let routes = app.routes().len();
                live.swap(app);
                println!(
                    "routelet dev: rebuilt in {:.1?}: {routes} routes, {} components compiled, \
                     {} reused",
                    started.elapsed(),
                    misses_after - misses,
                    hits_after - hits
                );
                self.remove_old();
            }
            Err(error) => eprintln!(
                "error: {error:#}\nroutelet dev: the last good version keeps serving; fix the \
                 error and save again"
            ),
        }
    }

    /// Builds the app into the next generation's folder and loads it.
    async fn next(&mut self) -> anyhow::Result<App> {
        self.generation += 1;
        let out = self.work.join(format!("gen-{}", self.generation));
        let options = BuildOptions {
            app: self.app.clone(),
            out: out.clone(),
            release: self.release,
            target_dir: self.target_dir.clone(),
            data_dir: self.data_dir.clone(),
        };
        tokio::task::spawn_blocking(move || builder::build(&options))
            .await
            .context("the build task failed")??;
        app::open(&self.base, &self.cache, &self.data_dir, &out, dev()).await
    }

    /// Removes builds older than the previous one, which may still finish a request.
    fn remove_old(&self) {
        for generation in 1..self.generation.saturating_sub(1) {
            let old: &Path = &self.work.join(format!("gen-{generation}"));
            if old.exists() {
                let _ = std::fs::remove_dir_all(old);
            }
        }
    }
}

/// Watches, recursively, each top-level folder of the app's sources not watched yet.
fn watch_new_folders(
    watcher: &mut impl Watcher,
    app: &Path,
    watched: &mut HashSet<PathBuf>,
) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(app).with_context(|| format!("reading {}", app.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() && is_watched(app, &path) && !watched.contains(&path) {
            watcher
                .watch(&path, RecursiveMode::Recursive)
                .with_context(|| format!("watching {}", path.display()))?;
            watched.insert(path);
        }
    }
    Ok(())
}

/// Whether a changed path is part of the app's source, not a build output.
fn is_watched(app: &Path, path: &Path) -> bool {
    path.strip_prefix(app)
        .ok()
        .and_then(|relative| relative.components().next())
        .and_then(|first| first.as_os_str().to_str())
        .is_some_and(|first| !first.starts_with('.') && !NOT_WATCHED.contains(&first))
}

fn cache_counts() -> (u64, u64) {
    let metrics = metrics::get();
    (
        metrics.compile_cache_hits.get(),
        metrics.compile_cache_misses.get(),
    )
}

/// How `routelet dev` opens each build: as `next dev` serves (preview cookies over plain HTTP).
fn dev() -> app::Opening {
    app::Opening {
        dev: true,
        ..Default::default()
    }
}
