//! `routelet build APP`: compile every route file to a component and write the dist folder.

use std::path::PathBuf;

use crate::builder::{self, BuildOptions};

/// Compile an app's route files to wasm components and write a dist folder.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// The app folder: `pages/` with route files, optional `public/` and `Cargo.toml`.
    app: PathBuf,

    /// Where to write the dist folder [default: APP/dist].
    #[arg(long)]
    out: Option<PathBuf>,

    /// Build components without optimisations (faster to compile, slower to run).
    #[arg(long)]
    debug: bool,

    /// Cargo target folder for the generated workspace [default: APP/.routelet/target].
    #[arg(long, env = "ROUTELET_TARGET_DIR")]
    target_dir: Option<PathBuf>,

    /// The data directory static pages read (read-only) at build time, as `routelet serve
    /// --data-dir`; the app's migrations are applied to it first.
    #[arg(long, default_value = "./.routelet/data")]
    data_dir: PathBuf,
}

impl BuildArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let out = self.out.clone().unwrap_or_else(|| self.app.join("dist"));
        let options = BuildOptions {
            app: self.app,
            out,
            release: !self.debug,
            target_dir: self.target_dir,
            data_dir: self.data_dir,
        };
        let report = builder::build(&options)?;
        report.print();
        Ok(())
    }
}
