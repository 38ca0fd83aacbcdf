//! Many hosts, one app: a control plane in PostgreSQL that every host of a fleet joins with
//! `routelet serve --control URL`. It holds immutable, content-addressed deployments, one
//! "active" row with a generation number, and one row per host.
//!
//! A deploy through any host prepares generation G everywhere (each host fetches the bundle,
//! checks its hash and loads it without switching), then commits G, and every host swaps in the
//! app it already loaded. Notifications only wake hosts: each reads the rows itself, on every
//! notification, on every reconnect and every second. When the database is away every host
//! keeps serving what it serves, and deploys are refused with nothing changed.
//!
//! ```text
//! routelet_control.bundles        sha256, size, chunk count    (immutable)
//! routelet_control.bundle_chunks  bundle, part, bytes          (1 MiB bytea each)
//! routelet_control.deployments    id, seq, bundle, source, routes, fingerprint
//! routelet_control.generations    generation, deployment, preparing|committed|abandoned
//! routelet_control.active         the one committed generation every host serves
//! routelet_control.hosts          id, address, last seen, prepared and active generation
//! ```

pub mod bundles;
pub mod follow;
pub mod pages;
pub mod prune;
pub mod rollout;
pub mod schema;

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};

use crate::app::App;

/// The channel hosts `LISTEN` on; a notification's payload is never trusted, only a wake-up.
pub const CHANNEL: &str = "routelet_control";
/// How long connecting to the database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one statement may run.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a host says it is alive, and reads the rows without being woken.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A host not seen for this long is not waited for by a deploy.
pub const LIVE_WINDOW_SECS: f64 = 3.0;
/// The longest a deploy waits for live hosts to prepare before it commits without them.
pub const PREPARE_BOUND: Duration = Duration::from_secs(30);
/// The file in the data folder that keeps a host's id across restarts.
const HOST_ID_FILE: &str = "host-id";

/// The database could not be reached or did not answer in time: nothing was changed by us.
#[derive(Debug, thiserror::Error)]
#[error("the control-plane database is unreachable: {0}")]
pub struct Unreachable(pub String);

/// What this host has loaded for a generation that is not committed yet.
pub struct Prepared {
    /// The generation it was loaded for.
    pub generation: i64,
    /// The deployment that generation serves.
    pub deployment: String,
    /// Loaded and checked, not serving.
    pub app: App,
}

/// What one host serves and has prepared; its deploys and its follower take turns on it.
#[derive(Default)]
pub struct HostSync {
    /// The committed generation this host serves; 0 before its first.
    pub active_generation: i64,
    /// The generation loaded ahead of its commit.
    pub prepared: Option<Prepared>,
    /// The last generation this host tried to prepare or switch to and could not, why, and
    /// when: it is tried again after a pause, not every second.
    pub failed: Option<(i64, String, std::time::Instant)>,
}

/// One host's membership of the control plane.
pub struct ControlPlane {
    pool: deadpool_postgres::Pool,
    config: tokio_postgres::Config,
    /// Where the database is, without its password, for messages.
    pub shown_url: String,
    /// This host's id, kept in the data folder so a restart is the same host.
    pub host_id: String,
    /// The public address this host serves on, for the hosts table.
    address: OnceLock<String>,
    up: AtomicBool,
    down_since: Mutex<Option<String>>,
    /// Shared by this host's deploys and its follower.
    pub sync: tokio::sync::Mutex<HostSync>,
    /// Wakes the follower: a notification arrived, or the listener reconnected.
    pub wake: tokio::sync::Notify,
}

impl ControlPlane {
    /// Sets up the pool for `url` (connecting lazily) and reads or makes this host's id.
    pub fn new(url: &str, data_dir: &Path) -> anyhow::Result<Arc<Self>> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| anyhow::anyhow!("--control is not a valid PostgreSQL URL: {e}"))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("routelet control plane");
        let manager = Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(8)
            .wait_timeout(Some(CONNECT_TIMEOUT * 2))
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_millis(500)))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .context("setting up the control-plane pool")?;
        Ok(Arc::new(Self {
            pool,
            shown_url: shown_url(&config),
            config,
            host_id: host_id(data_dir)?,
            address: OnceLock::new(),
            up: AtomicBool::new(false),
            down_since: Mutex::new(None),
            sync: tokio::sync::Mutex::new(HostSync::default()),
            wake: tokio::sync::Notify::new(),
        }))
    }

    /// Records the public address this host serves on, shown in the hosts table.
    pub fn set_address(&self, address: String) {
        let _ = self.address.set(address);
    }

    fn address(&self) -> &str {
        self.address.get().map(String::as_str).unwrap_or("")
    }

    /// Whether the database answered the last time it was asked.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Why the database is away, and since when, for `/readyz`.
    pub fn down_reason(&self) -> Option<String> {
        self.down_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A pooled connection, or [`Unreachable`] within the bounded waits.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, Unreachable> {
        match self.pool.get().await {
            Ok(client) => Ok(client),
            Err(error) => {
                let error = Unreachable(describe_pool_error(&error));
                self.mark_down(&error.0);
                Err(error)
            }
        }
    }

    /// A connection of its own, outside the pool: for `LISTEN`, and for the deploy lock, which
    /// the server releases by itself if this host dies holding it.
    pub async fn dedicated(
        &self,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), Unreachable> {
        let connected = tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            self.config.connect(tokio_postgres::NoTls),
        )
        .await;
        match connected {
            Ok(Ok((client, connection))) => {
                let driver = tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok((client, driver))
            }
            Ok(Err(error)) => Err(self.down(describe(&error))),
            Err(_) => Err(self.down(format!("no connection within {:?}", CONNECT_TIMEOUT * 2))),
        }
    }

    fn down(&self, message: String) -> Unreachable {
        self.mark_down(&message);
        Unreachable(message)
    }

    /// Notes that the database answered; logs the change when it was away.
    pub fn mark_up(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            crate::metrics::get().control_plane_up.set(1);
            let was_down = self
                .down_since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if was_down.is_some() {
                tracing::info!("control plane {} is reachable again", self.shown_url);
            }
        }
    }

    /// Notes that the database did not answer; logs the change when it was up.
    pub fn mark_down(&self, why: &str) {
        let mut since = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        if since.is_none() {
            *since = Some(format!(
                "since {} UTC: {why}",
                crate::deploy::store::format_time(crate::deploy::store::now_secs())
            ));
        }
        drop(since);
        if self.up.swap(false, Ordering::Relaxed) {
            crate::metrics::get().control_plane_up.set(0);
            tracing::warn!(
                "control plane {} is unreachable ({why}): serving the active deployment; \
                 deploys are refused until it is back",
                self.shown_url
            );
        }
    }
}

/// Runs one database call within [`STATEMENT_TIMEOUT`]; a failure marks the database down
/// unless the server itself answered with an error.
pub async fn bounded<T>(
    control: &ControlPlane,
    work: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, work).await {
        Ok(Ok(value)) => {
            control.mark_up();
            Ok(value)
        }
        Ok(Err(error)) if error.as_db_error().is_some() => {
            control.mark_up();
            Err(anyhow::Error::new(error).context("the control-plane database refused a statement"))
        }
        Ok(Err(error)) => Err(control.down(describe(&error)).into()),
        Err(_) => Err(control
            .down(format!(
                "a statement took longer than {STATEMENT_TIMEOUT:?}"
            ))
            .into()),
    }
}

/// A PostgreSQL error with its cause, which tokio-postgres keeps apart.
pub fn describe(error: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    match error.source() {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

fn describe_pool_error(error: &deadpool_postgres::PoolError) -> String {
    use std::error::Error as _;
    match error.source() {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

/// `postgres://user@host:port/db`, never the password.
fn shown_url(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// This host's id: made once, kept in the data folder (0600).
fn host_id(data_dir: &Path) -> anyhow::Result<String> {
    let file = data_dir.join(HOST_ID_FILE);
    if let Ok(text) = std::fs::read_to_string(&file) {
        let id = text.trim();
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Ok(id.to_owned());
        }
    }
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let id = format!("host-{}", hex::encode(random));
    crate::private::write(&file, id.as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_url_has_no_password() {
        let config =
            tokio_postgres::Config::from_str("postgres://app:secret@db:6543/prod").unwrap();
        assert_eq!(shown_url(&config), "postgres://app@db:6543/prod");
    }

    #[test]
    fn a_host_keeps_its_id_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = host_id(dir.path()).unwrap();
        assert!(first.starts_with("host-"));
        assert_eq!(host_id(dir.path()).unwrap(), first);
    }
}
