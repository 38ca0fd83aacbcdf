//! Compiling components: read, checked against the manifest, compiled once per content hash
//! (or loaded from the compile cache), and linked against the host's linkers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use wasmtime::component::Component;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::Engine;
use super::compile_cache::{CompileCache, Outcome};
use super::state::GuestState;
use crate::dist::{RouteFile, SeenFiles, file_identity, sha256_hex};

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
    engine: &Engine,
    cache: &CompileCache,
    files: &[&RouteFile],
) -> anyhow::Result<Vec<Component>> {
    let mut distinct: HashMap<String, (Checked, &RouteFile)> = HashMap::new();
    let mut shas = Vec::with_capacity(files.len());
    // Hard links to one file (a build writes an app's JS component once and links it for each
    // route) are read and hashed once: 16 routes of 13 MB each took 230 ms to start otherwise.
    let mut seen = SeenFiles::<String>::default();
    for file in files {
        let identity = file_identity(&file.path);
        if let Some(sha256) = seen.get(identity) {
            check_hash(file, sha256)?;
            shas.push(sha256.clone());
            continue;
        }
        let checked = read_checked(file)?;
        seen.insert(identity, checked.sha256.clone());
        shas.push(checked.sha256.clone());
        distinct
            .entry(checked.sha256.clone())
            .or_insert((checked, file));
    }
    let jobs: Vec<(Checked, &RouteFile)> = distinct.into_values().collect();
    let compiled = compile_parallel(engine, cache, &jobs)?;
    Ok(shas.iter().map(|sha| compiled[sha].clone()).collect())
}

/// Checks that a component imports only what this host provides and serves `wasi:http`.
pub fn check_world(engine: &Engine, component: &Component, file: &RouteFile) -> anyhow::Result<()> {
    proxy_pre(engine, component, file).map(drop)
}

/// Pre-instantiates a component as a `wasi:http` handler: all a request then pays for is
/// instantiating from it.
pub fn proxy_pre(
    engine: &Engine,
    component: &Component,
    file: &RouteFile,
) -> anyhow::Result<ProxyPre<GuestState>> {
    let name = file.relative.display();
    let instance_pre = engine
        .route_linker
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

/// Checks a component's hash against the manifest's.
fn check_hash(file: &RouteFile, sha256: &str) -> anyhow::Result<()> {
    if let Some(expected) = &file.sha256
        && sha256 != expected
    {
        bail!(
            "{}: its SHA-256 is {sha256} but manifest.json says {expected}; \
             the file is corrupt or was changed after the build",
            file.relative.display()
        );
    }
    Ok(())
}

/// Reads a component, checks it against the manifest's hash and that it is a component.
fn read_checked(file: &RouteFile) -> anyhow::Result<Checked> {
    let name = file.relative.display();
    let bytes = std::fs::read(&file.path).with_context(|| format!("reading {name}"))?;
    let sha256 = sha256_hex(&bytes);
    check_hash(file, &sha256)?;
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
    engine: &Engine,
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
                        let pre = prepare(engine, cache, checked, file)?;
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
    engine: &Engine,
    cache: &CompileCache,
    checked: &Checked,
    file: &RouteFile,
) -> anyhow::Result<Component> {
    let name = file.relative.display();
    let started = Instant::now();
    let (component, outcome) = cache
        .load_or_compile(&engine.wasm, &checked.bytes, &checked.sha256)
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
