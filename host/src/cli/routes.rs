//! `routelet routes DIST`: the route table in match order, without compiling anything.

use std::path::PathBuf;

use anyhow::Context;

use crate::dist::Dist;

/// Print the route table of a dist folder in match order.
#[derive(clap::Args)]
pub struct RoutesArgs {
    /// The dist folder written by `routelet build` (or any folder with `pages/**.wasm`).
    dist: PathBuf,
}

impl RoutesArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let dist = Dist::open(&self.dist)?;
        let table = dist
            .route_table()
            .with_context(|| format!("invalid route layout in {}", self.dist.display()))?;
        let width = table
            .iter()
            .map(|(route, _)| route.pattern().len())
            .max()
            .unwrap_or(0);
        for (route, file) in table.iter() {
            println!("{:<width$}  {}", route.pattern(), file.relative.display());
        }
        Ok(())
    }
}
