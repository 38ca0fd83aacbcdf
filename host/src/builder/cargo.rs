//! Running cargo on the generated workspace, and tying its messages back to route files.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde::Deserialize;

use super::toolchain::TARGET;
use super::workspace::Workspace;

/// Each route's package name → its built component.
pub type Artifacts = HashMap<String, PathBuf>;

#[derive(Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
enum CargoMessage {
    CompilerArtifact {
        target: Target,
        filenames: Vec<PathBuf>,
    },
    CompilerMessage {
        target: Target,
        message: Diagnostic,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Target {
    name: String,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

/// Builds every route crate for [`TARGET`]; on failure names each route file that failed.
pub fn build(workspace: &Workspace, target_dir: &Path, release: bool) -> anyhow::Result<Artifacts> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace.root)
        .args([
            "build",
            "--workspace",
            "--target",
            TARGET,
            "--message-format",
            "json",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if release {
        command.arg("--release");
    }
    let mut child = command
        .spawn()
        .context("running cargo: is Rust installed? (https://rustup.rs)")?;

    let routes: HashMap<String, &str> = workspace
        .crates
        .iter()
        .map(|c| (c.lib_name(), c.source.relative.as_str()))
        .collect();
    let mut artifacts = Artifacts::new();
    let mut failed: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(message) = serde_json::from_str::<CargoMessage>(&line) else {
            continue;
        };
        match message {
            CargoMessage::CompilerArtifact { target, filenames } => {
                if let (Some(_), Some(wasm)) = (
                    routes.get(&target.name),
                    filenames
                        .into_iter()
                        .find(|f| f.extension().is_some_and(|e| e == "wasm")),
                ) {
                    artifacts.insert(target.name, wasm);
                }
            }
            CargoMessage::CompilerMessage { target, message } => {
                let Some(rendered) = message.rendered else {
                    continue;
                };
                match routes.get(&target.name) {
                    Some(route) if message.level == "error" => {
                        failed.entry(route).or_default().push(rendered);
                    }
                    Some(route) if message.level == "warning" => {
                        eprintln!("warning in route file {route}:\n{rendered}");
                    }
                    _ if message.level == "error" => eprintln!("{rendered}"),
                    _ => {}
                }
            }
            CargoMessage::Other => {}
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !failed.is_empty() {
        let mut text = String::new();
        for (route, errors) in &failed {
            text.push_str(&format!("route file {route} does not compile:\n"));
            for error in errors {
                text.push_str(error);
            }
        }
        eprint!("{text}");
        let names: Vec<&str> = failed.keys().copied().collect();
        bail!(
            "build failed: {} route file(s) do not compile: {}",
            names.len(),
            names.join(", ")
        );
    }
    if !status.success() {
        bail!(
            "cargo build of the generated workspace {} failed ({status}); see cargo's message above",
            workspace.root.display()
        );
    }
    for krate in &workspace.crates {
        if !artifacts.contains_key(&krate.lib_name()) {
            bail!(
                "cargo built no component for route file {}",
                krate.source.relative
            );
        }
    }
    // Key by package name for the caller.
    Ok(workspace
        .crates
        .iter()
        .filter_map(|c| {
            artifacts
                .remove(&c.lib_name())
                .map(|p| (c.package.clone(), p))
        })
        .collect())
}
