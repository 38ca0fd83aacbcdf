//! Deployments on disk, so a restarted host serves the last active one.
//!
//! ```text
//! DATA/deployments/
//!   20261123-231502-3f9a/      one unpacked dist per deployment, never changed once written
//!     deployment.json          id, creation time, what made it, its routes
//!     manifest.json pages/ public/ ...
//!   active                     the active id; replaced with a rename, so never half-written
//!   .staging-*/                bundles being checked; removed on failure and at start
//!   .staging-upload-*          uploads still arriving (0600); removed likewise
//! ```

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The folder below the data folder that holds deployments.
pub const DEPLOYMENTS_FOLDER: &str = "deployments";
const ACTIVE_FILE: &str = "active";
const META_FILE: &str = "deployment.json";
const STAGING_PREFIX: &str = ".staging-";

/// What the host records about one deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentMeta {
    /// Sortable by time: `YYYYMMDD-HHMMSS-xxxx`.
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// Order of creation in this data folder, 1 for the first.
    #[serde(default)]
    pub seq: u64,
    /// What made it: `bundle`, `route PATTERN`, `undeploy PATTERN`, `serve DIST`.
    pub source: String,
    /// Its route patterns in match order.
    pub routes: Vec<String>,
    /// A digest of the dist it was made from, to recognise an unchanged `serve DIST`.
    #[serde(default)]
    pub fingerprint: String,
}

/// One deployment as listed by the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listed {
    /// Its record.
    #[serde(flatten)]
    pub meta: DeploymentMeta,
    /// Whether it is the one being served.
    pub active: bool,
}

/// The deployments folder of one data folder.
pub struct DeploymentStore {
    dir: PathBuf,
}

impl DeploymentStore {
    /// Opens (creating) `data_dir/deployments` and removes staging left by a crash.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let dir = data_dir.join(DEPLOYMENTS_FOLDER);
        crate::private::create_dir(&dir).with_context(|| {
            format!(
                "cannot create {}: pick a writable folder with --data-dir",
                dir.display()
            )
        })?;
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX)
            {
                // Staging folders, and uploads that were still arriving.
                let _ = std::fs::remove_dir_all(entry.path())
                    .or_else(|_| std::fs::remove_file(entry.path()));
            }
        }
        Ok(Self { dir })
    }

    /// The deployments folder itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh, empty staging folder on the same file system, for a bundle being checked.
    pub fn staging(&self) -> anyhow::Result<Staging> {
        let id = new_id();
        let path = self.dir.join(format!("{STAGING_PREFIX}{id}"));
        crate::private::create_dir(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Staging { path, id })
    }

    /// Moves a checked staging folder into place as a deployment; it is not active yet.
    ///
    /// Callers serialise commits (one deploy at a time), so `seq` numbers never repeat.
    pub fn commit(&self, staging: Staging, meta: &mut DeploymentMeta) -> anyhow::Result<PathBuf> {
        meta.seq = self.list()?.iter().map(|l| l.meta.seq).max().unwrap_or(0) + 1;
        let json = serde_json::to_vec_pretty(meta).expect("metadata serializes");
        write_synced(&staging.path.join(META_FILE), &json)?;
        let target = self.dir.join(&meta.id);
        std::fs::rename(&staging.path, &target).with_context(|| {
            format!("moving {} to {}", staging.path.display(), target.display())
        })?;
        std::mem::forget(staging);
        sync_dir(&self.dir);
        Ok(target)
    }

    /// Makes `id` the active deployment, atomically on disk.
    pub fn activate(&self, id: &str) -> anyhow::Result<()> {
        let temp = self.dir.join(format!("{ACTIVE_FILE}.tmp"));
        write_synced(&temp, id.as_bytes())?;
        std::fs::rename(&temp, self.dir.join(ACTIVE_FILE))
            .with_context(|| format!("activating deployment {id}"))?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// The active deployment's id, when there is one.
    pub fn active(&self) -> anyhow::Result<Option<String>> {
        match std::fs::read_to_string(self.dir.join(ACTIVE_FILE)) {
            Ok(id) => {
                let id = id.trim().to_owned();
                if !self.dir.join(&id).join(META_FILE).is_file() {
                    bail!(
                        "{} names deployment {id}, which is missing from {}",
                        self.dir.join(ACTIVE_FILE).display(),
                        self.dir.display()
                    );
                }
                Ok(Some(id))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).context("reading the active deployment"),
        }
    }

    /// The folder of deployment `id`, checked to exist.
    pub fn path_of(&self, id: &str) -> anyhow::Result<PathBuf> {
        let valid = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let path = self.dir.join(id);
        if !valid || !path.join(META_FILE).is_file() {
            bail!("no deployment {id:?}; `routelet deployments` lists them");
        }
        Ok(path)
    }

    /// The record of deployment `id`.
    pub fn meta(&self, id: &str) -> anyhow::Result<DeploymentMeta> {
        let file = self.path_of(id)?.join(META_FILE);
        let text = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("reading {}", file.display()))
    }

    /// Every deployment, newest first.
    pub fn list(&self) -> anyhow::Result<Vec<Listed>> {
        let active = self.active().ok().flatten();
        let mut all = Vec::new();
        for entry in std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading {}", self.dir.display()))?
        {
            let entry = entry?;
            let meta_path = entry.path().join(META_FILE);
            let Ok(text) = std::fs::read(&meta_path) else {
                continue;
            };
            match serde_json::from_slice::<DeploymentMeta>(&text) {
                Ok(meta) => all.push(Listed {
                    active: active.as_deref() == Some(meta.id.as_str()),
                    meta,
                }),
                Err(error) => tracing::warn!("ignoring {}: {error}", meta_path.display()),
            }
        }
        all.sort_by(|a, b| (b.meta.seq, &b.meta.id).cmp(&(a.meta.seq, &a.meta.id)));
        Ok(all)
    }

    /// Removes the oldest deployments beyond `keep`, never the active one.
    pub fn prune(&self, keep: usize) -> anyhow::Result<Vec<String>> {
        let mut removed = Vec::new();
        for listed in self.list()?.into_iter().skip(keep.max(1)) {
            if listed.active {
                continue;
            }
            let path = self.dir.join(&listed.meta.id);
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("removing old deployment {}", path.display()))?;
            removed.push(listed.meta.id);
        }
        Ok(removed)
    }

    /// The deployment made just before the active one: what `rollback` goes back to.
    pub fn previous(&self) -> anyhow::Result<Option<String>> {
        let all = self.list()?;
        let Some(position) = all.iter().position(|l| l.active) else {
            return Ok(None);
        };
        Ok(all.get(position + 1).map(|l| l.meta.id.clone()))
    }

    /// The deployment made from a dist with this fingerprint, if one is kept.
    pub fn find_fingerprint(&self, fingerprint: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .list()?
            .into_iter()
            .find(|listed| listed.meta.fingerprint == fingerprint)
            .map(|listed| listed.meta.id))
    }
}

/// A staging folder; removed when dropped unless committed.
pub struct Staging {
    /// Where the bundle is unpacked.
    pub path: PathBuf,
    /// The id the deployment gets if it is committed.
    pub id: String,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A new deployment id: the UTC time to the second, then random hex so ids never collide.
fn new_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Hosts of one fleet make ids independently: 32 random bits keep them apart.
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    format!(
        "{}-{:06}-{}",
        utc_date_time(now.as_secs()).0,
        utc_date_time(now.as_secs()).1,
        hex::encode(random)
    )
}

/// `(YYYYMMDD, HHMMSS)` for seconds since the epoch, as numbers in decimal form.
fn utc_date_time(secs: u64) -> (String, u32) {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let hms = (rest / 3600) * 10_000 + (rest % 3600 / 60) * 100 + rest % 60;
    (format!("{year:04}{month:02}{day:02}"), hms as u32)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-23 23:15:02` for seconds since the epoch, in UTC.
pub fn format_time(secs: u64) -> String {
    let (date, hms) = utc_date_time(secs);
    format!(
        "{}-{}-{} {:02}:{:02}:{:02}",
        &date[..4],
        &date[4..6],
        &date[6..],
        hms / 10_000,
        hms / 100 % 100,
        hms % 100
    )
}

/// Seconds since the Unix epoch, for records.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Writes a file and flushes it to disk before returning.
fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file =
        crate::private::create_file(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Flushes a folder's entries (renames) to disk; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str) -> DeploymentMeta {
        DeploymentMeta {
            id: id.into(),
            created: 0,
            seq: 0,
            source: "bundle".into(),
            routes: vec!["/api".into()],
            fingerprint: format!("fp-{id}"),
        }
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_date_time(0), ("19700101".into(), 0));
        // 2026-11-23 23:15:02 UTC.
        assert_eq!(utc_date_time(1_795_475_702), ("20261123".into(), 231_502));
        assert_eq!(format_time(1_795_475_702), "2026-11-23 23:15:02");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn commits_activates_lists_and_prunes_but_never_the_active_one() {
        let root = std::env::temp_dir().join(format!("routelet-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let store = DeploymentStore::open(&root).unwrap();
        assert_eq!(store.active().unwrap(), None);
        for id in ["a1", "a2", "a3"] {
            let staging = store.staging().unwrap();
            std::fs::write(staging.path.join("x"), id).unwrap();
            store.commit(staging, &mut meta(id)).unwrap();
        }
        store.activate("a2").unwrap();
        assert_eq!(store.previous().unwrap().as_deref(), Some("a1"));
        store.activate("a1").unwrap();
        assert_eq!(store.previous().unwrap(), None);
        let ids: Vec<_> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|l| l.meta.id)
            .collect();
        assert_eq!(ids, ["a3", "a2", "a1"]);
        assert_eq!(store.prune(1).unwrap(), ["a2"]);
        assert_eq!(store.active().unwrap().as_deref(), Some("a1"));
        assert!(store.path_of("a2").is_err());
        assert!(store.path_of("../a1").is_err());
        assert_eq!(
            store.find_fingerprint("fp-a3").unwrap().as_deref(),
            Some("a3")
        );

        // A staging folder that was never committed disappears, now or at the next start.
        let staging = store.staging().unwrap();
        let left = staging.path.clone();
        std::mem::forget(staging);
        DeploymentStore::open(&root).unwrap();
        assert!(!left.exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
