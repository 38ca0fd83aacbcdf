//! Routes compiled and pre-instantiated once per deploy, so a request only instantiates.

use std::sync::Arc;

use anyhow::{Context, bail};
use wasmtime::component::Component;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::engine::Runtime;
use super::request::RequestState;
use crate::config::RouteConfig;
use crate::dist::{RouteFile, sha256_hex};

/// A route ready to serve: its pattern and its pre-instantiated component.
pub struct LoadedRoute {
    /// The pattern, shared with every request's context and log lines.
    pub pattern: Arc<str>,
    /// Where the component came from, for messages.
    pub file: RouteFile,
    /// Instantiating from this is all a request pays for.
    pub pre: ProxyPre<RequestState>,
    /// The environment this route's guest sees, from `routelet.toml`.
    pub env: Vec<(String, String)>,
    /// Key-value stores granted besides `default`, from `routelet.toml`.
    pub key_value_stores: Arc<[String]>,
    /// SQL databases granted besides `default`, from `routelet.toml`.
    pub sql_databases: Arc<[String]>,
}

/// What kind of file a byte string is, judged from its header.
#[derive(Debug, PartialEq)]
enum WasmKind {
    Component,
    CoreModule,
    NotWasm,
}

fn wasm_kind(bytes: &[u8]) -> WasmKind {
    match bytes.get(0..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => WasmKind::Component,
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => WasmKind::CoreModule,
        _ => WasmKind::NotWasm,
    }
}

/// Reads, checks and compiles one component: the manifest's hash, the file's kind.
pub fn compile(runtime: &Runtime, file: &RouteFile) -> anyhow::Result<Component> {
    let name = file.relative.display();
    let bytes = std::fs::read(&file.path).with_context(|| format!("reading {name}"))?;
    if let Some(expected) = &file.sha256 {
        let actual = sha256_hex(&bytes);
        if &actual != expected {
            bail!(
                "{name}: its SHA-256 is {actual} but manifest.json says {expected}; \
                     the file is corrupt or was changed after the build"
            );
        }
    }
    match wasm_kind(&bytes) {
        WasmKind::Component => {}
        WasmKind::CoreModule => bail!(
            "{name} is a core wasm module, not a component: build it for the \
                 wasm32-wasip2 target, or wrap it with `wasm-tools component new`"
        ),
        WasmKind::NotWasm => bail!("{name} is not a WebAssembly file"),
    }
    let component = Component::new(&runtime.engine, &bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {name}"))?;
    Ok(component)
}

impl LoadedRoute {
    /// Pre-instantiates one route's compiled component as a `wasi:http` handler.
    pub fn new(
        runtime: &Runtime,
        component: &Component,
        pattern: &str,
        file: &RouteFile,
        config: Option<&RouteConfig>,
    ) -> anyhow::Result<Self> {
        let env = match config {
            Some(config) => config.resolved_env(pattern)?,
            None => Vec::new(),
        };
        let key_value_stores = config
            .map(|c| c.key_value_stores.clone())
            .unwrap_or_default();
        let sql_databases = config.map(|c| c.sql_databases.clone()).unwrap_or_default();
        runtime.key_value.check_grants(pattern, &key_value_stores)?;
        runtime.sql.check_grants(pattern, &sql_databases)?;
        let name = file.relative.display();
        let instance_pre = runtime
            .linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{name} imports something this host does not provide"))?;
        let pre = ProxyPre::new(instance_pre)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "{name} does not export wasi:http/incoming-handler, so it cannot serve requests"
                )
            })?;
        Ok(Self {
            pattern: pattern.into(),
            file: file.clone(),
            pre,
            env,
            key_value_stores: key_value_stores.into(),
            sql_databases: sql_databases.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_components_from_modules_and_other_files() {
        assert_eq!(wasm_kind(b"\0asm\x0d\0\x01\0rest"), WasmKind::Component);
        assert_eq!(wasm_kind(b"\0asm\x01\0\0\0rest"), WasmKind::CoreModule);
        assert_eq!(wasm_kind(b"#!/bin/sh\n"), WasmKind::NotWasm);
        assert_eq!(wasm_kind(b"\0as"), WasmKind::NotWasm);
    }
}
