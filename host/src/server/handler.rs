//! The request path, top-down: normalise → public files → route → run the guest, and every
//! failure becomes a response and a log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use http::{HeaderValue, StatusCode};
use hyper::body::Incoming;
use routelet_router::{Lookup, Normalized, RouteTable, normalize};

use super::public_files::PublicFiles;
use super::responses::{self, Body};
use crate::capabilities::grants::Grants;
use crate::capabilities::outbound_http::{self, AllowList, RouteOutbound};
use crate::capabilities::preview::{PreviewAction, PreviewHost, Revalidate};
use crate::config::AppConfig;
use crate::dist::{Dist, PREVIEW_SECRET_FILE, RouteFile};
use crate::metrics::{self, RouteMetrics};
use crate::pages::{
    self,
    preview_cookies::{PreviewKeys, enter_cookies, exit_cookies},
    route::{PageRoute, Representation},
};
use crate::runtime::compile_cache::CompileCache;
use crate::runtime::component::{self, LoadedRoute};
use crate::runtime::engine::Runtime;
use crate::runtime::request;
use crate::runtime::route_limits::RouteLimits;

/// What a path resolves to.
pub enum Target {
    /// An API route or any other `wasi:http` component.
    Handler(Box<LoadedRoute>),
    /// A static page.
    Page(Arc<PageRoute>),
}

impl Target {
    /// The component file, for the start-up log.
    pub fn file(&self) -> &RouteFile {
        match self {
            Target::Handler(route) => &route.file,
            Target::Page(page) => &page.component.file,
        }
    }
}

/// Where page data is served, as Next.js serves `/_next/data/<build-id>/`.
const DATA_PREFIX: &str = "/_routelet/data/";

/// One deployment being served: its routes, compiled, and its public files.
pub struct App {
    runtime: Arc<Runtime>,
    routes: Arc<RouteTable<Target>>,
    public: PublicFiles,
    preview_keys: Arc<PreviewKeys>,
    /// Handed to every API request; made once, not per request.
    revalidator: Arc<dyn Revalidate>,
    build_id: Option<String>,
    deployment: Option<String>,
    request_ids: RequestIds,
}

/// A dist that passed every check and compiled, not yet connected to its data.
pub struct Checked {
    dist: Dist,
    config: AppConfig,
    files: RouteTable<RouteFile>,
    public: PublicFiles,
    components: Vec<wasmtime::component::Component>,
    /// For each route: whether it is a static page.
    kinds: Vec<bool>,
    /// `[limits]`, for pages.
    app_limits: RouteLimits,
    /// For each route: its limits.
    limits: Vec<RouteLimits>,
    /// For each route: where it may send HTTP requests.
    allow_lists: Vec<AllowList>,
    /// The deployment's one outbound client, from `[outbound_http]`.
    outbound: outbound_http::Client,
}

impl Checked {
    /// The app's configuration, to open its stores and databases.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// The dist folder.
    pub fn dist(&self) -> &Dist {
        &self.dist
    }

    /// The route patterns in match order.
    pub fn patterns(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|(r, _)| r.pattern().to_owned())
            .collect()
    }
}

impl App {
    /// Checks a dist without changing anything: the route layout (Next.js rules), its config,
    /// public files against pages, every component's hash, that it compiles (or is in the
    /// compile cache), and that it exports a world this host serves.
    pub fn check(dist: Dist, runtime: &Runtime, cache: &CompileCache) -> anyhow::Result<Checked> {
        let files = dist
            .route_table()
            .with_context(|| format!("invalid route layout in {}", dist.root().display()))?;
        let public = PublicFiles::scan(&dist.public_dir())?;
        let config = AppConfig::load(dist.root())?;
        config.check_routes(files.iter().map(|(route, _)| route.pattern()))?;
        for (route, file) in files.iter() {
            if !route.is_dynamic() && public.get(route.pattern()).is_some() {
                bail!(
                    "A conflicting public file and page file was found for path {} \
                     (public{} and {})",
                    route.pattern(),
                    route.pattern(),
                    file.relative.display()
                );
            }
        }
        let started = Instant::now();
        let route_files: Vec<&RouteFile> = files.iter().map(|(_, file)| file).collect();
        let components = component::compile_all(runtime, cache, &route_files)?;
        tracing::info!(
            "compile cache {}: {} (compiled in {:.0?})",
            cache.dir().display(),
            cache.summary(),
            started.elapsed()
        );
        let app_limits = RouteLimits::app(&config.limits, &runtime.limits)?;
        let outbound = outbound_http::Client::new(outbound_http::config::Settings::from_config(
            &config.outbound_http,
        )?)?;
        let mut kinds = Vec::with_capacity(components.len());
        let mut limits = Vec::with_capacity(components.len());
        let mut allow_lists = Vec::with_capacity(components.len());
        for ((route, file), component) in files.iter().zip(&components) {
            let pattern = route.pattern();
            limits.push(app_limits.route(
                pattern,
                config.route(pattern).and_then(|r| r.limits.as_ref()),
                &runtime.limits,
            )?);
            let is_api = pattern == "/api" || pattern.starts_with("/api/");
            let is_page = !is_api && pages::is_page(&runtime.engine, component);
            let allow_list = match config.route(pattern) {
                Some(route) => route.allow_list(pattern)?,
                None => AllowList::default(),
            };
            if is_page {
                if let Some(route) = config.route(pattern) {
                    route.check_page(pattern, &file.relative.display().to_string())?;
                }
                pages::check_world(runtime, component, file)?;
            } else {
                component::check_world(runtime, component, file)?;
            }
            kinds.push(is_page);
            allow_lists.push(allow_list);
        }
        Ok(Checked {
            dist,
            config,
            files,
            public,
            components,
            kinds,
            app_limits,
            limits,
            allow_lists,
            outbound,
        })
    }

    /// Connects a checked dist to its data and pre-instantiates every route: all or nothing.
    pub fn load(
        checked: Checked,
        runtime: Runtime,
        deployment: Option<String>,
    ) -> anyhow::Result<Self> {
        let Checked {
            dist,
            config,
            files,
            public,
            components,
            kinds,
            app_limits,
            limits,
            allow_lists,
            outbound: client,
        } = checked;
        let mut runtime = runtime;
        // Pages run under the app's limits; API routes under their own.
        runtime.limits.memory_bytes = app_limits.memory_bytes;
        runtime.limits.timeout = app_limits.timeout;
        let runtime = Arc::new(runtime);
        let mut loaded = Vec::with_capacity(files.len());
        for (((((route, file), component), is_page), limits), allow) in files
            .iter()
            .zip(&components)
            .zip(kinds)
            .zip(limits)
            .zip(allow_lists)
        {
            let pattern = route.pattern();
            let target = if is_page {
                Target::Page(Arc::new(pages::load(
                    &runtime,
                    component,
                    pattern,
                    file,
                    dist.root(),
                    dist.page(pattern),
                    Grants::of(config.route(pattern)),
                )?))
            } else {
                Target::Handler(Box::new(LoadedRoute::new(
                    &runtime,
                    component,
                    pattern,
                    file,
                    config.route(pattern),
                    limits,
                    (!allow.is_empty()).then(|| {
                        Arc::new(RouteOutbound {
                            allow,
                            client: client.clone(),
                        })
                    }),
                )?))
            };
            loaded.push((pattern.to_owned(), target));
        }
        let routes =
            Arc::new(RouteTable::new(loaded).context("route table changed while loading")?);
        let revalidator: Arc<dyn Revalidate> = Arc::new(SiteRevalidator {
            routes: routes.clone(),
        });
        let preview_keys = Arc::new(preview_secret(&dist, &config)?);
        Ok(Self {
            runtime,
            routes,
            public,
            preview_keys,
            revalidator,
            build_id: dist.build_id().map(str::to_owned),
            deployment,
            request_ids: RequestIds::new(),
        })
    }

    /// The build id from the manifest, for the start-up banner.
    pub fn build_id(&self) -> Option<&str> {
        self.build_id.as_deref()
    }

    /// The deployment this app serves, when it came from the host's deployment store.
    pub fn deployment(&self) -> Option<&str> {
        self.deployment.as_deref()
    }

    /// The routes in match order, for the start-up banner.
    pub fn routes(&self) -> &RouteTable<Target> {
        &self.routes
    }

    /// How many public files are served.
    pub fn public_file_count(&self) -> usize {
        self.public.len()
    }

    /// Answers one request; never fails, never panics the host on bad input.
    pub async fn handle(
        &self,
        request: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> hyper::Response<Body> {
        let started = Instant::now();
        let metrics = metrics::get();
        metrics.in_flight.inc();
        let request_id: Arc<str> = match client_request_id(request.headers()) {
            Some(id) => id.into(),
            None => self.request_ids.next().into(),
        };
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let (mut response, answered_by) = self.dispatch(request, &request_id).await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        answered_by
            .metrics()
            .answered(status, elapsed.as_secs_f64());
        metrics.in_flight.dec();
        tracing::info!(
            %peer,
            request_id = %request_id,
            route = %answered_by,
            "{method} {path} {status} {:.1}ms",
            elapsed.as_secs_f64() * 1000.0
        );
        response
    }

    async fn dispatch(
        &self,
        request: hyper::Request<Incoming>,
        request_id: &Arc<str>,
    ) -> (hyper::Response<Body>, AnsweredBy<'_>) {
        let path = match normalize(request.uri().path(), request.uri().query()) {
            Normalized::Redirect(location) => {
                return (
                    responses::permanent_redirect(&location),
                    AnsweredBy::Fixed(Fixed::Redirect),
                );
            }
            Normalized::Clean(path) => path.to_owned(),
        };
        if let Some(rest) = path.strip_prefix(DATA_PREFIX) {
            return (
                self.page_data(rest, &request, request_id).await,
                AnsweredBy::Fixed(Fixed::PageData),
            );
        }
        if let Some(file) = self.public.get(&path) {
            return (
                file.respond(request.method(), request.headers()).await,
                AnsweredBy::Fixed(Fixed::Public),
            );
        }
        match self.routes.lookup(&path) {
            Lookup::Found(found) => match found.value {
                Target::Handler(route) => (
                    self.run_handler(route, found.params, request, request_id)
                        .await,
                    AnsweredBy::Route(&route.pattern, &route.metrics),
                ),
                Target::Page(page) => (
                    page.respond(
                        &path,
                        Representation::Html,
                        request.method(),
                        request.headers(),
                        &self.preview_keys,
                        request_id,
                    )
                    .await,
                    AnsweredBy::Route(&page.component.pattern, &page.component.metrics),
                ),
            },
            Lookup::BadEscape => (
                responses::text(StatusCode::BAD_REQUEST, "Bad Request"),
                AnsweredBy::Fixed(Fixed::BadRequest),
            ),
            Lookup::NotFound => match self
                .public
                .get(&format!("{}/index.html", path.trim_end_matches('/')))
            {
                Some(index) => (
                    index.respond(request.method(), request.headers()).await,
                    AnsweredBy::Fixed(Fixed::Public),
                ),
                None => (responses::not_found(), AnsweredBy::Fixed(Fixed::NotFound)),
            },
        }
    }

    /// `/_routelet/data/<build-id>/<path>.json`: a page's props.
    async fn page_data(
        &self,
        rest: &str,
        request: &hyper::Request<Incoming>,
        request_id: &Arc<str>,
    ) -> hyper::Response<Body> {
        let not_found = responses::not_found;
        let Some((build_id, file)) = rest.split_once('/') else {
            return not_found();
        };
        if self.build_id.as_deref() != Some(build_id) {
            return not_found();
        }
        let Some(stem) = file.strip_suffix(".json") else {
            return not_found();
        };
        let path = pages::paths::path_of_stem(stem);
        match self.routes.lookup(&path) {
            Lookup::Found(found) => match found.value {
                Target::Page(page) => {
                    page.respond(
                        &path,
                        Representation::Json,
                        request.method(),
                        request.headers(),
                        &self.preview_keys,
                        request_id,
                    )
                    .await
                }
                Target::Handler(_) => not_found(),
            },
            _ => not_found(),
        }
    }

    async fn run_handler(
        &self,
        route: &LoadedRoute,
        params: routelet_router::Params,
        request: hyper::Request<Incoming>,
        request_id: &Arc<str>,
    ) -> hyper::Response<Body> {
        let preview = PreviewHost::new(self.preview_keys.clone(), Some(self.revalidator.clone()));
        let action = preview.action_slot();
        match request::run(
            &self.runtime,
            route,
            params,
            request_id.clone(),
            request,
            preview,
        )
        .await
        {
            Ok(mut response) => {
                let action = action.lock().expect("preview slot").take();
                let cookies = match action {
                    Some(PreviewAction::Enter {
                        bypass,
                        data,
                        max_age,
                    }) => enter_cookies(&bypass, &data, max_age),
                    Some(PreviewAction::Exit) => exit_cookies(),
                    None => return response,
                };
                responses::append_cookies(&mut response, &cookies);
                response
            }
            Err(failure) => {
                let status = failure.status();
                let mut response =
                    responses::text(status, status.canonical_reason().unwrap_or("Error"));
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    response
                        .headers_mut()
                        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                response
            }
        }
    }
}

/// Revalidation for API routes, against the route table of the deployment they belong to.
struct SiteRevalidator {
    routes: Arc<RouteTable<Target>>,
}

impl Revalidate for SiteRevalidator {
    fn revalidate<'a>(
        &'a self,
        path: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let clean = match normalize(path, None) {
                Normalized::Clean(clean) => clean.to_owned(),
                Normalized::Redirect(_) => path.trim_end_matches('/').to_owned(),
            };
            match self.routes.lookup(&clean) {
                Lookup::Found(found) => match found.value {
                    Target::Page(page) => page.revalidate(&clean).await,
                    Target::Handler(_) => Err(format!(
                        "Failed to revalidate {path}: it is not a static page"
                    )),
                },
                _ => Err(format!("Failed to revalidate {path}: Invalid response 404")),
            }
        })
    }
}

/// The preview secret: configured, else the one the build generated, else one for this process.
fn preview_secret(dist: &Dist, config: &AppConfig) -> anyhow::Result<PreviewKeys> {
    if let Some(secret) = &config.preview.secret {
        let secret = secret.resolve("[preview] secret")?;
        return Ok(PreviewKeys::from_secret(secret.as_bytes()));
    }
    let file = dist.root().join(PREVIEW_SECRET_FILE);
    if file.is_file() {
        let secret = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        return Ok(PreviewKeys::from_secret(&secret));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(PreviewKeys::from_secret(&secret))
}

/// What answered a request, as the `route` label of metrics and log lines.
enum AnsweredBy<'a> {
    Route(&'a Arc<str>, &'a RouteMetrics),
    Fixed(Fixed),
}

/// Answers that come from no route.
#[derive(Clone, Copy)]
enum Fixed {
    Redirect,
    PageData,
    Public,
    BadRequest,
    NotFound,
}

impl Fixed {
    const NAMES: [&'static str; 5] = [
        "redirect",
        "page-data",
        "public",
        "bad-request",
        "not-found",
    ];
}

impl AnsweredBy<'_> {
    fn metrics(&self) -> &RouteMetrics {
        static FIXED: std::sync::LazyLock<[RouteMetrics; 5]> =
            std::sync::LazyLock::new(|| Fixed::NAMES.map(RouteMetrics::new));
        match self {
            AnsweredBy::Route(_, metrics) => metrics,
            AnsweredBy::Fixed(fixed) => &FIXED[*fixed as usize],
        }
    }
}

impl std::fmt::Display for AnsweredBy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnsweredBy::Route(pattern, _) => f.write_str(pattern),
            AnsweredBy::Fixed(fixed) => f.write_str(Fixed::NAMES[*fixed as usize]),
        }
    }
}

/// The client's `x-request-id` when it is sane: 1 to 128 visible ASCII characters, no spaces.
fn client_request_id(headers: &http::HeaderMap) -> Option<&str> {
    let id = headers.get("x-request-id")?.to_str().ok()?;
    let sane = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b));
    sane.then_some(id)
}

/// Request ids unique within this process and unlikely to repeat across restarts.
struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or_default();
        Self {
            prefix: nanos ^ std::process::id(),
            counter: AtomicU64::new(1),
        }
    }

    fn next(&self) -> String {
        format!(
            "{:08x}-{:06x}",
            self.prefix,
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }
}
