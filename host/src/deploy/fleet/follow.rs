//! Every host's side: say it is alive, listen for wake-ups, and read the rows itself on each
//! wake-up, on each reconnect and every second. A generation being prepared is fetched
//! (hash-checked), loaded and reported; a committed one is swapped in, from what was prepared
//! when it can be.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::{CHANNEL, ControlPlane, HEARTBEAT, HostSync, Prepared, bounded, rollout};
use crate::deploy::Deployer;

/// How long a host waits before trying again a generation it could not load.
const RETRY_FAILED: Duration = Duration::from_secs(10);
/// How long after it was opened a generation still preparing is worth loading.
const PREPARING_FOR_SECS: f64 = 60.0;

/// Starts the heartbeat, the listener and the follower; they run as long as the process.
pub fn spawn(control: Arc<ControlPlane>, deployer: Arc<Deployer>) {
    tokio::spawn(heartbeat(control.clone()));
    tokio::spawn(listen(control.clone()));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = control.wake.notified() => {}
                () = tokio::time::sleep(HEARTBEAT) => {}
            }
            let synced = sync_once(&control, &deployer).await;
            let adopted = match synced {
                Ok(()) => deployer.current().adopt_kept_pages().await.map(|_| ()),
                Err(_) => Ok(()),
            };
            for error in [synced, adopted].into_iter().filter_map(Result::err) {
                if error.downcast_ref::<super::Unreachable>().is_none() {
                    tracing::warn!("control plane: {error:#}");
                }
            }
        }
    });
}

/// Says this host is alive every [`HEARTBEAT`]: hosts not seen recently are not waited for.
async fn heartbeat(control: Arc<ControlPlane>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = beat(&control).await;
    }
}

async fn beat(control: &ControlPlane) -> anyhow::Result<()> {
    let client = control.client().await?;
    bounded(
        control,
        client.execute(
            "INSERT INTO routelet_control.hosts (id, address) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET address = $2, last_seen = now()",
            &[&control.host_id, &control.address()],
        ),
    )
    .await?;
    Ok(())
}

/// Keeps a `LISTEN` connection open, reconnecting after a second when it drops, and wakes the
/// follower on every notification and every reconnect.
async fn listen(control: Arc<ControlPlane>) {
    loop {
        if let Ok((client, connection)) = connect_listener(&control).await {
            let statement = format!("LISTEN {CHANNEL}");
            let listening = client.batch_execute(&statement);
            let driven = drive(&control, connection);
            tokio::pin!(driven);
            // The connection must be driven for LISTEN to be answered.
            let subscribed = tokio::select! {
                result = listening => result.is_ok(),
                () = &mut driven => false,
            };
            if subscribed {
                control.wake.notify_one();
                driven.await;
            }
            drop(client);
        }
        tokio::time::sleep(HEARTBEAT).await;
    }
}

type Listener = (
    tokio_postgres::Client,
    tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
);

async fn connect_listener(control: &ControlPlane) -> Result<Listener, ()> {
    match tokio::time::timeout(
        Duration::from_secs(4),
        control.config.connect(tokio_postgres::NoTls),
    )
    .await
    {
        Ok(Ok(pair)) => Ok(pair),
        Ok(Err(error)) => {
            control.mark_down(&super::describe(&error));
            Err(())
        }
        Err(_) => {
            control.mark_down("no connection within 4 s");
            Err(())
        }
    }
}

/// Reads the connection's messages until it closes, waking the follower on each notification.
async fn drive(
    control: &ControlPlane,
    mut connection: tokio_postgres::Connection<
        tokio_postgres::Socket,
        tokio_postgres::tls::NoTlsStream,
    >,
) {
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(tokio_postgres::AsyncMessage::Notification(_)) => control.wake.notify_one(),
            Ok(_) => {}
            Err(error) => {
                control.mark_down(&super::describe(&error));
                break;
            }
        }
    }
}

/// One look at the rows: switch to the committed generation, prepare the one being prepared,
/// and let go of a prepared app whose generation was abandoned.
async fn sync_once(control: &ControlPlane, deployer: &Deployer) -> anyhow::Result<()> {
    let client = control.client().await?;
    let active = bounded(
        control,
        client.query_one(
            "SELECT generation, deployment FROM routelet_control.active",
            &[],
        ),
    )
    .await?;
    let (active_generation, active_deployment): (Option<i64>, Option<String>) =
        (active.get(0), active.get(1));
    let preparing = bounded(
        control,
        client.query_opt(
            "SELECT generation, deployment FROM routelet_control.generations \
             WHERE state = 'preparing' AND by_host <> $1 AND generation > $2 \
             AND started_at > now() - make_interval(secs => $3) \
             ORDER BY generation DESC LIMIT 1",
            &[
                &control.host_id,
                &active_generation.unwrap_or(0),
                &PREPARING_FOR_SECS,
            ],
        ),
    )
    .await?;
    let mut sync = control.sync.lock().await;
    if let Some(prepared) = &sync.prepared {
        let state = bounded(
            control,
            client.query_opt(
                "SELECT state FROM routelet_control.generations WHERE generation = $1",
                &[&prepared.generation],
            ),
        )
        .await?;
        let state: Option<String> = state.map(|row| row.get(0));
        if state.as_deref() != Some("preparing") && state.as_deref() != Some("committed") {
            sync.prepared = None;
        }
    }
    drop(client);
    if let (Some(generation), Some(deployment)) = (active_generation, active_deployment)
        && generation != sync.active_generation
        && may_try(&sync, generation)
    {
        match switch_to(control, deployer, &mut sync, generation, &deployment).await {
            Ok(()) => sync.failed = None,
            Err(error) => {
                let why = format!("{error:#}");
                tracing::error!(
                    "cannot serve generation {generation} (deployment {deployment}): {why}; \
                     still serving {}",
                    deployer.serving().unwrap_or_else(|| "nothing".into())
                );
                sync.failed = Some((generation, why, Instant::now()));
            }
        }
    }
    if let Some(row) = preparing {
        let (generation, deployment): (i64, String) = (row.get(0), row.get(1));
        let already = sync
            .prepared
            .as_ref()
            .is_some_and(|p| p.generation == generation);
        if !already && may_try(&sync, generation) {
            prepare(control, deployer, &mut sync, generation, &deployment).await?;
        }
    }
    Ok(())
}

/// Whether a generation this host could not load is due for another try.
fn may_try(sync: &HostSync, generation: i64) -> bool {
    match &sync.failed {
        Some((failed, _, when)) if *failed == generation => when.elapsed() >= RETRY_FAILED,
        _ => true,
    }
}

/// Fetches, checks and loads `deployment` for `generation` without serving it, and reports how
/// that went.
async fn prepare(
    control: &ControlPlane,
    deployer: &Deployer,
    sync: &mut HostSync,
    generation: i64,
    deployment: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let loaded = async {
        let path = deployer.local_copy(deployment).await?;
        deployer.open_app(&path, deployment).await
    }
    .await;
    match loaded {
        Ok(app) => {
            tracing::info!(
                "generation {generation}: prepared deployment {deployment} in {:.0?}",
                started.elapsed()
            );
            sync.prepared = Some(Prepared {
                generation,
                deployment: deployment.to_owned(),
                app,
            });
            rollout::report_prepared(control, generation, None).await
        }
        Err(error) => {
            let why = format!("{error:#}");
            tracing::error!(
                "generation {generation}: cannot prepare deployment {deployment}: {why}"
            );
            sync.failed = Some((generation, why.clone(), Instant::now()));
            rollout::report_prepared(control, generation, Some(&why)).await
        }
    }
}

/// Serves committed `generation` (deployment `id`): the app prepared for it when there is one,
/// else loaded now (a host that was away, or a rollback it had not prepared).
pub async fn switch_to(
    control: &ControlPlane,
    deployer: &Deployer,
    sync: &mut HostSync,
    generation: i64,
    id: &str,
) -> anyhow::Result<()> {
    let app = match sync.prepared.take() {
        Some(prepared) if prepared.generation == generation && prepared.deployment == id => {
            prepared.app
        }
        other => {
            sync.prepared = other.filter(|p| p.generation > generation);
            if deployer.serving().as_deref() == Some(id) {
                // Already serving it (a restart, or a rollout this host made).
                return finish_switch(control, sync, generation).await;
            }
            let path = deployer.local_copy(id).await?;
            deployer.open_app(&path, id).await?
        }
    };
    deployer.make_active(id, app);
    tracing::info!("generation {generation}: serving deployment {id}");
    finish_switch(control, sync, generation).await
}

async fn finish_switch(
    control: &ControlPlane,
    sync: &mut HostSync,
    generation: i64,
) -> anyhow::Result<()> {
    sync.active_generation = generation;
    crate::metrics::get().active_generation.set(generation);
    let client = control.client().await?;
    bounded(
        control,
        client.execute(
            "INSERT INTO routelet_control.hosts (id, address, active_generation) \
             VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET last_seen = now(), \
             active_generation = $3",
            &[&control.host_id, &control.address(), &generation],
        ),
    )
    .await?;
    Ok(())
}

/// Brings this host to the committed generation before it serves or deploys; `Ok(false)` when
/// the database is away (the local active deployment is served).
pub async fn catch_up(control: &ControlPlane, deployer: &Deployer) -> anyhow::Result<bool> {
    let client = match control.client().await {
        Ok(client) => client,
        Err(_) => return Ok(false),
    };
    let row = bounded(
        control,
        client.query_one(
            "SELECT generation, deployment FROM routelet_control.active",
            &[],
        ),
    )
    .await?;
    drop(client);
    let (generation, deployment): (Option<i64>, Option<String>) = (row.get(0), row.get(1));
    let (Some(generation), Some(deployment)) = (generation, deployment) else {
        return Ok(true);
    };
    let mut sync = control.sync.lock().await;
    if sync.active_generation != generation {
        switch_to(control, deployer, &mut sync, generation, &deployment).await?;
    }
    Ok(true)
}
