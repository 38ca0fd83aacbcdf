//! Deploys to a running host: a whole bundle, one route, an undeploy or a rollback becomes a
//! new deployment on disk, checked in full, then swapped in atomically. Nothing changes when
//! any check fails.

pub mod bundle;
pub mod fleet;
pub mod store;
pub mod upload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::app::{self, App, Live};
use crate::dist::{Dist, MANIFEST_FILE, Manifest, ManifestRoute};
use crate::engine::Engine;
use crate::engine::compile_cache::CompileCache;
use crate::metrics::{self, DeployLabels};
use crate::static_pages::kept::PageStore;
use crate::static_pages::on_disk::{DiskPages, PAGES_DIR};
use fleet::rollout::{self, FleetLock, FleetReport};
use fleet::{ControlPlane, bundles, follow};
use store::{DeploymentMeta, DeploymentStore, Listed, Staging};
use upload::Upload;

/// Why a deploy was refused, with the HTTP status the admin API answers.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The upload is not a usable bundle or component (400).
    #[error("{0:#}")]
    BadUpload(anyhow::Error),
    /// The bundle is well-formed but would not serve: layout, hashes, compile, world (422).
    #[error("{0:#}")]
    Invalid(anyhow::Error),
    /// The deployment or route named does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The host failed; nothing was switched (500).
    #[error("{0:#}")]
    Internal(anyhow::Error),
    /// The control-plane database is away; nothing was changed anywhere (503).
    #[error("{0}")]
    Unavailable(String),
    /// Another deploy holds the fleet's deploy lock; nothing was changed (409).
    #[error("{0}")]
    Busy(String),
}

impl DeployError {
    /// The status the admin API answers with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            DeployError::BadUpload(_) => http::StatusCode::BAD_REQUEST,
            DeployError::Invalid(_) => http::StatusCode::UNPROCESSABLE_ENTITY,
            DeployError::NotFound(_) => http::StatusCode::NOT_FOUND,
            DeployError::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
            DeployError::Unavailable(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            DeployError::Busy(_) => http::StatusCode::CONFLICT,
        }
    }
}

/// What a successful deploy reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct Deployed {
    /// The new active deployment.
    pub id: String,
    /// Its routes in match order, with their files.
    pub routes: Vec<RouteRow>,
    /// Milliseconds from upload received to switched.
    pub millis: u64,
    /// With a control plane: the generation committed and which hosts had prepared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetReport>,
}

/// One line of a route table.
#[derive(Debug, Serialize, Deserialize)]
pub struct RouteRow {
    /// The pattern, e.g. `/api/users/[id]`.
    pub pattern: String,
    /// The component, relative to the dist.
    pub file: String,
}

/// Where deployment `id` keeps its regenerated pages: the control plane for a fleet, so every
/// host serves them, else the data folder, so a restart does.
pub fn page_store(
    data_dir: &Path,
    control: Option<&Arc<ControlPlane>>,
    id: &str,
) -> Arc<dyn PageStore> {
    match control {
        Some(control) => Arc::new(fleet::pages::FleetPages::new(control.clone(), id)),
        None => Arc::new(DiskPages::new(data_dir, id)),
    }
}

/// Owns the deployment store and the live app; one change at a time.
pub struct Deployer {
    base: Arc<Engine>,
    cache: Arc<CompileCache>,
    data_dir: PathBuf,
    store: DeploymentStore,
    live: Arc<Live>,
    keep: usize,
    lock: tokio::sync::Mutex<()>,
    control: Option<Arc<ControlPlane>>,
}

impl Deployer {
    /// A deployer for the app `live` serves, keeping the newest `keep` deployments.
    pub fn new(
        base: Arc<Engine>,
        cache: Arc<CompileCache>,
        data_dir: PathBuf,
        store: DeploymentStore,
        live: Arc<Live>,
        keep: usize,
    ) -> Self {
        Self {
            base,
            cache,
            data_dir,
            store,
            live,
            keep,
            lock: tokio::sync::Mutex::new(()),
            control: None,
        }
    }

    /// How many deployments are kept, here and in the control plane.
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// The app being served now.
    pub fn current(&self) -> Arc<App> {
        self.live.current()
    }

    /// Deploys through the fleet's control plane from now on.
    pub fn with_control(mut self, control: Arc<ControlPlane>) -> Self {
        self.control = Some(control);
        self
    }

    /// Every kept deployment, newest first: the fleet's with a control plane.
    pub async fn list(&self) -> Result<Vec<Listed>, DeployError> {
        match &self.control {
            Some(control) => rollout::list(control).await.map_err(rollout::refused),
            None => self.store.list().map_err(DeployError::Internal),
        }
    }

    /// The control plane this host deploys through, if any.
    pub fn control(&self) -> Option<&Arc<ControlPlane>> {
        self.control.as_ref()
    }

    /// The deployment being served, if any.
    pub fn serving(&self) -> Option<String> {
        self.live.current().deployment().map(str::to_owned)
    }

    /// With a control plane, takes the fleet's deploy lock and brings this host to the
    /// committed generation, so that a change starts from what the fleet serves.
    async fn fleet_lock(&self) -> Result<Option<FleetLock>, DeployError> {
        let Some(control) = &self.control else {
            return Ok(None);
        };
        let lock = rollout::lock(control).await?;
        follow::catch_up(control, self)
            .await
            .map_err(rollout::refused)?;
        Ok(Some(lock))
    }

    /// The folder of deployment `id`, fetched from the control plane (hash-checked) when this
    /// host has not stored it yet.
    pub async fn local_copy(&self, id: &str) -> anyhow::Result<PathBuf> {
        if let Ok(path) = self.store.path_of(id) {
            return Ok(path);
        }
        let Some(control) = &self.control else {
            return self.store.path_of(id);
        };
        let Some(record) = rollout::record(control, id).await? else {
            anyhow::bail!("no deployment {id:?}; `routelet deployments` lists them");
        };
        let bytes = bundles::get(control, &record.bundle).await?;
        let staging = self.store.staging()?;
        let into = staging.path.clone();
        tokio::task::spawn_blocking(move || bundle::unpack(&bytes[..], &into))
            .await?
            .with_context(|| format!("unpacking bundle {}", record.bundle))?;
        let mut meta = record.meta;
        self.store.commit(staging, &mut meta)
    }

    /// Checks and loads a stored deployment without serving it.
    pub async fn open_app(&self, path: &Path, id: &str) -> anyhow::Result<App> {
        let opening = app::Opening {
            deployment: Some(id.to_owned()),
            pages: Some(page_store(&self.data_dir, self.control.as_ref(), id)),
            dev: false,
        };
        app::open(&self.base, &self.cache, &self.data_dir, path, opening).await
    }

    /// Serves `app` (deployment `id`) from now on, and records it as this host's active one.
    pub fn make_active(&self, id: &str, app: App) {
        if let Err(error) = self.store.activate(id) {
            tracing::error!("recording {id} as the active deployment on disk: {error:#}");
        }
        self.live.swap(app);
        metrics::get().set_active_deployment(id);
        match self.store.prune(self.keep) {
            Ok(removed) if !removed.is_empty() => {
                for id in &removed {
                    let _ = std::fs::remove_dir_all(self.data_dir.join(PAGES_DIR).join(id));
                }
                tracing::info!("removed old deployments {}", removed.join(", "))
            }
            Ok(_) => {}
            Err(error) => tracing::warn!("removing old deployments failed: {error:#}"),
        }
    }

    /// Where uploads are written while they arrive: beside the deployments, so that a
    /// component moves into one with a rename.
    pub fn upload_dir(&self) -> &Path {
        self.store.dir()
    }

    /// Deploys a whole bundle (a gzip-compressed tar of a dist folder).
    pub async fn deploy_bundle(&self, bundle: Upload) -> Result<Deployed, DeployError> {
        let _one_at_a_time = self.lock.lock().await;
        let _fleet = self.fleet_lock().await?;
        let staging = self.store.staging().map_err(DeployError::Internal)?;
        let into = staging.path.clone();
        tokio::task::spawn_blocking(move || {
            let reader = bundle
                .reader()
                .map_err(|e| DeployError::Internal(e.into()))?;
            bundle::unpack(reader, &into).map_err(|e| DeployError::BadUpload(e.into()))
        })
        .await
        .map_err(|e| DeployError::Internal(e.into()))??;
        if !staging.path.join(MANIFEST_FILE).is_file() && routes_of(&staging.path)?.is_empty() {
            count("deploy", false);
            return Err(DeployError::Invalid(anyhow::anyhow!(
                "the bundle has no {MANIFEST_FILE} and no routes under pages/, so every path \
                 would answer 404; pack a dist folder made by `routelet build` (to take routes \
                 down, undeploy them one at a time)"
            )));
        }
        self.switch_to_new(staging, "bundle".into(), "deploy").await
    }

    /// Replaces or adds the component of one route, keeping the rest of the active deployment.
    pub async fn deploy_route(&self, pattern: &str, wasm: Upload) -> Result<Deployed, DeployError> {
        let _one_at_a_time = self.lock.lock().await;
        let _fleet = self.fleet_lock().await?;
        let staging = self.copy_of_active()?;
        let existing = route_file(&staging.path, pattern)?;
        let relative = match existing {
            Some(relative) => relative,
            None => file_for_pattern(pattern).map_err(DeployError::BadUpload)?,
        };
        let target = staging.path.join(&relative);
        let (sha256, size) = (wasm.sha256_hex(), wasm.len());
        crate::private::create_dir(target.parent().expect("below pages"))
            .and_then(|()| wasm.persist(&target))
            .map_err(|e| DeployError::Internal(e.into()))?;
        edit_manifest(&staging.path, |manifest| {
            manifest.pages.retain(|page| page.pattern != pattern);
            let route = ManifestRoute {
                pattern: pattern.to_owned(),
                file: relative.clone(),
                source: "routelet deploy --route".into(),
                sha256,
                size,
            };
            match manifest.routes.iter_mut().find(|r| r.file == relative) {
                Some(existing) => *existing = route,
                None => manifest.routes.push(route),
            }
        })?;
        let served = route_file(&staging.path, pattern)?;
        if served.as_deref() != Some(relative.as_str()) {
            return Err(DeployError::Invalid(anyhow::anyhow!(
                "{relative} would not serve {pattern}; give the pattern as `routelet routes` \
                 prints it"
            )));
        }
        self.switch_to_new(staging, format!("route {pattern}"), "route")
            .await
    }

    /// Removes one route from the active deployment.
    pub async fn undeploy_route(&self, pattern: &str) -> Result<Deployed, DeployError> {
        let _one_at_a_time = self.lock.lock().await;
        let _fleet = self.fleet_lock().await?;
        let staging = self.copy_of_active()?;
        let Some(relative) = route_file(&staging.path, pattern)? else {
            return Err(DeployError::NotFound(format!(
                "the active deployment has no route {pattern}"
            )));
        };
        std::fs::remove_file(staging.path.join(&relative))
            .map_err(|e| DeployError::Internal(e.into()))?;
        edit_manifest(&staging.path, |manifest| {
            manifest.routes.retain(|r| r.file != relative);
            manifest.pages.retain(|page| page.pattern != pattern);
        })?;
        self.switch_to_new(staging, format!("undeploy {pattern}"), "undeploy")
            .await
    }

    /// Serves a kept deployment again: `id`, or the one made before the active one.
    pub async fn rollback(&self, id: Option<&str>) -> Result<Deployed, DeployError> {
        let _one_at_a_time = self.lock.lock().await;
        let _fleet = self.fleet_lock().await?;
        let started = std::time::Instant::now();
        let previous = match (id, &self.control) {
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(control)) => rollout::previous(control).await.map_err(rollout::refused)?,
            (None, None) => self.store.previous().map_err(DeployError::Internal)?,
        };
        let target = previous.ok_or_else(|| {
            DeployError::NotFound(
                "there is no deployment older than the active one to roll back to".into(),
            )
        })?;
        if let Some(control) = &self.control {
            let known = rollout::list(control)
                .await
                .map_err(rollout::refused)?
                .iter()
                .any(|listed| listed.meta.id == target);
            if !known {
                return Err(DeployError::NotFound(format!(
                    "no deployment {target:?}; `routelet deployments` lists them"
                )));
            }
        }
        let path = self
            .local_copy(&target)
            .await
            .map_err(|e| match self.control {
                Some(_) => rollout::refused(e),
                None => DeployError::NotFound(format!("{e:#}")),
            })?;
        let result = self.activate(&path, &target, started, "rollback").await;
        count("rollback", result.is_ok());
        result
    }

    /// Imports `dist` as a new active deployment unless the store already holds it; the
    /// start-up path of `routelet serve DIST --admin ...`.
    pub async fn import(&self, dist: &Path) -> anyhow::Result<Option<String>> {
        let _one_at_a_time = self.lock.lock().await;
        let _fleet = self.fleet_lock().await?;
        let fingerprint = bundle::fingerprint(dist)?;
        let known = match &self.control {
            Some(control) => rollout::find_fingerprint(control, &fingerprint).await?,
            None => self.store.find_fingerprint(&fingerprint)?,
        };
        if known.is_some() {
            return Ok(None);
        }
        let staging = self.store.staging()?;
        bundle::copy_dist(dist, &staging.path)?;
        let deployed = self
            .switch_to_new(staging, format!("serve {}", dist.display()), "serve")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Some(deployed.id))
    }

    /// A staging copy of the active deployment (or an empty one).
    fn copy_of_active(&self) -> Result<Staging, DeployError> {
        let staging = self.store.staging().map_err(DeployError::Internal)?;
        if let Some(active) = self.store.active().map_err(DeployError::Internal)? {
            let from = self.store.path_of(&active).map_err(DeployError::Internal)?;
            bundle::copy_dist(&from, &staging.path).map_err(DeployError::Internal)?;
        }
        Ok(staging)
    }

    /// Checks a staged dist, stores it, loads it, then makes it active.
    async fn switch_to_new(
        &self,
        staging: Staging,
        source: String,
        kind: &'static str,
    ) -> Result<Deployed, DeployError> {
        let started = std::time::Instant::now();
        let result = self.switch_inner(staging, source, started, kind).await;
        count(kind, result.is_ok());
        result
    }

    async fn switch_inner(
        &self,
        staging: Staging,
        source: String,
        started: std::time::Instant,
        kind: &'static str,
    ) -> Result<Deployed, DeployError> {
        let routes = routes_of(&staging.path)?;
        let fingerprint = bundle::fingerprint(&staging.path).map_err(DeployError::Internal)?;
        keep_preview_secret(&staging.path).map_err(DeployError::Internal)?;
        let mut meta = DeploymentMeta {
            id: staging.id.clone(),
            created: store::now_secs(),
            seq: 0,
            source,
            routes: routes.iter().map(|r| r.pattern.clone()).collect(),
            fingerprint,
        };
        let path = self
            .store
            .commit(staging, &mut meta)
            .map_err(DeployError::Internal)?;
        let result = self.activate(&path, &meta.id, started, kind).await;
        if result.is_err() {
            // Never served: remove it so that it cannot be rolled back to.
            let _ = std::fs::remove_dir_all(&path);
        }
        result
    }

    /// Loads a stored deployment and swaps it in (on every host, with a control plane); the
    /// old one finishes its requests.
    async fn activate(
        &self,
        path: &Path,
        id: &str,
        started: std::time::Instant,
        kind: &'static str,
    ) -> Result<Deployed, DeployError> {
        let app = self
            .open_app(path, id)
            .await
            .map_err(DeployError::Invalid)?;
        let routes = table_of(&app);
        let fleet = match &self.control {
            None => {
                self.store.activate(id).map_err(DeployError::Internal)?;
                self.make_active(id, app);
                None
            }
            Some(control) => {
                let meta = self.store.meta(id).map_err(DeployError::Internal)?;
                Some(rollout::roll_out(control, self, &meta, path, app, kind).await?)
            }
        };
        tracing::info!("deployment {id} is active ({} routes)", routes.len());
        Ok(Deployed {
            id: id.to_owned(),
            routes,
            millis: started.elapsed().as_millis() as u64,
            fleet,
        })
    }
}

/// Gives a new deployment a preview secret of its own, unless its dist has one (the build
/// writes one) or its config names one: every host then signs preview cookies with the same
/// key, and a restart keeps them valid.
fn keep_preview_secret(dir: &Path) -> anyhow::Result<()> {
    let file = dir.join(crate::dist::PREVIEW_SECRET_FILE);
    if file.exists() {
        return Ok(());
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    crate::private::write(&file, hex::encode(secret).as_bytes())
        .with_context(|| format!("writing {}", file.display()))
}

/// Counts one deploy attempt.
fn count(kind: &'static str, ok: bool) {
    metrics::get()
        .deploys
        .get_or_create(&DeployLabels {
            kind,
            result: if ok { "ok" } else { "refused" },
        })
        .inc();
}

/// The route table of a loaded app, for the deploy report.
pub fn table_of(app: &App) -> Vec<RouteRow> {
    app.routes()
        .iter()
        .map(|(route, target)| RouteRow {
            pattern: route.pattern().to_owned(),
            file: crate::dist::slash_path(&target.file().relative)
                .unwrap_or_else(|_| target.file().relative.display().to_string()),
        })
        .collect()
}

/// A staged dist's route table, checked with Next.js's rules.
fn routes_of(dir: &Path) -> Result<Vec<RouteRow>, DeployError> {
    let dist = Dist::open(dir).map_err(DeployError::Invalid)?;
    let table = dist
        .route_table()
        .context("invalid route layout")
        .map_err(DeployError::Invalid)?;
    Ok(table
        .iter()
        .map(|(route, file)| RouteRow {
            pattern: route.pattern().to_owned(),
            file: crate::dist::slash_path(&file.relative).unwrap_or_default(),
        })
        .collect())
}

/// The file (relative, with `/`) that serves `pattern` in a dist, if any.
fn route_file(dir: &Path, pattern: &str) -> Result<Option<String>, DeployError> {
    Ok(routes_of(dir)?
        .into_iter()
        .find(|row| row.pattern == pattern)
        .map(|row| row.file))
}

/// The longest route segment: a file name (255 bytes on Linux and macOS) with `.wasm` after it.
const MAX_SEGMENT_BYTES: usize = 250;

/// Where a new route's component goes: `/api/users/[id]` → `pages/api/users/[id].wasm`.
fn file_for_pattern(pattern: &str) -> anyhow::Result<String> {
    let Some(rest) = pattern.strip_prefix('/') else {
        anyhow::bail!("route {pattern:?} must start with `/`, as `routelet routes` prints it");
    };
    if rest.is_empty() {
        return Ok("pages/index.wasm".into());
    }
    for segment in rest.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains(['\\', '\0'])
        {
            anyhow::bail!("route {pattern:?} has an invalid segment {segment:?}");
        }
        if segment.len() > MAX_SEGMENT_BYTES {
            anyhow::bail!(
                "route segment {}... is {} bytes; a segment may be at most {MAX_SEGMENT_BYTES} \
                 bytes, since it becomes a file name",
                segment.chars().take(24).collect::<String>(),
                segment.len()
            );
        }
    }
    Ok(format!("pages/{rest}.wasm"))
}

/// Rewrites a staged dist's manifest, when it has one.
fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut Manifest)) -> Result<(), DeployError> {
    let path = dir.join(MANIFEST_FILE);
    let Ok(text) = std::fs::read(&path) else {
        return Ok(());
    };
    let mut manifest: Manifest = serde_json::from_slice(&text)
        .context("the active deployment's manifest.json is invalid")
        .map_err(DeployError::Internal)?;
    edit(&mut manifest);
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    crate::private::write(&path, &json).map_err(|e| DeployError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_names_its_component_file() {
        assert_eq!(file_for_pattern("/").unwrap(), "pages/index.wasm");
        assert_eq!(
            file_for_pattern("/api/users/[id]").unwrap(),
            "pages/api/users/[id].wasm"
        );
        for bad in ["api", "/api/../x", "/api//x", "/api/./x", "/a\\b"] {
            assert!(file_for_pattern(bad).is_err(), "{bad}");
        }
        let long = format!("/api/{}", "a".repeat(251));
        assert!(file_for_pattern(&long).is_err());
        assert!(file_for_pattern(&long[..long.len() - 1]).is_ok());
    }
}
