//! The deploying host's side: take the fleet's deploy lock, store the bundle and its
//! deployment row, open generation G as preparing, wait (bounded) until every live host has
//! loaded it, then commit G, or abandon it so that nothing changes anywhere.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;

use super::{CHANNEL, ControlPlane, LIVE_WINDOW_SECS, PREPARE_BOUND, Prepared, Unreachable};
use super::{bounded, bundles, describe};
use crate::app::App;
use crate::deploy::store::DeploymentMeta;
use crate::deploy::{DeployError, Deployer};

/// The advisory lock key one deploy at a time holds across the fleet.
const DEPLOY_LOCK: i64 = 0x726f_7574_656c_0002;
/// How long a deploy waits for another one to finish before it gives up.
const LOCK_WAIT: &str = "30s";
/// How often the deploying host reads how far the others are.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// How a committed generation reached the fleet, for the deploy's answer.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FleetReport {
    /// The generation now active.
    pub generation: i64,
    /// The hosts that had prepared it when it was committed, this one included.
    pub prepared: Vec<String>,
    /// Live hosts that had not prepared it within the bound: they switch when they have.
    pub lagging: Vec<String>,
}

/// The fleet's deploy lock, held on a connection of its own: the server releases it when this
/// is dropped, and also when the host holding it dies.
pub struct FleetLock {
    _client: tokio_postgres::Client,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for FleetLock {
    fn drop(&mut self) {
        // Closing the connection ends the session, and the lock with it.
        self.driver.abort();
    }
}

/// Takes the fleet's deploy lock, waiting up to [`LOCK_WAIT`] for a deploy through another host.
pub async fn lock(control: &ControlPlane) -> Result<FleetLock, DeployError> {
    let (client, driver) = control.dedicated().await.map_err(unavailable)?;
    let taken = async {
        client
            .batch_execute(&format!("SET lock_timeout = '{LOCK_WAIT}'"))
            .await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&DEPLOY_LOCK])
            .await
    };
    match tokio::time::timeout(Duration::from_secs(40), taken).await {
        Ok(Ok(_)) => {
            control.mark_up();
            Ok(FleetLock {
                _client: client,
                driver,
            })
        }
        Ok(Err(error)) if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
            Err(DeployError::Busy(format!(
                "another deploy has held the fleet's deploy lock for {LOCK_WAIT}; nothing \
                 changed, try again"
            )))
        }
        Ok(Err(error)) => Err(unavailable(Unreachable(describe(&error)))),
        Err(_) => Err(unavailable(Unreachable(
            "taking the deploy lock did not finish in 40 s".into(),
        ))),
    }
}

/// A deploy refused because the database is away.
pub fn unavailable(error: Unreachable) -> DeployError {
    DeployError::Unavailable(format!("{error}; nothing changed"))
}

/// A failed control-plane step as the deploy's answer: 503 when the database is away.
pub fn refused(error: anyhow::Error) -> DeployError {
    match error.downcast::<Unreachable>() {
        Ok(away) => unavailable(away),
        Err(other) => DeployError::Internal(other),
    }
}

/// Stores deployment `meta` (its bundle packed from `path`) unless it is stored already,
/// prepares it across the fleet with `app` as this host's copy, and commits it.
pub async fn roll_out(
    control: &ControlPlane,
    deployer: &Deployer,
    meta: &DeploymentMeta,
    path: &Path,
    app: App,
    kind: &str,
) -> Result<FleetReport, DeployError> {
    store(control, meta, path).await.map_err(refused)?;
    let client = control.client().await.map_err(unavailable)?;
    let generation: i64 = bounded(
        control,
        client.query_one(
            "INSERT INTO routelet_control.generations (deployment, kind, state, by_host) \
             VALUES ($1, $2, 'preparing', $3) RETURNING generation",
            &[&meta.id, &kind, &control.host_id],
        ),
    )
    .await
    .map_err(refused)?
    .get(0);
    drop(client);
    tracing::info!(
        "generation {generation}: preparing deployment {} on every host",
        meta.id
    );
    control.sync.lock().await.prepared = Some(Prepared {
        generation,
        deployment: meta.id.clone(),
        app,
    });
    let outcome = async {
        report_prepared(control, generation, None).await?;
        notify(control).await?;
        wait_for_fleet(control, generation).await
    }
    .await;
    let mut report = match outcome {
        Ok(Ok(report)) => report,
        Ok(Err(failed)) => {
            abandon(control, generation).await;
            return Err(DeployError::Invalid(anyhow::anyhow!(
                "generation {generation} was not committed, nothing changed: {failed}"
            )));
        }
        Err(error) => {
            abandon(control, generation).await;
            return Err(refused(error));
        }
    };
    if let Err(error) = commit(control, generation, &meta.id).await {
        // The commit may or may not have reached the database; every host follows what it
        // recorded once it answers again.
        return Err(match error.downcast::<Unreachable>() {
            Ok(away) => DeployError::Unavailable(format!(
                "{away} while committing generation {generation}; every host will serve \
                 whatever the database recorded once it is back"
            )),
            Err(other) => {
                abandon(control, generation).await;
                DeployError::Internal(other)
            }
        });
    }
    let mut sync = control.sync.lock().await;
    super::follow::switch_to(control, deployer, &mut sync, generation, &meta.id)
        .await
        .map_err(DeployError::Internal)?;
    drop(sync);
    match super::prune::prune(control, deployer.keep()).await {
        Ok(removed) if !removed.is_empty() => tracing::info!(
            "the control plane no longer keeps deployments {}",
            removed.join(", ")
        ),
        Ok(_) => {}
        // Committed and served; what was not pruned now is pruned after the next commit.
        Err(error) => tracing::warn!("pruning the control plane's old deployments: {error:#}"),
    }
    report.generation = generation;
    report.prepared.insert(0, control.host_id.clone());
    Ok(report)
}

/// Stores the bundle and the deployment row, unless the deployment is stored already (a
/// rollback, or a second host importing the same dist).
async fn store(control: &ControlPlane, meta: &DeploymentMeta, path: &Path) -> anyhow::Result<()> {
    let client = control.client().await?;
    let known = bounded(
        control,
        client.query_opt(
            "SELECT 1 FROM routelet_control.deployments WHERE id = $1",
            &[&meta.id],
        ),
    )
    .await?;
    if known.is_some() {
        return Ok(());
    }
    let dir = path.to_owned();
    let bytes = tokio::task::spawn_blocking(move || crate::deploy::bundle::pack(&dir)).await??;
    let sha256 = bundles::sha256_hex(&bytes);
    bundles::put(control, &sha256, &bytes).await?;
    let routes = serde_json::to_value(&meta.routes)?;
    bounded(
        control,
        client.execute(
            "INSERT INTO routelet_control.deployments \
             (id, bundle, created, source, routes, fingerprint, by_host) \
             VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7)",
            &[
                &meta.id,
                &sha256,
                &(meta.created as i64),
                &meta.source,
                &routes.to_string(),
                &meta.fingerprint,
                &control.host_id,
            ],
        ),
    )
    .await?;
    Ok(())
}

/// Wakes every host.
async fn notify(control: &ControlPlane) -> anyhow::Result<()> {
    let client = control.client().await?;
    bounded(
        control,
        client.execute("SELECT pg_notify($1, '')", &[&CHANNEL]),
    )
    .await?;
    Ok(())
}

/// Records how this host's preparing of `generation` went.
pub async fn report_prepared(
    control: &ControlPlane,
    generation: i64,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let client = control.client().await?;
    bounded(
        control,
        client.execute(
            "INSERT INTO routelet_control.hosts (id, address, prepared_generation, prepare_error) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET last_seen = now(), \
             prepared_generation = $3, prepare_error = $4",
            &[&control.host_id, &control.address(), &generation, &error],
        ),
    )
    .await?;
    Ok(())
}

/// Waits until every other host seen in the last [`LIVE_WINDOW_SECS`] has prepared
/// `generation`, at most [`PREPARE_BOUND`]; a host that could not prepare it ends the wait.
async fn wait_for_fleet(
    control: &ControlPlane,
    generation: i64,
) -> anyhow::Result<Result<FleetReport, String>> {
    let deadline = Instant::now() + PREPARE_BOUND;
    loop {
        let client = control.client().await?;
        let rows = bounded(
            control,
            client.query(
                "SELECT id, address, prepared_generation, prepare_error, \
                 last_seen > now() - make_interval(secs => $2) \
                 FROM routelet_control.hosts WHERE id <> $1 ORDER BY id",
                &[&control.host_id, &LIVE_WINDOW_SECS],
            ),
        )
        .await?;
        drop(client);
        let mut report = FleetReport::default();
        for row in rows {
            let (id, address): (String, String) = (row.get(0), row.get(1));
            let name = format!("{id} ({address})");
            let prepared: Option<i64> = row.get(2);
            let live: bool = row.get(4);
            if prepared == Some(generation) {
                if let Some(error) = row.get::<_, Option<String>>(3) {
                    return Ok(Err(format!("host {name} could not prepare it: {error}")));
                }
                report.prepared.push(name);
            } else if live {
                report.lagging.push(name);
            }
        }
        if report.lagging.is_empty() {
            return Ok(Ok(report));
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "generation {generation}: committing without {}, which did not prepare it \
                 within {PREPARE_BOUND:?}; they switch when they have",
                report.lagging.join(", ")
            );
            return Ok(Ok(report));
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
}

/// Makes `generation` the active one and wakes every host, in one transaction.
async fn commit(control: &ControlPlane, generation: i64, deployment: &str) -> anyhow::Result<()> {
    let mut client = control.client().await?;
    let transaction = bounded(control, client.transaction()).await?;
    let changed = bounded(
        control,
        transaction.execute(
            "UPDATE routelet_control.generations SET state = 'committed', decided_at = now() \
             WHERE generation = $1 AND state = 'preparing'",
            &[&generation],
        ),
    )
    .await?;
    anyhow::ensure!(
        changed == 1,
        "generation {generation} is no longer preparing; it was not committed"
    );
    bounded(
        control,
        transaction.execute(
            "UPDATE routelet_control.active SET generation = $1, deployment = $2, \
             updated_at = now()",
            &[&generation, &deployment],
        ),
    )
    .await?;
    bounded(
        control,
        transaction.execute("SELECT pg_notify($1, '')", &[&CHANNEL]),
    )
    .await?;
    bounded(control, transaction.commit()).await?;
    tracing::info!("generation {generation} is committed: deployment {deployment}");
    Ok(())
}

/// Marks `generation` abandoned, so no host prepares it any longer; best effort, since a
/// generation left preparing is passed over by the next one and by time.
async fn abandon(control: &ControlPlane, generation: i64) {
    let result = async {
        let client = control.client().await?;
        bounded(
            control,
            client.execute(
                "UPDATE routelet_control.generations SET state = 'abandoned', \
                 decided_at = now() WHERE generation = $1 AND state = 'preparing'",
                &[&generation],
            ),
        )
        .await?;
        bounded(
            control,
            client.execute("SELECT pg_notify($1, '')", &[&CHANNEL]),
        )
        .await?;
        anyhow::Ok(())
    }
    .await;
    let mut sync = control.sync.lock().await;
    if sync
        .prepared
        .as_ref()
        .is_some_and(|p| p.generation == generation)
    {
        sync.prepared = None;
    }
    match result {
        Ok(()) => tracing::info!("generation {generation} is abandoned; nothing changed"),
        Err(error) => tracing::warn!("abandoning generation {generation}: {error:#}"),
    }
}

/// One deployment as the control plane records it.
pub struct Record {
    /// Its bundle's SHA-256.
    pub bundle: String,
    /// What the host writes into the deployment's folder.
    pub meta: DeploymentMeta,
}

/// Deployment `id` as recorded, or `None` when there is no such deployment.
pub async fn record(control: &ControlPlane, id: &str) -> anyhow::Result<Option<Record>> {
    let client = control.client().await?;
    let row = bounded(
        control,
        client.query_opt(
            "SELECT bundle, created, seq, source, routes::text, fingerprint \
             FROM routelet_control.deployments WHERE id = $1",
            &[&id],
        ),
    )
    .await?;
    Ok(row.map(|row| Record {
        bundle: row.get(0),
        meta: DeploymentMeta {
            id: id.to_owned(),
            created: row.get::<_, i64>(1) as u64,
            seq: row.get::<_, i64>(2) as u64,
            source: row.get(3),
            routes: serde_json::from_str(row.get::<_, &str>(4)).unwrap_or_default(),
            fingerprint: row.get(5),
        },
    }))
}

/// Every deployment that was ever committed, newest first, the active one marked.
pub async fn list(control: &ControlPlane) -> anyhow::Result<Vec<crate::deploy::store::Listed>> {
    let client = control.client().await?;
    let rows = bounded(
        control,
        client.query(
            "SELECT d.id, d.created, d.seq, d.source, d.routes::text, d.fingerprint, \
             d.id = a.deployment \
             FROM routelet_control.deployments d CROSS JOIN routelet_control.active a \
             WHERE EXISTS (SELECT 1 FROM routelet_control.generations g \
                           WHERE g.deployment = d.id AND g.state = 'committed') \
             ORDER BY d.seq DESC",
            &[],
        ),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| crate::deploy::store::Listed {
            meta: DeploymentMeta {
                id: row.get(0),
                created: row.get::<_, i64>(1) as u64,
                seq: row.get::<_, i64>(2) as u64,
                source: row.get(3),
                routes: serde_json::from_str(row.get::<_, &str>(4)).unwrap_or_default(),
                fingerprint: row.get(5),
            },
            active: row.get::<_, Option<bool>>(6).unwrap_or(false),
        })
        .collect())
}

/// The deployment committed before the active one, by order of creation: what `rollback`
/// goes back to.
pub async fn previous(control: &ControlPlane) -> anyhow::Result<Option<String>> {
    let listed = list(control).await?;
    let Some(position) = listed.iter().position(|l| l.active) else {
        return Ok(None);
    };
    Ok(listed.get(position + 1).map(|l| l.meta.id.clone()))
}

/// The committed deployment made from a dist with this fingerprint, if there is one.
pub async fn find_fingerprint(
    control: &ControlPlane,
    fingerprint: &str,
) -> anyhow::Result<Option<String>> {
    Ok(list(control)
        .await?
        .into_iter()
        .find(|l| l.meta.fingerprint == fingerprint)
        .map(|l| l.meta.id))
}
