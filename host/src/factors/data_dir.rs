//! The host's data directory (`--data-dir`), where the embedded SQLite backends keep their files.
//!
//! Nothing is created until a store or database first needs it, so a host whose routes use no
//! data writes nothing to disk.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

/// How long an embedded SQLite connection waits for another writer before failing.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the embedded backends keep their files.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Points at `path`; nothing is created yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Opens (creating the folder and file if needed) `NAME.sqlite` in WAL mode.
    pub fn open_sqlite(&self, file: &str) -> anyhow::Result<rusqlite::Connection> {
        crate::private::create_dir(&self.path).with_context(|| {
            format!(
                "creating the data directory {} (choose another with --data-dir)",
                self.path.display()
            )
        })?;
        let path = self.path.join(file);
        // SQLite gives its -wal and -shm files the database file's mode.
        crate::private::touch_file(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let connection = rusqlite::Connection::open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        connection
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .and_then(|_| {
                connection.execute_batch(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                )
            })
            .with_context(|| format!("setting up {}", path.display()))?;
        Ok(connection)
    }
}

/// Runs blocking SQLite work without stalling the other tasks of a multi-threaded runtime.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_the_folder_on_first_use_in_wal_mode() {
        let root = std::env::temp_dir().join(format!("routelet-data-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = DataDir::new(root.join("a/b"));
        assert!(!root.join("a/b").exists());
        let connection = dir.open_sqlite("t.sqlite").unwrap();
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert!(root.join("a/b/t.sqlite").is_file());
        let _ = std::fs::remove_dir_all(&root);
    }
}
