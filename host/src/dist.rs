//! The dist folder: what `routelet build` writes and what `routelet serve` reads.
//!
//! ```text
//! dist/
//!   manifest.json              route table, hashes, build id (optional for serving)
//!   pages/api/hello.wasm       one component per route file
//!   public/logo.svg            served at /logo.svg
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use routelet_router::{RouteError, RouteTable, pattern_from_page_path};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A file's device and inode, which its hard links share: a build writes an app's JavaScript
/// component once and links it for each route, and readers then read it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId(u64, u64);

/// The file's identity, or `None` where it cannot be read or the platform has no inodes (every
/// file then counts as its own).
pub fn file_identity(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| FileId(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// What a reader of a dist made of each file it has handled, so a hard link to one of them
/// reuses that (a hash, a packed name, a copy) instead of reading the bytes again.
pub struct SeenFiles<T>(HashMap<FileId, T>);

impl<T> Default for SeenFiles<T> {
    fn default() -> Self {
        SeenFiles(HashMap::new())
    }
}

impl<T> SeenFiles<T> {
    /// What was made of the file `id` names, if it was handled before.
    pub fn get(&self, id: Option<FileId>) -> Option<&T> {
        id.and_then(|id| self.0.get(&id))
    }

    /// Records what was made of the file `id` names; a file without an identity is not kept.
    pub fn insert(&mut self, id: Option<FileId>, value: T) {
        if let Some(id) = id {
            self.0.insert(id, value);
        }
    }
}

/// The manifest's file name inside a dist folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The preview secret a build generates when `routelet.toml` configures none.
pub const PREVIEW_SECRET_FILE: &str = "preview-secret";

/// Build metadata a host can check a dist against; serving works without it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Identifies one build's output, like Next.js's build id.
    pub build_id: String,
    /// Every route in match order.
    pub routes: Vec<ManifestRoute>,
    /// What the build host generated for each static page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<ManifestPage>,
}

/// One static page's build output.
#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestPage {
    /// The page's pattern, e.g. `/blog/[slug]`.
    pub pattern: String,
    /// What `getStaticPaths` said of paths it did not list.
    pub fallback: ManifestFallback,
    /// Every path generated, in the order `getStaticPaths` listed them.
    pub paths: Vec<ManifestPath>,
}

/// A page's `fallback`, spelled as Next.js's `getStaticPaths` spells it; any other spelling in a
/// manifest is an error, not a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ManifestFallback {
    /// `fallback: false`: unlisted paths are 404.
    #[serde(rename = "false")]
    None,
    /// `fallback: true`: rendered on first request.
    #[serde(rename = "true")]
    Render,
    /// `fallback: 'blocking'`: rendered on first request, the client waits.
    #[serde(rename = "blocking")]
    Blocking,
}

impl ManifestFallback {
    /// As the manifest and the build's summary write it.
    pub fn name(self) -> &'static str {
        match self {
            ManifestFallback::None => "false",
            ManifestFallback::Render => "true",
            ManifestFallback::Blocking => "blocking",
        }
    }
}

/// One generated path of a page.
#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestPath {
    /// The canonical encoded path, e.g. `/blog/first-post`.
    pub path: String,
    /// Seconds before a request regenerates it, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revalidate: Option<u32>,
    /// What the page produced.
    #[serde(flatten)]
    pub outcome: ManifestOutcome,
}

/// What a page produced for one path.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ManifestOutcome {
    /// HTML and props, as files relative to the dist folder.
    Page { html: String, props: String },
    /// `notFound`.
    NotFound,
    /// `redirect`.
    Redirect { location: String, status: u16 },
}

/// One route of a build, with what it takes to check its component.
#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestRoute {
    /// The route pattern, e.g. `/api/users/[id]`.
    pub pattern: String,
    /// The component, relative to the dist folder, with `/` separators.
    pub file: String,
    /// The route file it was built from, relative to the app.
    pub source: String,
    /// Hex SHA-256 of the component, so a host can refuse a corrupt file.
    pub sha256: String,
    /// The component's size in bytes.
    pub size: u64,
}

/// One component found under `DIST/pages`.
#[derive(Debug, Clone)]
pub struct RouteFile {
    /// Path relative to the dist folder (`pages/api/hello.wasm`), for messages.
    pub relative: PathBuf,
    /// Where to read it from.
    pub path: PathBuf,
    /// The hash the manifest promises, when there is a manifest.
    pub sha256: Option<String>,
}

/// A dist folder opened for serving or listing.
pub struct Dist {
    root: PathBuf,
    manifest: Option<Manifest>,
    files: Vec<(String, RouteFile)>,
}

impl Dist {
    /// Scans `root/pages` for components and reads the manifest if there is one.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        if !root.is_dir() {
            bail!(
                "dist folder {} does not exist or is not a folder",
                root.display()
            );
        }
        let manifest_path = root.join(MANIFEST_FILE);
        let manifest = if manifest_path.is_file() {
            let text = std::fs::read_to_string(&manifest_path)
                .with_context(|| format!("reading {}", manifest_path.display()))?;
            let manifest: Manifest = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid manifest", manifest_path.display()))?;
            Some(manifest)
        } else {
            None
        };
        let hashes: HashMap<&str, &str> = manifest
            .iter()
            .flat_map(|m| m.routes.iter())
            .map(|r| (r.file.as_str(), r.sha256.as_str()))
            .collect();

        let pages = root.join("pages");
        let mut files = Vec::new();
        if pages.is_dir() {
            for entry in walkdir::WalkDir::new(&pages).sort_by_file_name() {
                let entry = entry.with_context(|| format!("reading {}", pages.display()))?;
                if !entry.file_type().is_file()
                    || entry.path().extension().is_none_or(|ext| ext != "wasm")
                {
                    continue;
                }
                let relative = entry.path().strip_prefix(root).expect("walked below root");
                let page_path = page_path_of(entry.path(), &pages)?;
                let key = slash_path(relative)?;
                files.push((
                    pattern_from_page_path(&page_path),
                    RouteFile {
                        relative: relative.to_path_buf(),
                        path: entry.path().to_path_buf(),
                        sha256: hashes.get(key.as_str()).map(|h| h.to_string()),
                    },
                ));
            }
        }
        if let Some(manifest) = &manifest {
            let found: std::collections::HashSet<String> = files
                .iter()
                .filter_map(|(_, f)| slash_path(&f.relative).ok())
                .collect();
            for route in &manifest.routes {
                if !found.contains(&route.file) {
                    bail!(
                        "{} lists {} for route {}, but the file is missing",
                        manifest_path.display(),
                        route.file,
                        route.pattern
                    );
                }
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            manifest,
            files,
        })
    }

    /// The folder this dist lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The page's build output, when the build host generated it.
    pub fn page(&self, pattern: &str) -> Option<&ManifestPage> {
        self.manifest
            .as_ref()
            .and_then(|m| m.pages.iter().find(|p| p.pattern == pattern))
    }

    /// The build id from the manifest, when there is one.
    pub fn build_id(&self) -> Option<&str> {
        self.manifest.as_ref().map(|m| m.build_id.as_str())
    }

    /// Validates the layout with Next.js's rules; an invalid layout refuses the whole table.
    pub fn route_table(&self) -> anyhow::Result<RouteTable<RouteFile>> {
        route_table(self.files.clone(), |f| f.relative.display().to_string())
    }

    /// Where public files live.
    pub fn public_dir(&self) -> PathBuf {
        self.root.join("public")
    }
}

/// Builds a route table, naming files rather than positions when two resolve to one pattern.
pub fn route_table<T>(
    entries: Vec<(String, T)>,
    file_name: impl Fn(&T) -> String,
) -> anyhow::Result<RouteTable<T>> {
    let names: Vec<String> = entries.iter().map(|(_, value)| file_name(value)).collect();
    RouteTable::new(entries).map_err(|error| match error {
        RouteError::DuplicatePage {
            pattern,
            first,
            second,
        } => {
            let (a, b) = (&names[first], &names[second]);
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            anyhow::anyhow!("Duplicate page detected. {a} and {b} both resolve to {pattern}.")
        }
        other => anyhow::Error::new(other),
    })
}

/// The path of a file below `pages/`, with `/` separators and without its extension.
pub fn page_path_of(file: &Path, pages: &Path) -> anyhow::Result<String> {
    let relative = file.strip_prefix(pages).expect("file below pages");
    let slashed = slash_path(&relative.with_extension(""))?;
    Ok(slashed)
}

/// A relative path with `/` separators, refusing names that are not UTF-8.
pub fn slash_path(path: &Path) -> anyhow::Result<String> {
    let parts: Option<Vec<&str>> = path.components().map(|c| c.as_os_str().to_str()).collect();
    match parts {
        Some(parts) => Ok(parts.join("/")),
        None => bail!("file name {} is not valid UTF-8", path.display()),
    }
}

/// Hex SHA-256 of some bytes, the form used in manifests.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The SHA-256 of a file, read in pieces so that a large one is never held in memory.
pub fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut digest = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut digest)?;
    Ok(digest.finalize().into())
}
