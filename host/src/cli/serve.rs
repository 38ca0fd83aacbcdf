//! `routelet serve DIST`: serve a dist folder's routes and public files over HTTP.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::capabilities::data_dir::open_data;
use crate::capabilities::sql::migrations::MIGRATIONS_DIR;
use crate::config::AppConfig;
use crate::dist::Dist;
use crate::runtime::compile_cache::CompileCache;
use crate::runtime::engine::Runtime;
use crate::runtime::limits::Limits;
use crate::server::{self, App};

/// Serve a dist folder: every `pages/**.wasm` at its path, `public/` at the root.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The dist folder written by `routelet build`, or any folder of `pages/**.wasm` components.
    dist: PathBuf,

    /// Address to listen on; port 0 picks a free port (the URL printed says which).
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,

    /// Where the host keeps its data (embedded SQLite stores and databases, compiled components
    /// under compile-cache/); created on first use.
    #[arg(long, default_value = "./.routelet/data")]
    data_dir: PathBuf,
}

impl ServeArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let dist = Dist::open(&self.dist)?;
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let mut runtime = Runtime::new(Limits::default())?;
        let config = AppConfig::load(dist.root())?;
        let (stores, databases) = tokio.block_on(open_data(
            &config,
            &self.data_dir,
            &dist.root().join(MIGRATIONS_DIR),
        ))?;
        runtime.key_value = stores;
        runtime.sql = databases;
        let cache = CompileCache::open(&self.data_dir, &runtime.engine)?;
        let app = Arc::new(App::load(&dist, runtime, &cache)?);
        for (route, loaded) in app.routes().iter() {
            tracing::info!(
                "route {}  {}",
                route.pattern(),
                loaded.file().relative.display()
            );
        }
        tokio.block_on(async move {
            let listener = server::bind(self.listen).await?;
            let addr = listener.local_addr()?;
            let mut stdout = std::io::stdout().lock();
            let build = dist
                .build_id()
                .map(|id| format!(", build {id}"))
                .unwrap_or_default();
            writeln!(
                stdout,
                "routelet: serving {} routes and {} public files from {}{build} at http://{addr} \
                 (ready in {:.0?})",
                app.routes().len(),
                app.public_file_count(),
                self.dist.display(),
                started.elapsed()
            )?;
            stdout.flush()?;
            drop(stdout);
            server::serve(listener, app).await
        })
    }
}
