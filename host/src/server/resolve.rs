//! What answers a request, in Next.js's order: `[[headers]]` entries are collected, Next.js's
//! own trailing-slash redirect and then the app's `[[redirects]]` answer first; then
//! `beforeFiles` rewrites, page data, public files and routes without parameters, `afterFiles`
//! rewrites, dynamic routes, `fallback` rewrites, and the 404. A rewrite changes the path the
//! rest of the way looks up (and the one the route sees), never the URL the client asked for.

use std::sync::Arc;

use http::uri::PathAndQuery;
use http::{HeaderName, HeaderValue, StatusCode};
use hyper::body::Incoming;
use routelet_router::{Lookup, Normalized, normalize, normalize_trailing};

use super::access_log::{AnsweredBy, Fixed};
use crate::app::custom_routes::{Facts, Phase, Rewritten};
use crate::app::public_files::PublicFile;
use crate::app::{App, HandlerRoute, Target};
use crate::static_pages;

/// Where page data is served, as Next.js serves `/_next/data/<build-id>/`.
pub const DATA_PREFIX: &str = "/_routelet/data/";

/// What a request resolved to, before anything runs.
pub enum Resolved<'a> {
    Redirect(String),
    /// A `[[redirects]]` entry: its status and location, or why its destination failed.
    CustomRedirect(Result<(StatusCode, String), String>),
    /// A redirect's or rewrite's destination could not be built: a 500, logged.
    Failed(String),
    PageData(String),
    Public(&'a PublicFile),
    Handler(&'a HandlerRoute, routelet_router::Params),
    Page(&'a Arc<static_pages::route::PageRoute>, String),
    BadRequest,
    NotFound,
    /// `/500` asked for directly: the 500 page, with its status.
    ServerErrorPage,
}

impl Resolved<'_> {
    /// Whether the host's own 404 or 500 body in its answer gives way to the app's
    /// `pages/404` or `pages/500`, as in Next.js: for pages and paths nothing answers, not for
    /// API routes, files or page data.
    pub fn takes_error_pages(&self) -> bool {
        matches!(
            self,
            Resolved::NotFound | Resolved::Page(..) | Resolved::ServerErrorPage
        )
    }
}

/// The page paths that answer for the host's 404 and 500.
pub const ERROR_PAGES: [(StatusCode, &str); 2] = [
    (StatusCode::NOT_FOUND, "/404"),
    (StatusCode::INTERNAL_SERVER_ERROR, "/500"),
];

type Found<'a> = (Resolved<'a>, AnsweredBy<'a>);

/// The request's side of `has` and `missing`.
fn facts_of(request: &hyper::Request<Incoming>) -> Facts<'_> {
    Facts {
        headers: request.headers(),
        query: request.uri().query(),
        authority: request.uri().authority().map(|a| a.as_str()),
    }
}

/// What the matching `[[headers]]` entries add, the last one winning for a name.
pub fn custom_headers(
    app: &App,
    request: &hyper::Request<Incoming>,
) -> Vec<(HeaderName, HeaderValue)> {
    if app.custom.is_empty() {
        return Vec::new();
    }
    let mut added: Vec<(HeaderName, HeaderValue)> = Vec::new();
    for (name, value) in app
        .custom
        .headers_for(request.uri().path(), &facts_of(request))
    {
        added.retain(|(held, _)| *held != name);
        added.push((name, value));
    }
    added
}

/// Normalises the path and finds what answers it; with the target a rewrite chose, which the
/// route is then given.
pub fn resolve<'a>(
    app: &'a App,
    request: &hyper::Request<Incoming>,
) -> (Resolved<'a>, AnsweredBy<'a>, Option<PathAndQuery>) {
    let (path, query) = (request.uri().path(), request.uri().query());
    let normalized = if app.custom.trailing_slash {
        normalize_trailing(path, query)
    } else {
        normalize(path, query)
    };
    let path = match normalized {
        Normalized::Redirect(location) => {
            return (
                Resolved::Redirect(location),
                AnsweredBy::Fixed(Fixed::Redirect),
                None,
            );
        }
        Normalized::Clean(path) => path,
    };
    if app.custom.is_empty() {
        let (resolved, by) = files_and_routes(app, path, true).unwrap_or_else(not_found);
        return (resolved, by, None);
    }
    let facts = facts_of(request);
    if let Some(redirect) = app.custom.redirect_for(path, query, &facts) {
        return (
            Resolved::CustomRedirect(redirect),
            AnsweredBy::Fixed(Fixed::Redirect),
            None,
        );
    }
    let mut target = Rewritten {
        path: path.to_owned(),
        query: query.map(str::to_owned),
    };
    let mut rewritten = false;
    let mut step = |phase: Phase, target: &mut Rewritten| -> Result<bool, String> {
        if !app.custom.rewrites_in(phase) {
            return Ok(false);
        }
        match app
            .custom
            .rewrite_for(phase, &target.path, target.query.as_deref(), &facts)
        {
            Some(Ok(next)) => {
                *target = next;
                rewritten = true;
                Ok(true)
            }
            Some(Err(why)) => Err(why),
            None => Ok(false),
        }
    };
    let found = (|| -> Result<Option<Found<'a>>, String> {
        step(Phase::BeforeFiles, &mut target)?;
        if let Some(found) = files_and_routes(app, &target.path, false) {
            return Ok(Some(found));
        }
        // Rewritten or not, the path goes on to the dynamic routes.
        step(Phase::AfterFiles, &mut target)?;
        if let Some(found) = files_and_routes(app, &target.path, true) {
            return Ok(Some(found));
        }
        if step(Phase::Fallback, &mut target)? {
            return Ok(files_and_routes(app, &target.path, true));
        }
        Ok(None)
    })();
    let (resolved, by) = match found {
        Ok(found) => found.unwrap_or_else(not_found),
        Err(why) => (Resolved::Failed(why), AnsweredBy::Fixed(Fixed::Redirect)),
    };
    let given = rewritten
        .then(|| {
            let text = match &target.query {
                Some(query) => format!("{}?{query}", target.path),
                None => target.path.clone(),
            };
            PathAndQuery::try_from(text).ok()
        })
        .flatten();
    (resolved, by, given)
}

fn not_found<'a>() -> Found<'a> {
    (Resolved::NotFound, AnsweredBy::Fixed(Fixed::NotFound))
}

/// Page data, public files and routes for `path` (under the app's `basePath`); dynamic routes
/// only when `dynamic`.
fn files_and_routes<'a>(app: &'a App, path: &str, dynamic: bool) -> Option<Found<'a>> {
    let path = app.custom.in_app(path)?;
    if let Some(rest) = path.strip_prefix(DATA_PREFIX) {
        return Some((
            Resolved::PageData(rest.to_owned()),
            AnsweredBy::Fixed(Fixed::PageData),
        ));
    }
    if let Some(file) = app.public.get(path) {
        return Some((Resolved::Public(file), AnsweredBy::Fixed(Fixed::Public)));
    }
    match app.routes.lookup(path) {
        Lookup::Found(found) if dynamic || !found.route.is_dynamic() => Some(match found.value {
            Target::Handler(route) => (
                Resolved::Handler(route, found.params),
                AnsweredBy::Route(&route.handler.pattern, &route.handler.metrics),
            ),
            // Asked for directly, the error pages answer with their status (Next.js).
            Target::Page(page) if &*page.component.pattern == "/404" => {
                (Resolved::NotFound, AnsweredBy::Fixed(Fixed::NotFound))
            }
            Target::Page(page) if &*page.component.pattern == "/500" => (
                Resolved::ServerErrorPage,
                AnsweredBy::Route(&page.component.pattern, &page.component.metrics),
            ),
            Target::Page(page) => (
                Resolved::Page(page, path.to_owned()),
                AnsweredBy::Route(&page.component.pattern, &page.component.metrics),
            ),
        }),
        Lookup::Found(_) => None,
        Lookup::BadEscape => Some((Resolved::BadRequest, AnsweredBy::Fixed(Fixed::BadRequest))),
        Lookup::NotFound if dynamic => app
            .public
            .get(&format!("{}/index.html", path.trim_end_matches('/')))
            .map(|index| (Resolved::Public(index), AnsweredBy::Fixed(Fixed::Public))),
        Lookup::NotFound => None,
    }
}
