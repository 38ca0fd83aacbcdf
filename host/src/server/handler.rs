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
use crate::config::AppConfig;
use crate::dist::Dist;
use crate::runtime::compile_cache::CompileCache;
use crate::runtime::component::{LoadedRoute, RouteSpec};
use crate::runtime::engine::Runtime;
use crate::runtime::request;

/// One deployment being served: its routes, compiled, and its public files.
pub struct App {
    runtime: Runtime,
    routes: RouteTable<LoadedRoute>,
    public: PublicFiles,
    request_ids: RequestIds,
}

impl App {
    /// Validates the layout, then compiles and pre-instantiates every route: all or nothing.
    pub fn load(dist: &Dist, runtime: Runtime, cache: &CompileCache) -> anyhow::Result<Self> {
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
        let specs: Vec<RouteSpec<'_>> = files
            .iter()
            .map(|(route, file)| RouteSpec {
                pattern: route.pattern(),
                file,
                config: config.route(route.pattern()),
            })
            .collect();
        let started = Instant::now();
        let loaded = LoadedRoute::load_all(&runtime, cache, &specs)?;
        tracing::info!(
            "compile cache {}: {} (routes ready in {:.0?})",
            cache.dir().display(),
            cache.summary(),
            started.elapsed()
        );
        let loaded: Vec<(String, LoadedRoute)> = loaded
            .into_iter()
            .map(|route| (route.pattern.to_string(), route))
            .collect();
        let routes = RouteTable::new(loaded).context("route table changed while loading")?;
        Ok(Self {
            runtime,
            routes,
            public,
            request_ids: RequestIds::new(),
        })
    }

    /// The routes in match order, for the start-up banner.
    pub fn routes(&self) -> &RouteTable<LoadedRoute> {
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
        let request_id: Arc<str> = self.request_ids.next().into();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let mut response = self.dispatch(request, &request_id).await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        tracing::info!(
            %peer,
            request_id = %request_id,
            "{method} {path} {} {:.1}ms",
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        response
    }

    async fn dispatch(
        &self,
        request: hyper::Request<Incoming>,
        request_id: &Arc<str>,
    ) -> hyper::Response<Body> {
        let path = match normalize(request.uri().path(), request.uri().query()) {
            Normalized::Redirect(location) => return responses::permanent_redirect(&location),
            Normalized::Clean(path) => path.to_owned(),
        };
        if let Some(file) = self.public.get(&path) {
            return file.respond(request.method(), request.headers()).await;
        }
        match self.routes.lookup(&path) {
            Lookup::Found(found) => {
                let route = found.value;
                match request::run(
                    &self.runtime,
                    route,
                    found.params,
                    request_id.clone(),
                    request,
                )
                .await
                {
                    Ok(response) => response,
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
            Lookup::BadEscape => responses::text(StatusCode::BAD_REQUEST, "Bad Request"),
            Lookup::NotFound => match self
                .public
                .get(&format!("{}/index.html", path.trim_end_matches('/')))
            {
                Some(index) => index.respond(request.method(), request.headers()).await,
                None => {
                    responses::text(StatusCode::NOT_FOUND, "404 | This page could not be found.")
                }
            },
        }
    }
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
