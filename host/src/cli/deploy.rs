//! `routelet deploy`, `undeploy`, `deployments` and `rollback`: change a running host through
//! its admin API.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::admin_client::{Target, print_deployed};
use crate::deploy::store::Listed;
use crate::deploy::{Deployed, bundle};

/// Deploy a dist folder (or, with --route, one component) to a running host.
#[derive(clap::Args)]
pub struct DeployArgs {
    /// The dist folder to deploy, or the .wasm component with --route.
    path: PathBuf,

    /// Replace or add only this route, e.g. /api/users/[id], with the component PATH.
    #[arg(long)]
    route: Option<String>,

    #[command(flatten)]
    target: Target,
}

impl DeployArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let client = self.target.connect()?;
        let (payload, query): (Vec<u8>, Vec<(&str, &str)>) = match &self.route {
            Some(pattern) => {
                if !self.path.is_file() {
                    bail!("{} is not a .wasm file", self.path.display());
                }
                let wasm = std::fs::read(&self.path)
                    .with_context(|| format!("reading {}", self.path.display()))?;
                (wasm, vec![("pattern", pattern.as_str())])
            }
            None => {
                crate::dist::Dist::open(&self.path)?;
                let packed = bundle::pack(&self.path)?;
                // On stderr, with the progress bar: stdout is the deployment, for scripts.
                eprintln!(
                    "packed {} into a {} byte bundle",
                    self.path.display(),
                    packed.len()
                );
                (packed, vec![])
            }
        };
        let (method, path) = match self.route {
            Some(_) => (reqwest::Method::PUT, "/routes"),
            None => (reqwest::Method::POST, "/deployments"),
        };
        let deployed: Deployed = client.call(method, path, &query, Some(upload(payload)))?;
        print_deployed("deployed", &deployed);
        Ok(())
    }
}

/// A request body that moves a progress bar as it is sent.
fn upload(payload: Vec<u8>) -> reqwest::Body {
    let bar = ProgressBar::new(payload.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let chunks: Vec<bytes::Bytes> = bytes::Bytes::from(payload)
        .chunks(64 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    let stream = futures::stream::iter(chunks.into_iter().map(move |chunk| {
        bar.inc(chunk.len() as u64);
        if bar.position() >= bar.length().unwrap_or(0) {
            bar.finish_and_clear();
        }
        Ok::<_, std::io::Error>(chunk)
    }));
    reqwest::Body::wrap_stream(stream)
}

/// Remove one route from a running host's active deployment.
#[derive(clap::Args)]
pub struct UndeployArgs {
    /// The route to remove, e.g. /api/users/[id].
    #[arg(long)]
    route: String,

    #[command(flatten)]
    target: Target,
}

impl UndeployArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let client = self.target.connect()?;
        let deployed: Deployed = client.call(
            reqwest::Method::DELETE,
            "/routes",
            &[("pattern", &self.route)],
            None,
        )?;
        print_deployed("removed the route; deployed", &deployed);
        Ok(())
    }
}

/// List a running host's deployments, newest first.
#[derive(clap::Args)]
pub struct DeploymentsArgs {
    #[command(flatten)]
    target: Target,
}

impl DeploymentsArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let client = self.target.connect()?;
        let list: Vec<Listed> = client.call(reqwest::Method::GET, "/deployments", &[], None)?;
        println!(
            "   {:<24} {:<20} {:>6}  source",
            "id", "created (UTC)", "routes"
        );
        for listed in list {
            let meta = &listed.meta;
            println!(
                "{} {:<24} {:<20} {:>6}  {}",
                if listed.active { "*" } else { " " },
                meta.id,
                crate::deploy::store::format_time(meta.created),
                meta.routes.len(),
                meta.source
            );
        }
        Ok(())
    }
}

/// Serve an older deployment again: ID, or the one before the active one.
#[derive(clap::Args)]
pub struct RollbackArgs {
    /// The deployment to go back to; `routelet deployments` lists them.
    id: Option<String>,

    #[command(flatten)]
    target: Target,
}

impl RollbackArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let client = self.target.connect()?;
        let query: Vec<(&str, &str)> = self.id.iter().map(|id| ("id", id.as_str())).collect();
        let deployed: Deployed = client.call(reqwest::Method::POST, "/rollback", &query, None)?;
        print_deployed("rolled back to", &deployed);
        Ok(())
    }
}
