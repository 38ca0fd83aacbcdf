//! A single host's regenerated pages in its data folder (`DATA/pages/<deployment>/`, one
//! private file per path), so a restart serves what was regenerated before it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::kept::{KeptPage, PageStore, StoreFuture};
use crate::dist::sha256_hex;

/// The folder of the data folder that holds every deployment's kept pages.
pub const PAGES_DIR: &str = "pages";

/// One deployment's kept pages on disk.
pub struct DiskPages {
    dir: PathBuf,
    read_once: AtomicBool,
    temp_counter: AtomicU64,
}

/// A file's contents: the path it is for, beside the page.
#[derive(Serialize, Deserialize)]
struct PageFile {
    path: String,
    page: KeptPage,
}

impl DiskPages {
    /// The pages of deployment `key` under `data_dir`.
    pub fn new(data_dir: &Path, key: &str) -> Self {
        Self {
            dir: data_dir.join(PAGES_DIR).join(key),
            read_once: AtomicBool::new(false),
            temp_counter: AtomicU64::new(0),
        }
    }

    fn file_of(&self, path: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", &sha256_hex(path.as_bytes())[..32]))
    }
}

/// Writes `page` for `path` into `file` through `temp`, unless `file` holds a newer one.
fn save_now(
    dir: &Path,
    file: &Path,
    temp: &Path,
    path: &str,
    page: &KeptPage,
) -> anyhow::Result<()> {
    if let Some(kept) = read(file)?
        && kept.page.generated_ms > page.generated_ms
    {
        return Ok(());
    }
    crate::private::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes = serde_json::to_vec(&PageFile {
        path: path.to_owned(),
        page: page.clone(),
    })?;
    crate::private::write(temp, &bytes).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(temp, file).with_context(|| format!("writing {}", file.display()))
}

/// Every page kept in `dir`; a file that cannot be read is skipped with a warning.
fn read_all(dir: &Path) -> anyhow::Result<Vec<(String, KeptPage)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut pages = Vec::new();
    for entry in entries {
        let file = entry?.path();
        if file.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match read(&file) {
            Ok(Some(kept)) => pages.push((kept.path, kept.page)),
            Ok(None) => {}
            Err(error) => tracing::warn!("a kept page is skipped: {error:#}"),
        }
    }
    Ok(pages)
}

fn read(file: &Path) -> anyhow::Result<Option<PageFile>> {
    match std::fs::read(file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not a kept page", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

impl PageStore for DiskPages {
    fn save<'a>(&'a self, path: &'a str, page: &'a KeptPage) -> StoreFuture<'a, ()> {
        let (dir, file) = (self.dir.clone(), self.file_of(path));
        let temp = self.dir.join(format!(
            ".{}.{}.tmp",
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let (path, page) = (path.to_owned(), page.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || save_now(&dir, &file, &temp, &path, &page)).await?
        })
    }

    fn changes(&self) -> StoreFuture<'_, Vec<(String, KeptPage)>> {
        Box::pin(async move {
            if self.read_once.swap(true, Ordering::SeqCst) {
                return Ok(Vec::new());
            }
            let dir = self.dir.clone();
            tokio::task::spawn_blocking(move || read_all(&dir)).await?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_pages::kept::KeptOutcome;

    fn page(html: &str, generated_ms: u64) -> KeptPage {
        KeptPage {
            pattern: "/[p]".into(),
            generated_ms,
            revalidate: Some(1),
            outcome: KeptOutcome::Page {
                html: html.into(),
                props: "{}".into(),
            },
        }
    }

    #[tokio::test]
    async fn pages_come_back_once_newest_first_and_private() {
        let data = tempfile::tempdir().unwrap();
        let store = DiskPages::new(data.path(), "d1");
        store.save("/a", &page("old", 10)).await.unwrap();
        store.save("/a", &page("new", 20)).await.unwrap();
        store.save("/a", &page("late but older", 15)).await.unwrap();
        store.save("/b?x", &page("b", 10)).await.unwrap();
        std::fs::write(store.dir.join("junk.json"), "{").unwrap();

        let again = DiskPages::new(data.path(), "d1");
        let mut pages = again.changes().await.unwrap();
        pages.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            pages,
            [
                ("/a".to_owned(), page("new", 20)),
                ("/b?x".into(), page("b", 10))
            ]
        );
        assert!(again.changes().await.unwrap().is_empty());
        assert!(
            DiskPages::new(data.path(), "d2")
                .changes()
                .await
                .unwrap()
                .is_empty()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.file_of("/a"))
            .unwrap()
            .permissions();
        assert_eq!(mode.mode() & 0o777, 0o600);
    }
}
