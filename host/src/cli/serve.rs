//! `routelet serve [DIST]`: serve a dist folder's routes and public files over HTTP; with
//! `--admin`, serve deployments from the data folder and accept new ones while running.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};

use super::host_limits::HostLimitArgs;
use crate::admin::{Admin, token::AdminToken};
use crate::app::{self, Live};
use crate::deploy::Deployer;
use crate::deploy::fleet::{self, ControlPlane};
use crate::deploy::store::DeploymentStore;
use crate::engine::Engine;
use crate::engine::compile_cache::CompileCache;
use crate::request::shares::Client;
use crate::server::{self, Stop};
use crate::static_pages::kept::PageStore;
use crate::static_pages::on_disk::DiskPages;

/// Serve a dist folder: every `pages/**.wasm` at its path, `public/` at the root.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The dist folder written by `routelet build`, or any folder of `pages/**.wasm` components.
    /// With --admin it may be left out: the data folder's active deployment is served.
    dist: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port (the URL printed says which).
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,

    /// Where the host keeps its data (embedded SQLite stores and databases, compiled components
    /// under compile-cache/, deployments under deployments/); created on first use.
    #[arg(long, default_value = "./.routelet/data")]
    data_dir: PathBuf,

    /// Serve the admin API (deploys, rollback, /metrics, /healthz) on this address, never on
    /// the public one. Deployments are then kept in the data folder, and a restart serves the
    /// last active one.
    #[arg(long)]
    admin: Option<SocketAddr>,

    /// A file holding the admin bearer token; without it one is generated into the data
    /// folder (mode 0600) on first start.
    #[arg(long, requires = "admin")]
    admin_token_file: Option<PathBuf>,

    /// Join a fleet: deployments, their activation, preview secrets and regenerated pages are
    /// shared through this PostgreSQL database (schema routelet_control, created on first use),
    /// and a deploy through any host's admin API reaches every host. Needs --admin. Prefer the
    /// environment variable for a URL with a password: arguments show in `ps`.
    #[arg(
        long,
        env = "ROUTELET_CONTROL",
        requires = "admin",
        value_name = "POSTGRES_URL"
    )]
    control: Option<String>,

    /// Name the deployment that answered in an `x-routelet-deployment` response header.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    deployment_header: bool,

    /// How many deployments to keep for rollback, the active one included.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    keep_deployments: u32,

    #[command(flatten)]
    limits: HostLimitArgs,
}

impl ServeArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        crate::private::create_dir(&self.data_dir).with_context(|| {
            format!(
                "creating the data directory {} (choose another with --data-dir)",
                self.data_dir.display()
            )
        })?;
        if let Some(warning) = crate::private::wide_open(&self.data_dir) {
            tracing::warn!("{warning}");
        }
        self.limits.fit_open_files();
        let server_limits = self.limits.server();
        let base = Arc::new(Engine::new(self.limits.engine())?);
        let cache = Arc::new(CompileCache::open(&self.data_dir, &base.wasm)?);
        tokio.block_on(async move {
            let stop = Stop::on_signal();
            let (live, admin, fleet) = match self.admin {
                None => {
                    let Some(dist) = &self.dist else {
                        bail!(
                            "which dist folder? `routelet serve DIST`, or pass --admin to serve \
                             the data folder's active deployment"
                        );
                    };
                    let pages = kept_by_build(&self.data_dir, dist)?;
                    let opening = app::Opening {
                        pages,
                        ..Default::default()
                    };
                    let app = app::open(&base, &cache, &self.data_dir, dist, opening).await?;
                    (Live::new(app), None, None)
                }
                Some(admin_addr) => {
                    let (live, admin, fleet) = self.start_deployments(&base, &cache).await?;
                    let listener = server::bind(admin_addr).await?;
                    (live, Some((listener, admin)), fleet)
                }
            };
            live.set_names_deployment(self.deployment_header);
            let app = live.current();
            for (route, loaded) in app.routes().iter() {
                tracing::info!(
                    "route {}  {}",
                    route.pattern(),
                    loaded.file().relative.display()
                );
            }
            let listener = server::bind(self.listen).await?;
            let addr = listener.local_addr()?;
            if let Some(control) = &fleet {
                control.set_address(addr.to_string());
            }
            let mut stdout = std::io::stdout().lock();
            let what = match (app.deployment(), &self.dist) {
                (Some(id), _) => format!("deployment {id}"),
                (None, Some(dist)) => dist.display().to_string(),
                (None, None) => "nothing".into(),
            };
            let build = app
                .build_id()
                .map(|id| format!(", build {id}"))
                .unwrap_or_default();
            writeln!(
                stdout,
                "routelet: serving {} routes and {} public files from {what}{build} at \
                 http://{addr} (ready in {:.0?})",
                app.routes().len(),
                app.public_file_count(),
                started.elapsed()
            )?;
            let admin_task = match admin {
                Some((admin_listener, admin)) => {
                    writeln!(
                        stdout,
                        "routelet: admin API at http://{} (bearer token in {}{})",
                        admin_listener.local_addr()?,
                        admin.token_path().display(),
                        if admin.token_generated() {
                            ", generated now"
                        } else {
                            ""
                        }
                    )?;
                    let handler =
                        move |request, client: Client| admin.clone().handle(request, client.peer);
                    Some(tokio::spawn(server::serve(
                        admin_listener,
                        handler,
                        stop.clone(),
                        server_limits,
                    )))
                }
                None => None,
            };
            stdout.flush()?;
            drop(stdout);
            drop(app);
            let handler = move |request, client| server::handle_live(live.clone(), request, client);
            let served = server::serve(listener, handler, stop, server_limits).await;
            if let Some(task) = admin_task {
                task.await.context("the admin listener failed")??;
            }
            served
        })
    }

    /// Opens the deployment store, joins the control plane, imports DIST when it changed, and
    /// loads the active one.
    async fn start_deployments(
        &self,
        base: &Arc<Engine>,
        cache: &Arc<CompileCache>,
    ) -> anyhow::Result<(Arc<Live>, Arc<Admin>, Option<Arc<ControlPlane>>)> {
        let fleet = match &self.control {
            Some(url) => Some(ControlPlane::new(url, &self.data_dir)?),
            None => None,
        };
        let token = AdminToken::load(self.admin_token_file.as_deref(), &self.data_dir)?;
        let store = DeploymentStore::open(&self.data_dir)?;
        let app = match store.active()? {
            Some(id) => {
                let path = store.path_of(&id)?;
                let pages = crate::deploy::page_store(&self.data_dir, fleet.as_ref(), &id);
                let opening = app::Opening {
                    deployment: Some(id.clone()),
                    pages: Some(pages),
                    dev: false,
                };
                app::open(base, cache, &self.data_dir, &path, opening)
                    .await
                    .with_context(|| format!("loading the active deployment {id}"))?
            }
            None => {
                let empty = self.data_dir.join("deployments").join(".empty");
                crate::private::create_dir(&empty)?;
                app::open(base, cache, &self.data_dir, &empty, Default::default()).await?
            }
        };
        let live = Live::new(app);
        if let Some(id) = live.current().deployment() {
            crate::metrics::get().set_active_deployment(id);
        }
        let mut deployer = Deployer::new(
            base.clone(),
            cache.clone(),
            self.data_dir.clone(),
            store,
            live.clone(),
            self.keep_deployments as usize,
        );
        if let Some(control) = &fleet {
            deployer = deployer.with_control(control.clone());
        }
        let deployer = Arc::new(deployer);
        if let Some(control) = &fleet {
            join(control, &deployer).await;
            fleet::follow::spawn(control.clone(), deployer.clone());
        }
        if let Some(dist) = &self.dist {
            crate::dist::Dist::open(dist)?;
            if let Some(id) = deployer.import(dist).await? {
                tracing::info!("{} is new: deployed it as {id}", dist.display());
            }
        }
        let admin = Admin::new(token, deployer, live.clone());
        Ok((live, admin, fleet))
    }
}

/// Where a dist served without the admin API keeps its regenerated pages: under its build id,
/// so a restart on the same build serves them and a new build starts from its own.
fn kept_by_build(data_dir: &Path, dist: &Path) -> anyhow::Result<Option<Arc<dyn PageStore>>> {
    let opened = crate::dist::Dist::open(dist)?;
    let Some(build_id) = opened.build_id() else {
        return Ok(None);
    };
    if build_id.is_empty()
        || !build_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Ok(None);
    }
    Ok(Some(Arc::new(DiskPages::new(
        data_dir,
        &format!("build-{build_id}"),
    ))))
}

/// Creates the control plane's schema if needed and serves its committed generation before the
/// host says it is ready; with the database away, the local active deployment is served.
async fn join(control: &Arc<ControlPlane>, deployer: &Deployer) {
    let joined = async {
        fleet::schema::ensure(control).await?;
        fleet::follow::catch_up(control, deployer).await
    }
    .await;
    let serving = deployer.serving().unwrap_or_else(|| "nothing".into());
    match joined {
        Ok(true) => tracing::info!(
            "joined control plane {} as {}: serving {serving}",
            control.shown_url,
            control.host_id
        ),
        Ok(false) => {}
        Err(error) => tracing::warn!(
            "control plane {}: {error:#}; serving the local active deployment ({serving}) \
             until it can sync",
            control.shown_url
        ),
    }
}
