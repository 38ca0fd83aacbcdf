//! The client side of the admin API, shared by `deploy`, `undeploy`, `deployments` and
//! `rollback`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

use crate::admin::token::TOKEN_FILE;
use crate::deploy::Deployed;

/// Where and how to reach a host's admin API.
#[derive(clap::Args)]
pub struct Target {
    /// The host's admin URL, e.g. http://127.0.0.1:3001.
    #[arg(long = "to", value_name = "URL")]
    pub url: String,

    /// A file holding the admin token. Default: $ROUTELET_ADMIN_TOKEN, else the token a local
    /// host generated in ./.routelet/data/admin-token.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

impl Target {
    /// A client for the admin API, with its token and a runtime to drive it.
    pub fn connect(&self) -> anyhow::Result<AdminClient> {
        let token = match (&self.token_file, std::env::var("ROUTELET_ADMIN_TOKEN")) {
            (Some(file), _) => read(file)?,
            (None, Ok(token)) if !token.trim().is_empty() => token.trim().to_owned(),
            _ => {
                let local = PathBuf::from("./.routelet/data").join(TOKEN_FILE);
                if !local.is_file() {
                    bail!(
                        "no admin token: pass --token-file, or set ROUTELET_ADMIN_TOKEN \
                         (the host prints where its token is when it starts)"
                    );
                }
                read(&local)?
            }
        };
        let url = self.url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--to {url}: give the admin URL with its scheme, e.g. http://127.0.0.1:3001");
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        Ok(AdminClient {
            url,
            token,
            http: reqwest::Client::new(),
            runtime,
        })
    }
}

fn read(file: &std::path::Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(file)
        .with_context(|| format!("reading the admin token {}", file.display()))?
        .trim()
        .to_owned())
}

/// A connection to one host's admin API.
pub struct AdminClient {
    url: String,
    token: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl AdminClient {
    /// Sends a request built from `path` and reads a JSON answer, or the host's reason.
    pub fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<reqwest::Body>,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.url);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.body(body);
        }
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .with_context(|| format!("cannot reach the admin API at {url}"))?;
            let status = response.status();
            let bytes = response
                .bytes()
                .await
                .context("reading the host's answer")?;
            if !status.is_success() {
                let reason = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
                bail!("the host refused ({status}): {reason}");
            }
            serde_json::from_slice(&bytes)
                .with_context(|| format!("the host's answer to {method} {path} is not JSON"))
        })
    }
}

/// Prints a deploy's outcome: the id, then the route table.
pub fn print_deployed(what: &str, deployed: &Deployed) {
    println!(
        "{what} {} in {} ms; {} routes:",
        deployed.id,
        deployed.millis,
        deployed.routes.len()
    );
    let width = deployed
        .routes
        .iter()
        .map(|r| r.pattern.len())
        .max()
        .unwrap_or(0);
    for route in &deployed.routes {
        println!("  {:width$}  {}", route.pattern, route.file);
    }
    if let Some(fleet) = &deployed.fleet {
        println!(
            "generation {} committed; prepared on {}",
            fleet.generation,
            fleet.prepared.join(", ")
        );
        if !fleet.lagging.is_empty() {
            println!(
                "still preparing (they switch when done): {}",
                fleet.lagging.join(", ")
            );
        }
    }
}
