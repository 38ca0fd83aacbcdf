//! JavaScript and TypeScript API routes: all of an app's JS routes become one component (the
//! JS engine, the Next.js-shaped runtime, the routes and their npm dependencies), built by the
//! JS SDK's `build.mjs` under Node.js and copied to each route's place in the dist. The host
//! compiles that component once, since every copy has the same hash, and tells it which route
//! a request is for through the route context.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::RouteSource;

/// The file extensions of JS and TS route files.
pub const EXTENSIONS: &[&str] = &["js", "mjs", "ts", "mts"];

/// Whether a file under `pages/` is a JS or TS route file (`.d.ts` declarations are not).
pub fn is_route_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let declaration = name.ends_with(".d.ts") || name.ends_with(".d.mts");
    !declaration
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
}

#[derive(Serialize)]
struct Job<'a> {
    app: &'a Path,
    routes: Vec<JobRoute<'a>>,
    out: PathBuf,
    #[serde(rename = "cacheDir")]
    cache_dir: PathBuf,
}

#[derive(Serialize)]
struct JobRoute<'a> {
    pattern: &'a str,
    path: &'a Path,
    relative: &'a str,
}

#[derive(Deserialize)]
struct Outcome {
    cached: bool,
    millis: u64,
}

/// Builds the component serving every `(pattern, source)` route; it lands in `work`, and the
/// components of earlier builds are kept in `cache_dir` (which apps may share).
pub fn build(
    app: &Path,
    routes: &[(&str, &RouteSource)],
    work: &Path,
    cache_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let first = &routes.first().expect("called with routes").1.relative;
    let node = find_node(first)?;
    let sdk = sdk_dir()?;
    ensure_installed(&node, &sdk)?;
    let relatives: Vec<&str> = routes.iter().map(|(_, s)| s.relative.as_str()).collect();
    super::type_declarations::write(app, &sdk, &relatives)?;
    crate::private::create_dir(cache_dir)
        .with_context(|| format!("creating {}", cache_dir.display()))?;
    let out = work.join("routes.wasm");
    let job = Job {
        app,
        routes: routes
            .iter()
            .map(|(pattern, source)| JobRoute {
                pattern,
                path: &source.path,
                relative: &source.relative,
            })
            .collect(),
        out: out.clone(),
        cache_dir: cache_dir.to_owned(),
    };
    let job_file = work.join("job.json");
    crate::private::write(&job_file, &serde_json::to_vec(&job)?)
        .with_context(|| format!("writing {}", job_file.display()))?;
    let output = Command::new(&node)
        .arg(sdk.join("build.mjs"))
        .arg(&job_file)
        .current_dir(app)
        .output()
        .with_context(|| {
            format!(
                "running {} {}",
                node.display(),
                sdk.join("build.mjs").display()
            )
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "building the JavaScript routes failed:\n{}",
            stderr.trim_end()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcome: Outcome = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .with_context(|| format!("the JavaScript build printed no result: {stdout}"))?;
    tracing::info!(
        routes = routes.len(),
        cached = outcome.cached,
        "JavaScript routes built in {} ms",
        outcome.millis
    );
    Ok(out)
}

/// Node.js, or a message saying how to get it.
fn find_node(route: &str) -> anyhow::Result<PathBuf> {
    let node = std::env::var_os("ROUTELET_NODE").unwrap_or_else(|| "node".into());
    let found = Command::new(&node)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success());
    let Some(version) = found else {
        bail!(
            "{route} is a JavaScript route, and building JavaScript routes needs Node.js 18 or \
             newer, which is not on PATH: install it (Debian and Ubuntu: `sudo apt install \
             nodejs npm`; elsewhere: https://nodejs.org/en/download), or set ROUTELET_NODE to \
             its path. Apps with only Rust routes need no Node.js."
        );
    };
    let text = String::from_utf8_lossy(&version.stdout);
    let major: u32 = text
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 18 {
        bail!(
            "{route} is a JavaScript route, and building it needs Node.js 18 or newer; {} is {}",
            Path::new(&node).display(),
            text.trim()
        );
    }
    Ok(PathBuf::from(node))
}

/// The JS SDK: `ROUTELET_JS_SDK_PATH`, else the copy beside this host's sources.
fn sdk_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("ROUTELET_JS_SDK_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../js-sdk"));
    if !dir.join("build.mjs").is_file() {
        bail!(
            "the Routelet JS SDK is not at {}: set ROUTELET_JS_SDK_PATH to its folder",
            dir.display()
        );
    }
    Ok(dir)
}

/// Installs the SDK's pinned npm packages when its package-lock.json is not the one installed
/// (from the npm registry, as the lock says); afterwards builds work offline.
fn ensure_installed(node: &Path, sdk: &Path) -> anyhow::Result<()> {
    // The same mark `scripts/setup` leaves: the lock file that was installed.
    let lock_file = sdk.join("package-lock.json");
    let mark = sdk.join("node_modules/.package-lock.json.installed");
    let installed = || std::fs::read(&lock_file).ok() == std::fs::read(&mark).ok();
    if installed() {
        return Ok(());
    }
    // Builds running side by side install once.
    let lock = std::fs::File::create(sdk.join(".install.lock"))
        .and_then(|file| file.lock().map(|()| file))
        .with_context(|| format!("locking {}", sdk.display()))?;
    if installed() {
        return Ok(());
    }
    let npm = node
        .parent()
        .map(|dir| dir.join("npm"))
        .filter(|npm| npm.is_file())
        .unwrap_or_else(|| "npm".into());
    eprintln!(
        "routelet: installing the JavaScript toolchain (esbuild, componentize-js) into {}, once",
        sdk.join("node_modules").display()
    );
    let status = Command::new(&npm)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(sdk)
        .status()
        .with_context(|| format!("running {} ci in {}", npm.display(), sdk.display()))?;
    if !status.success() {
        bail!(
            "`npm ci` in {} failed ({status}); run it there yourself to see why",
            sdk.display()
        );
    }
    std::fs::copy(&lock_file, &mark).with_context(|| format!("writing {}", mark.display()))?;
    drop(lock);
    Ok(())
}
