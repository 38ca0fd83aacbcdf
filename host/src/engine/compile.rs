//! Routes compiled and pre-instantiated once per deploy, so a request only instantiates.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use wasmtime::component::Component;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::compile_cache::{CompileCache, Outcome};
use super::engine::Runtime;
use super::request::RequestState;
use super::route_limits::RouteLimits;
use crate::capabilities::grants::Grants;
use crate::capabilities::outbound_http::RouteOutbound;
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
    /// The stores and databases it may open besides `default`.
    pub grants: Grants,
    /// Its request and instance counters.
    pub metrics: crate::metrics::RouteMetrics,
    /// The memory, time, concurrency and size limits it runs under.
    pub limits: RouteLimits,
    /// Where it may send HTTP requests; `None` denies every one.
    pub outbound: Option<Arc<RouteOutbound>>,
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

/// A component read from disk and checked, not yet compiled.
struct Checked {
    sha256: String,
    bytes: Vec<u8>,
}

/// Reads, checks and compiles every file, in order: all or nothing.
///
/// Each distinct component (by SHA-256) is compiled once, whatever number of routes share it,
/// on all cores at once, and only when the compile cache has no artifact for it.
pub fn compile_all(
    runtime: &Runtime,
    cache: &CompileCache,
    files: &[&RouteFile],
) -> anyhow::Result<Vec<Component>> {
    let mut distinct: HashMap<String, (Checked, &RouteFile)> = HashMap::new();
    let mut shas = Vec::with_capacity(files.len());
    for file in files {
        let checked = read_checked(file)?;
        shas.push(checked.sha256.clone());
        distinct
            .entry(checked.sha256.clone())
            .or_insert((checked, file));
    }
    let jobs: Vec<(Checked, &RouteFile)> = distinct.into_values().collect();
    let compiled = compile_parallel(runtime, cache, &jobs)?;
    Ok(shas.iter().map(|sha| compiled[sha].clone()).collect())
}

impl LoadedRoute {
    /// Pre-instantiates one route's compiled component as a `wasi:http` handler.
    pub fn new(
        runtime: &Runtime,
        component: &Component,
        pattern: &str,
        file: &RouteFile,
        config: Option<&RouteConfig>,
        limits: RouteLimits,
        outbound: Option<Arc<RouteOutbound>>,
    ) -> anyhow::Result<Self> {
        let env = match config {
            Some(config) => config.resolved_env(pattern)?,
            None => Vec::new(),
        };
        let grants = Grants::of(config);
        grants.check(pattern, &runtime.key_value, &runtime.sql)?;
        let pre = proxy_pre(runtime, component, file)?;
        Ok(Self {
            pattern: pattern.into(),
            file: file.clone(),
            pre,
            env,
            grants,
            metrics: crate::metrics::RouteMetrics::new(pattern),
            limits,
            outbound,
        })
    }
}

/// Checks that a component imports only what this host provides and serves `wasi:http`.
pub fn check_world(
    runtime: &Runtime,
    component: &Component,
    file: &RouteFile,
) -> anyhow::Result<()> {
    proxy_pre(runtime, component, file).map(drop)
}

fn proxy_pre(
    runtime: &Runtime,
    component: &Component,
    file: &RouteFile,
) -> anyhow::Result<ProxyPre<RequestState>> {
    let name = file.relative.display();
    let instance_pre = runtime
        .linker
        .instantiate_pre(component)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{name} imports something this host does not provide"))?;
    ProxyPre::new(instance_pre)
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "{name} does not export wasi:http/incoming-handler, so it cannot serve requests"
            )
        })
}

/// Reads a component, checks it against the manifest's hash and that it is a component.
fn read_checked(file: &RouteFile) -> anyhow::Result<Checked> {
    let name = file.relative.display();
    let bytes = std::fs::read(&file.path).with_context(|| format!("reading {name}"))?;
    let sha256 = sha256_hex(&bytes);
    if let Some(expected) = &file.sha256
        && &sha256 != expected
    {
        bail!(
            "{name}: its SHA-256 is {sha256} but manifest.json says {expected}; \
             the file is corrupt or was changed after the build"
        );
    }
    match wasm_kind(&bytes) {
        WasmKind::Component => Ok(Checked { sha256, bytes }),
        WasmKind::CoreModule => bail!(
            "{name} is a core wasm module, not a component: build it for the \
             wasm32-wasip2 target, or wrap it with `wasm-tools component new`"
        ),
        WasmKind::NotWasm => bail!("{name} is not a WebAssembly file"),
    }
}

/// A component's hash and its compiled form.
type Prepared = (String, Component);

/// Compiles (or loads from the cache) each job, one worker per core.
fn compile_parallel(
    runtime: &Runtime,
    cache: &CompileCache,
    jobs: &[(Checked, &RouteFile)],
) -> anyhow::Result<HashMap<String, Component>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<anyhow::Result<Vec<Prepared>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some((checked, file)) = jobs.get(index) else {
                            return Ok(done);
                        };
                        let pre = prepare(runtime, cache, checked, file)?;
                        done.push((checked.sha256.clone(), pre));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a compile worker panicked"))
            .collect()
    });
    let mut compiled = HashMap::with_capacity(jobs.len());
    for result in results {
        compiled.extend(result?);
    }
    Ok(compiled)
}

/// One component, compiled or loaded from the cache.
fn prepare(
    runtime: &Runtime,
    cache: &CompileCache,
    checked: &Checked,
    file: &RouteFile,
) -> anyhow::Result<Component> {
    let name = file.relative.display();
    let started = Instant::now();
    let (component, outcome) = cache
        .load_or_compile(&runtime.engine, &checked.bytes, &checked.sha256)
        .with_context(|| format!("compiling {name}"))?;
    tracing::debug!("{name}: {outcome:?} in {:?}", started.elapsed());
    let metrics = crate::metrics::get();
    match outcome {
        Outcome::Reused => metrics.compile_cache_hits.inc(),
        _ => metrics.compile_cache_misses.inc(),
    };
    Ok(component)
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
