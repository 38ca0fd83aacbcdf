//! Compiled components kept on disk, so an unchanged component is never compiled twice.
//!
//! ```text
//! DATA/compile-cache/
//!   key                               32 random bytes, mode 0600, made on first use
//!   <component sha256>-<engine>.cwasm wasmtime's artifact, then its HMAC-SHA256 tag (32 bytes)
//! ```
//!
//! Loading a compiled artifact runs its machine code, so only artifacts this host wrote itself
//! are ever loaded: each carries an HMAC under the data folder's private key, checked before
//! it is loaded. A missing, foreign, truncated or tampered artifact is compiled again from the
//! component and overwritten; it is never loaded.
//!
//! A verified artifact is mapped from its file (`Component::deserialize_file`), not copied into
//! anonymous memory: its code pages stay clean, shared with the page cache, and resident only
//! once they run, which is what lets one host carry a thousand distinct routes. The artifact
//! starts at offset 0 so that the mapping is page-aligned; the tag comes last.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;

/// The folder below the data folder that holds compiled artifacts.
pub const CACHE_FOLDER: &str = "compile-cache";
const KEY_FILE: &str = "key";
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 32;

/// A folder of compiled components, signed with a key only this host's data folder holds.
pub struct CompileCache {
    dir: PathBuf,
    key: [u8; KEY_LEN],
    engine_id: String,
    stats: Stats,
}

/// What happened to one component: reused from disk, or compiled (and why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A verified artifact was loaded; nothing was compiled.
    Reused,
    /// No artifact existed for this component and engine.
    Compiled,
    /// An artifact existed but failed verification or loading, so it was compiled again.
    Rejected,
}

/// Counts of outcomes since the cache was opened, for the start-up log line.
#[derive(Default)]
struct Stats {
    reused: AtomicUsize,
    compiled: AtomicUsize,
    rejected: AtomicUsize,
}

/// A snapshot of what the cache did, e.g. `3 reused, 0 compiled, 0 rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Components loaded from verified artifacts.
    pub reused: usize,
    /// Components compiled because no artifact existed.
    pub compiled: usize,
    /// Components compiled because their artifact was bad or foreign.
    pub rejected: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} reused, {} compiled, {} rejected",
            self.reused, self.compiled, self.rejected
        )
    }
}

impl CompileCache {
    /// Opens (creating when missing) `data_dir/compile-cache` and its key, for this engine.
    pub fn open(data_dir: &Path, engine: &Engine) -> anyhow::Result<Self> {
        let dir = data_dir.join(CACHE_FOLDER);
        crate::private::create_dir(&dir).with_context(|| {
            format!(
                "cannot create the compile cache {}: pick a writable folder with --data-dir",
                dir.display()
            )
        })?;
        let key = load_or_create_key(&dir.join(KEY_FILE))?;
        Ok(Self {
            dir,
            key,
            engine_id: engine_id(engine),
            stats: Stats::default(),
        })
    }

    /// Where the artifacts live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component compiled from `wasm` (whose hex SHA-256 is `sha256`): from a verified
    /// artifact, or compiled and stored.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        sha256: &str,
    ) -> anyhow::Result<(Component, Outcome)> {
        let path = self.artifact_path(sha256);
        let name = file_name(&path);
        let mut outcome = Outcome::Compiled;
        match self.verify_file(&path, &name) {
            Ok(true) => {
                // SAFETY: the file holds exactly what `Component::serialize` returned in this
                // host for this engine configuration: its tag was made with the data folder's
                // private key over these bytes and this file name, and was checked just above.
                // The file is read once to check and opened again to map; whoever could swap
                // it in between can also read the key beside it and sign anything, so the
                // check guards what it can (artifacts of another host or data folder, or
                // changed at rest) and the order adds nothing an attacker lacks. The host
                // itself never changes a cache file in place (it writes a temporary file and
                // renames it), so a mapped artifact is never modified while it is in use.
                match unsafe { Component::deserialize_file(engine, &path) } {
                    Ok(component) => {
                        release_pages(&component);
                        self.stats.reused.fetch_add(1, Ordering::Relaxed);
                        return Ok((component, Outcome::Reused));
                    }
                    Err(error) => {
                        tracing::warn!(
                            "compile cache: {} does not load ({error}); compiling again",
                            path.display()
                        );
                        outcome = Outcome::Rejected;
                    }
                }
            }
            Ok(false) => {
                tracing::warn!(
                    "compile cache: {} was not written by this host or was changed; \
                     ignoring it and compiling again",
                    path.display()
                );
                outcome = Outcome::Rejected;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!("compile cache: cannot read {}: {error}", path.display());
            }
        }
        let mut component = Component::new(engine, wasm).map_err(anyhow::Error::from)?;
        match component.serialize() {
            Ok(artifact) => match self.store(&path, &name, &artifact) {
                // Served from the file just written, like a reused one, rather than from the
                // compiler's anonymous memory.
                // SAFETY: the host wrote this file a moment ago from `serialize`'s output, with
                // a temporary file and a rename, and never changes it in place.
                Ok(()) => match unsafe { Component::deserialize_file(engine, &path) } {
                    Ok(mapped) => {
                        release_pages(&mapped);
                        component = mapped;
                    }
                    Err(error) => tracing::warn!(
                        "compile cache: {} does not load ({error}); serving the compiled copy",
                        path.display()
                    ),
                },
                Err(error) => {
                    tracing::warn!("compile cache: cannot write {}: {error:#}", path.display())
                }
            },
            Err(error) => tracing::warn!("compile cache: cannot serialize a component: {error}"),
        }
        match outcome {
            Outcome::Rejected => &self.stats.rejected,
            _ => &self.stats.compiled,
        }
        .fetch_add(1, Ordering::Relaxed);
        Ok((component, outcome))
    }

    /// What the cache has done since it was opened.
    pub fn summary(&self) -> Summary {
        Summary {
            reused: self.stats.reused.load(Ordering::Relaxed),
            compiled: self.stats.compiled.load(Ordering::Relaxed),
            rejected: self.stats.rejected.load(Ordering::Relaxed),
        }
    }

    /// `DIR/<sha256 of the component>-<engine id>.cwasm`.
    fn artifact_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_id))
    }

    /// Whether the file's trailing tag is ours for its bytes and this file name; read in
    /// small pieces, so that checking a thousand artifacts never holds one in memory.
    fn verify_file(&self, path: &Path, name: &str) -> std::io::Result<bool> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let Some(artifact_len) = len.checked_sub(TAG_LEN as u64) else {
            return Ok(false);
        };
        let mut mac = self.mac_start(name);
        let mut left = artifact_len;
        let mut buffer = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = buffer.len().min(left as usize);
            file.read_exact(&mut buffer[..want])?;
            mac.update(&buffer[..want]);
            left -= want as u64;
        }
        let mut tag = [0u8; TAG_LEN];
        file.read_exact(&mut tag)?;
        Ok(mac.verify_slice(&tag).is_ok())
    }

    /// The HMAC over the file name (binding the artifact to its component and engine) and bytes.
    fn mac(&self, name: &str, artifact: &[u8]) -> HmacSha256 {
        let mut mac = self.mac_start(name);
        mac.update(artifact);
        mac
    }

    /// An HMAC that has taken the file name; the artifact's bytes come next.
    fn mac_start(&self, name: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name.as_bytes());
        mac
    }

    /// Writes artifact + tag to a temporary file, then renames it into place.
    fn store(&self, path: &Path, name: &str, artifact: &[u8]) -> anyhow::Result<()> {
        let tag = self.mac(name, artifact).finalize().into_bytes();
        let temp = temp_path(path);
        let write = || -> std::io::Result<()> {
            let mut file = crate::private::create_file(&temp)?;
            file.write_all(artifact)?;
            file.write_all(&tag)?;
            file.sync_all()?;
            std::fs::rename(&temp, path)
        };
        write().map_err(|error| {
            let _ = std::fs::remove_file(&temp);
            anyhow::Error::from(error)
        })
    }
}

/// Reads the key, or makes one: written to a private temporary file, then linked into place so
/// two hosts starting at once agree on one key.
fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    if !path.exists() {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key)
            .map_err(|e| anyhow::anyhow!("no randomness for the compile cache key: {e}"))?;
        let temp = temp_path(path);
        write_private(&temp, &key).with_context(|| format!("writing {}", temp.display()))?;
        let linked = std::fs::hard_link(&temp, path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(error).with_context(|| format!("creating {}", path.display()));
            }
        }
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    match <[u8; KEY_LEN]>::try_from(bytes.as_slice()) {
        Ok(key) => Ok(key),
        Err(_) => bail!(
            "{} is not a compile cache key ({} bytes, expected {KEY_LEN}); delete the \
             compile-cache folder to start a fresh cache",
            path.display(),
            bytes.len()
        ),
    }
}

/// Creates `path` readable and writable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Lets the kernel drop a mapped artifact's pages until they are used.
///
/// Loading touches the artifact's headers and metadata, and the kernel maps the pages around
/// each touch too, so all of a freshly written or freshly read artifact ends up resident. A
/// thousand routes that are rarely called should not keep their code in memory; a route's
/// pages come back on its first request.
fn release_pages(component: &Component) {
    #[cfg(target_os = "linux")]
    {
        let range = component.image_range();
        let len = (range.end as usize).saturating_sub(range.start as usize);
        // SAFETY: MADV_PAGEOUT never changes what the memory holds: clean pages of the file
        // mapping are read again from the file (which the host never changes in place) on the
        // next touch, and private copies, if any, are kept or swapped, never discarded. A
        // kernel without MADV_PAGEOUT returns EINVAL, and the pages simply stay.
        unsafe {
            libc::madvise(range.start as *mut libc::c_void, len, libc::MADV_PAGEOUT);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = component;
}

/// A sibling name unique to this process and moment, for write-then-rename.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let unique = format!(
        ".{}.{}.{}.tmp",
        file_name(path),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    path.with_file_name(unique)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// 16 hex digits naming the engine's compiler settings: artifacts of another wasmtime version
/// or configuration get another name, so they are never tried.
fn engine_id(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

/// Feeds `Hash` into SHA-256, which, unlike `DefaultHasher`, is the same in every Rust release.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        unreachable!("only the full digest is used")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the header, and a custom section named `tag`.
    fn component(tag: u8) -> Vec<u8> {
        vec![0, b'a', b's', b'm', 0x0d, 0, 1, 0, 0, 2, 1, tag]
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "routelet-compile-cache-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn wasm() -> Vec<u8> {
        component(b'f')
    }

    fn load(cache: &CompileCache, engine: &Engine, wasm: &[u8]) -> Outcome {
        let sha = hex::encode(Sha256::digest(wasm));
        cache.load_or_compile(engine, wasm, &sha).unwrap().1
    }

    fn only_artifact(cache: &CompileCache) -> PathBuf {
        let mut found: Vec<PathBuf> = std::fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found.pop().unwrap()
    }

    #[test]
    fn compiles_once_then_reuses_across_opens() {
        let dir = scratch("reuse");
        let engine = Engine::default();
        let cache = CompileCache::open(&dir, &engine).unwrap();
        assert_eq!(load(&cache, &engine, &wasm()), Outcome::Compiled);
        assert_eq!(load(&cache, &engine, &wasm()), Outcome::Reused);
        let again = CompileCache::open(&dir, &engine).unwrap();
        assert_eq!(load(&again, &engine, &wasm()), Outcome::Reused);
        assert_eq!(
            again.summary(),
            Summary {
                reused: 1,
                compiled: 0,
                rejected: 0
            }
        );
    }

    #[test]
    fn the_key_is_private_and_kept() {
        let dir = scratch("key");
        let engine = Engine::default();
        let first = CompileCache::open(&dir, &engine).unwrap();
        let second = CompileCache::open(&dir, &engine).unwrap();
        assert_eq!(first.key, second.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(CACHE_FOLDER).join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_tampered_artifact_is_compiled_again_not_loaded() {
        let dir = scratch("tampered");
        let engine = Engine::default();
        let cache = CompileCache::open(&dir, &engine).unwrap();
        load(&cache, &engine, &wasm());
        let path = only_artifact(&cache);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(load(&cache, &engine, &wasm()), Outcome::Rejected);
        // The rewritten artifact is good again.
        assert_eq!(load(&cache, &engine, &wasm()), Outcome::Reused);
    }

    #[test]
    fn an_artifact_signed_with_another_key_or_truncated_is_rejected() {
        let engine = Engine::default();
        let ours = CompileCache::open(&scratch("ours"), &engine).unwrap();
        let theirs = CompileCache::open(&scratch("theirs"), &engine).unwrap();
        load(&theirs, &engine, &wasm());
        let foreign = only_artifact(&theirs);
        let target = ours.dir().join(foreign.file_name().unwrap());
        std::fs::copy(&foreign, &target).unwrap();
        assert_eq!(load(&ours, &engine, &wasm()), Outcome::Rejected);
        std::fs::write(&target, b"short").unwrap();
        assert_eq!(load(&ours, &engine, &wasm()), Outcome::Rejected);
    }

    #[test]
    fn an_artifact_renamed_to_another_component_is_rejected() {
        let engine = Engine::default();
        let cache = CompileCache::open(&scratch("renamed"), &engine).unwrap();
        load(&cache, &engine, &wasm());
        let first = only_artifact(&cache);
        let other = component(b'g');
        let other_path = cache.artifact_path(&hex::encode(Sha256::digest(&other)));
        std::fs::rename(&first, &other_path).unwrap();
        assert_eq!(load(&cache, &engine, &other), Outcome::Rejected);
    }

    #[test]
    fn a_bad_key_file_says_what_to_do() {
        let dir = scratch("badkey");
        std::fs::create_dir_all(dir.join(CACHE_FOLDER)).unwrap();
        std::fs::write(dir.join(CACHE_FOLDER).join(KEY_FILE), b"short").unwrap();
        let error = CompileCache::open(&dir, &Engine::default())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("delete the compile-cache folder"), "{error}");
    }
}
