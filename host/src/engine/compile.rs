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

/// The custom section a component carries when an instance of it may serve more than one
/// request of one route (Routelet's JavaScript build writes it: js-sdk/build.mjs), and what
/// the section says.
const REUSE_SECTION: (&str, &[u8]) = ("routelet:instance-reuse", b"route");

/// Whether the component's own top-level custom sections ask for instance reuse; anything that
/// does not parse asks for nothing (compiling it reports what is wrong).
fn asks_for_reuse(bytes: &[u8]) -> bool {
    use wasmparser::Payload;
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::Version { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::CustomSection(section))
                if depth == 1 && (section.name(), section.data()) == REUSE_SECTION =>
            {
                return true;
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// A route file's compiled component, and whether one instance may serve several of the
/// route's requests.
#[derive(Clone)]
pub struct Compiled {
    /// What instances are made from.
    pub component: Component,
    /// Set when the component carries the reuse section.
    pub reusable: bool,
}

/// Reads, checks and compiles every file, in order: all or nothing.
///
/// Each distinct component (by SHA-256) is compiled once, whatever number of routes share it,
/// on all cores at once, and only when the compile cache has no artifact for it.
pub fn compile_all(
    engine: &Engine,
    cache: &CompileCache,
    files: &[&RouteFile],
) -> anyhow::Result<Vec<Compiled>> {
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
    let reusable: HashMap<String, bool> = distinct
        .iter()
        .map(|(sha, (checked, _))| (sha.clone(), asks_for_reuse(&checked.bytes)))
        .collect();
    let jobs: Vec<(Checked, &RouteFile)> = distinct.into_values().collect();
    let compiled = compile_parallel(engine, cache, &jobs)?;
    Ok(shas
        .iter()
        .map(|sha| Compiled {
            component: compiled[sha].clone(),
            reusable: reusable[sha],
        })
        .collect())
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

    /// A custom section: id 0, size, name, payload (all short enough for one-byte sizes).
    fn custom(name: &str, payload: &[u8]) -> Vec<u8> {
        let mut contents = vec![name.len() as u8];
        contents.extend_from_slice(name.as_bytes());
        contents.extend_from_slice(payload);
        let mut section = vec![0, contents.len() as u8];
        section.extend(contents);
        section
    }

    #[test]
    fn only_the_components_own_reuse_section_asks_for_reuse() {
        let component = b"\0asm\x0d\0\x01\0".to_vec();
        let (name, payload) = REUSE_SECTION;
        let marked = [component.clone(), custom(name, payload)].concat();
        assert!(asks_for_reuse(&marked));
        assert!(!asks_for_reuse(&component));
        let other = [component.clone(), custom(name, b"process")].concat();
        assert!(!asks_for_reuse(&other));
        // The same section inside a nested core module (section id 1) is not the component's.
        let module = [b"\0asm\x01\0\0\0".to_vec(), custom(name, payload)].concat();
        let nested = [component, vec![1, module.len() as u8], module].concat();
        assert!(!asks_for_reuse(&nested));
    }
}
