//! A page being served: its prerendered paths, fallback rendering, stale-while-revalidate,
//! Preview Mode, and its data route.

use std::collections::HashSet;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::bindings::Fallback;
use super::cache::{CacheEntry, PageCache};
use super::kept::{KeptPage, PageStore};
use super::paths::{PagePath, PagePattern};
use super::rendered::{self, Outcome, Rendered};
use super::sandbox::PageComponent;
use crate::factors::preview::cookies::{PreviewKeys, PreviewState};
use crate::response::{self as responses, Body};

/// Which representation of a page a request asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Representation {
    /// The page's HTML, at its own path.
    Html,
    /// Its props, at `/_routelet/data/<build-id>/<path>.json`.
    Json,
}

/// The header that says whether a page came from the cache.
pub const CACHE_HEADER: &str = "x-routelet-cache";

/// A page, ready to serve.
pub struct PageRoute {
    /// The compiled page.
    pub component: PageComponent,
    pattern: PagePattern,
    fallback: Fallback,
    listed: HashSet<String>,
    cache: PageCache,
    /// Where what this page regenerates is kept beyond this host's memory.
    store: Option<Arc<dyn PageStore>>,
}

impl PageRoute {
    /// A page with what the build generated for it (`prerendered`), its listed paths and the
    /// store its regenerated paths go to.
    pub fn new(
        component: PageComponent,
        fallback: Fallback,
        listed: HashSet<String>,
        prerendered: Vec<(String, Rendered)>,
        store: Option<Arc<dyn PageStore>>,
    ) -> Self {
        let pattern = PagePattern::new(&component.pattern);
        let cache = PageCache::default();
        for (path, rendered) in prerendered {
            cache.insert(&path, Arc::new(CacheEntry::prerendered(rendered)));
        }
        Self {
            component,
            pattern,
            fallback,
            listed,
            cache,
            store,
        }
    }

    /// Serves `page` for `path` from now on unless what is held is newer: a version another
    /// host (or this host before a restart) regenerated. False when it was older.
    pub fn adopt(&self, path: &str, page: &KeptPage) -> bool {
        let (rendered, generated_at) = page.rendered();
        self.cache.offer(
            path,
            Arc::new(CacheEntry::generated_at(rendered, generated_at)),
        )
    }

    /// Hands a freshly generated entry to the store.
    async fn keep(&self, path: &str, entry: &CacheEntry) -> Result<(), String> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let Some(page) =
            KeptPage::new(&self.component.pattern, &entry.rendered, entry.generated_at)
        else {
            return Err("its HTML is not UTF-8 text".to_owned());
        };
        store.save(path, &page).await.map_err(|e| format!("{e:#}"))
    }

    /// [`PageRoute::keep`] in the background, for a generation a request waited for.
    fn keep_in_background(self: &Arc<Self>, path: &str, entry: Arc<CacheEntry>) {
        if self.store.is_none() {
            return;
        }
        let (this, path) = (self.clone(), path.to_owned());
        tokio::spawn(async move {
            if let Err(why) = this.keep(&path, &entry).await {
                this.not_kept(&path, &why);
            }
        });
    }

    fn not_kept(&self, path: &str, why: &str) {
        tracing::warn!(
            page = %self.component.pattern,
            "{path} was generated but not kept for other hosts or the next start: {why}"
        );
    }

    /// Generates one path in the sandbox; errors name the page and the path.
    pub async fn render(
        &self,
        path: &PagePath,
        preview: Option<String>,
        log_id: &str,
    ) -> Result<Rendered, String> {
        let page = self.pattern.pattern();
        let fail = |reason: String| {
            format!(
                "Error occurred prerendering page \"{}\" ({}) for path {}: {reason}",
                page,
                self.component.file.relative.display(),
                path.path
            )
        };
        let (result, html) = self
            .component
            .props_and_render(path.params.clone(), preview, log_id)
            .await
            .map_err(|e| fail(e.to_string()))?;
        rendered::check(page, &path.path, result, html).map_err(fail)
    }

    /// Answers a request for `encoded_path`, already matched to this page by the router.
    pub async fn respond(
        self: &Arc<Self>,
        encoded_path: &str,
        representation: Representation,
        method: &Method,
        headers: &HeaderMap,
        keys: &PreviewKeys,
        request_id: &str,
    ) -> hyper::Response<Body> {
        if method != Method::GET && method != Method::HEAD {
            return responses::get_or_head_only();
        }
        let Some(path) = self.pattern.match_path(encoded_path) else {
            return not_found(representation);
        };
        let cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        match keys.check(cookies) {
            PreviewState::On(data) => {
                return match self.render(&path, Some(data), request_id).await {
                    Ok(rendered) => {
                        let mut response = build(&rendered, None, representation, method, headers);
                        response.headers_mut().insert(
                            header::CACHE_CONTROL,
                            HeaderValue::from_static(
                                "private, no-cache, no-store, max-age=0, must-revalidate",
                            ),
                        );
                        response
                    }
                    Err(message) => failed(&message, request_id),
                };
            }
            PreviewState::Off => {
                self.cached(&path, representation, method, headers, request_id)
                    .await
            }
            PreviewState::Invalid => {
                let mut response = self
                    .cached(&path, representation, method, headers, request_id)
                    .await;
                responses::append_cookies(&mut response, &keys.style().exit_cookies());
                response
            }
        }
    }

    async fn cached(
        self: &Arc<Self>,
        path: &PagePath,
        representation: Representation,
        method: &Method,
        headers: &HeaderMap,
        request_id: &str,
    ) -> hyper::Response<Body> {
        if let Some(entry) = self.cache.get(&path.path) {
            let state = if entry.is_stale() {
                self.regenerate_in_background(path.clone());
                "STALE"
            } else {
                "HIT"
            };
            return build(
                &entry.rendered,
                Some((state, &entry)),
                representation,
                method,
                headers,
            );
        }
        let may_render = !self.pattern.is_dynamic()
            || self.listed.contains(&path.path)
            || self.fallback != Fallback::None;
        if !may_render {
            return not_found(representation);
        }
        let this = self.clone();
        let generate_path = path.clone();
        let log_id = request_id.to_owned();
        let (outcome, kept) = self
            .cache
            .generate_once(&path.path, async move {
                this.render(&generate_path, None, &log_id).await
            })
            .await;
        if let (Ok(entry), true) = (&outcome, kept) {
            self.keep_in_background(&path.path, entry.clone());
        }
        match outcome {
            Ok(entry) => build(
                &entry.rendered,
                Some(("MISS", &entry)),
                representation,
                method,
                headers,
            ),
            Err(message) => failed(&message, request_id),
        }
    }

    fn regenerate_in_background(self: &Arc<Self>, path: PagePath) {
        if self.cache.is_generating(&path.path) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let log_id = format!("revalidate {}", path.path);
            let (result, kept) = this
                .cache
                .generate_once(&path.path, this.render(&path, None, &log_id))
                .await;
            match result {
                Ok(entry) => {
                    tracing::info!(page = %this.component.pattern, "regenerated {}", path.path);
                    if kept && let Err(why) = this.keep(&path.path, &entry).await {
                        this.not_kept(&path.path, &why);
                    }
                }
                Err(message) => tracing::error!(
                    page = %this.component.pattern,
                    "regenerating {} failed; the previous page is kept: {message}",
                    path.path
                ),
            }
        });
    }

    /// Regenerates `encoded_path` now, for an API route's `revalidate`.
    pub async fn revalidate(&self, encoded_path: &str) -> Result<(), String> {
        let path = self
            .pattern
            .match_path(encoded_path)
            .ok_or_else(|| format!("Failed to revalidate {encoded_path}: Invalid response 404"))?;
        if self.pattern.is_dynamic()
            && self.fallback == Fallback::None
            && !self.listed.contains(&path.path)
        {
            return Err(format!(
                "Failed to revalidate {encoded_path}: Invalid response 404"
            ));
        }
        // A render of its own, not one already running: that one may have read the data
        // before the edit this call is about (Next.js's revalidate likewise sends a request
        // of its own that bypasses the cache).
        let log_id = format!("revalidate {}", path.path);
        let began = std::time::SystemTime::now();
        let rendered = self
            .render(&path, None, &log_id)
            .await
            .map_err(|message| format!("Failed to revalidate {encoded_path}: {message}"))?;
        let entry = Arc::new(CacheEntry::generated_at(rendered, began));
        if !self.cache.offer(&path.path, entry.clone()) {
            // A generation that began later has already replaced it, or this is a new path of
            // a full page: served once, kept nowhere.
            return Ok(());
        }
        // Kept before the answer, so the path is what every host serves next.
        self.keep(&path.path, &entry).await.map_err(|why| {
            format!(
                "Failed to revalidate {encoded_path}: it was regenerated on this host but could \
                 not be kept for the others: {why}"
            )
        })
    }
}

fn build(
    rendered: &Rendered,
    cache: Option<(&str, &CacheEntry)>,
    representation: Representation,
    method: &Method,
    request_headers: &HeaderMap,
) -> hyper::Response<Body> {
    let (status, content_type, body, etag) = match (&rendered.outcome, representation) {
        (Outcome::Page { html, .. }, Representation::Html) => (
            StatusCode::OK,
            "text/html; charset=utf-8",
            html.clone(),
            cache.map(|(_, entry)| entry.etag.clone()),
        ),
        (Outcome::Page { props, .. }, Representation::Json) => {
            (StatusCode::OK, "application/json", props.clone(), None)
        }
        (Outcome::NotFound, _) => return not_found(representation),
        (Outcome::Redirect { location, status }, Representation::Json) => {
            let json = serde_json::json!({
                "__N_REDIRECT": location,
                "__N_REDIRECT_STATUS": status,
            });
            (
                StatusCode::OK,
                "application/json",
                json.to_string().into(),
                None,
            )
        }
        (Outcome::Redirect { location, status }, Representation::Html) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
            let mut response = responses::text(status, location);
            match HeaderValue::from_str(location) {
                Ok(value) => {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                Err(_) => {
                    return responses::text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal Server Error",
                    );
                }
            }
            if status == StatusCode::PERMANENT_REDIRECT
                && let Ok(refresh) = HeaderValue::from_str(&format!("0;url={location}"))
            {
                response.headers_mut().insert(header::REFRESH, refresh);
            }
            add_cache_headers(&mut response, rendered, cache);
            return response;
        }
    };
    let not_modified = etag.as_deref().is_some_and(|etag| {
        request_headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|candidate| candidate.trim() == etag || candidate.trim() == "*")
    });
    let mut response = if not_modified {
        let mut response = hyper::Response::new(responses::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let length = body.len();
        let mut response = hyper::Response::new(if method == Method::HEAD {
            responses::empty()
        } else {
            responses::full(body)
        });
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        response
    };
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    add_cache_headers(&mut response, rendered, cache);
    response
}

fn add_cache_headers(
    response: &mut hyper::Response<Body>,
    rendered: &Rendered,
    cache: Option<(&str, &CacheEntry)>,
) {
    let Some((state, _)) = cache else {
        return;
    };
    let seconds = rendered.revalidate.unwrap_or(31_536_000);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("s-maxage={seconds}, stale-while-revalidate"))
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    if let Ok(value) = HeaderValue::from_str(state) {
        headers.insert(CACHE_HEADER, value);
    }
}

fn not_found(representation: Representation) -> hyper::Response<Body> {
    match representation {
        Representation::Html => responses::not_found(),
        Representation::Json => {
            let mut response = hyper::Response::new(responses::full(r#"{"notFound":true}"#));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

fn failed(message: &str, request_id: &str) -> hyper::Response<Body> {
    tracing::error!(request_id, "{message}");
    responses::page_failed()
}
