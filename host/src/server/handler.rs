//! The request path, top-down: normalise → page data → public files → route → run the guest,
//! and every failure becomes a response and a log line. [`AccessLog`] makes that line, and
//! brings the in-flight gauge back down, even when the client goes away mid-request.

use std::sync::Arc;

use http::{HeaderValue, StatusCode};
use hyper::body::Incoming;
use routelet_router::{Lookup, Normalized, normalize};

use super::access_log::{AccessLog, AnsweredBy, Fixed};
use super::{request_id, request_shape};
use crate::app::custom_routes::Facts;
use crate::app::public_files::PublicFile;
use crate::app::{App, HandlerRoute, Live, Target};
use crate::request::shares::Client;
use crate::response::{self, Body};
use crate::static_pages::{self, route::Representation};

/// Where page data is served, as Next.js serves `/_next/data/<build-id>/`.
const DATA_PREFIX: &str = "/_routelet/data/";

/// Answers one request with the app that is current when it arrives.
pub async fn handle_live(
    live: Arc<Live>,
    request: hyper::Request<Incoming>,
    client: Client,
) -> hyper::Response<Body> {
    let app = live.current();
    let mut response = handle(&app, request, &client).await;
    if let Some(id) = &app.deployment_header
        && live.names_deployment()
    {
        response.headers_mut().insert(DEPLOYMENT_HEADER, id.clone());
    }
    response
}

/// Names the deployment that answered, so users and tests see which version served them.
pub const DEPLOYMENT_HEADER: &str = "x-routelet-deployment";

/// Answers one request; never fails, never panics the host on bad input.
pub async fn handle(
    app: &App,
    mut request: hyper::Request<Incoming>,
    client: &Client,
) -> hyper::Response<Body> {
    let request_id: Arc<str> = request_id::of(request.headers());
    let mut log = AccessLog::start(client.peer, &request, request_id.clone());
    let mut response = match request_shape::check(&mut request, client.local) {
        Ok(()) => {
            let added = custom_headers(app, &request);
            let (resolved, answered_by) = resolve(app, &request);
            log.answered_by(answered_by);
            let mut response = respond(app, resolved, request, &request_id, client).await;
            // Set before the route runs in Next.js, so whatever the answer set itself wins.
            for (name, value) in added {
                if !response.headers().contains_key(&name) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(refused) => {
            log.answered_by(AnsweredBy::Fixed(Fixed::BadRequest));
            if let Some(limit) = refused.limit {
                crate::metrics::get().limit_hit("-", limit);
                tracing::warn!(
                    request_id = %request_id,
                    peer = %client.peer,
                    limit,
                    "client limit hit: {}",
                    refused.status
                );
            }
            refused.response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    log.finish(response.status());
    response
}

/// The request's side of `has` and `missing`.
fn facts_of(request: &hyper::Request<Incoming>) -> Facts<'_> {
    Facts {
        headers: request.headers(),
        query: request.uri().query(),
        authority: request.uri().authority().map(|a| a.as_str()),
    }
}

/// What the matching `[[headers]]` entries add, the last one winning for a name.
fn custom_headers(
    app: &App,
    request: &hyper::Request<Incoming>,
) -> Vec<(http::HeaderName, HeaderValue)> {
    if app.custom.is_empty() {
        return Vec::new();
    }
    let mut added: Vec<(http::HeaderName, HeaderValue)> = Vec::new();
    for (name, value) in app
        .custom
        .headers_for(request.uri().path(), &facts_of(request))
    {
        added.retain(|(held, _)| *held != name);
        added.push((name, value));
    }
    added
}

/// What a request resolved to, before anything runs.
enum Resolved<'a> {
    Redirect(String),
    /// A `[[redirects]]` entry: its status and location, or why its destination failed.
    CustomRedirect(Result<(StatusCode, String), String>),
    PageData(String),
    Public(&'a PublicFile),
    Handler(&'a HandlerRoute, routelet_router::Params),
    Page(&'a Arc<static_pages::route::PageRoute>, String),
    BadRequest,
    NotFound,
}

/// Normalises the path and finds what answers it.
fn resolve<'a>(app: &'a App, request: &hyper::Request<Incoming>) -> (Resolved<'a>, AnsweredBy<'a>) {
    let path = match normalize(request.uri().path(), request.uri().query()) {
        Normalized::Redirect(location) => {
            return (
                Resolved::Redirect(location),
                AnsweredBy::Fixed(Fixed::Redirect),
            );
        }
        Normalized::Clean(path) => path,
    };
    if !app.custom.is_empty()
        && let Some(redirect) =
            app.custom
                .redirect_for(path, request.uri().query(), &facts_of(request))
    {
        return (
            Resolved::CustomRedirect(redirect),
            AnsweredBy::Fixed(Fixed::Redirect),
        );
    }
    if let Some(rest) = path.strip_prefix(DATA_PREFIX) {
        return (
            Resolved::PageData(rest.to_owned()),
            AnsweredBy::Fixed(Fixed::PageData),
        );
    }
    if let Some(file) = app.public.get(path) {
        return (Resolved::Public(file), AnsweredBy::Fixed(Fixed::Public));
    }
    match app.routes.lookup(path) {
        Lookup::Found(found) => match found.value {
            Target::Handler(route) => (
                Resolved::Handler(route, found.params),
                AnsweredBy::Route(&route.handler.pattern, &route.handler.metrics),
            ),
            Target::Page(page) => (
                Resolved::Page(page, path.to_owned()),
                AnsweredBy::Route(&page.component.pattern, &page.component.metrics),
            ),
        },
        Lookup::BadEscape => (Resolved::BadRequest, AnsweredBy::Fixed(Fixed::BadRequest)),
        Lookup::NotFound => match app
            .public
            .get(&format!("{}/index.html", path.trim_end_matches('/')))
        {
            Some(index) => (Resolved::Public(index), AnsweredBy::Fixed(Fixed::Public)),
            None => (Resolved::NotFound, AnsweredBy::Fixed(Fixed::NotFound)),
        },
    }
}

/// Produces the answer to what the request resolved to.
async fn respond(
    app: &App,
    resolved: Resolved<'_>,
    request: hyper::Request<Incoming>,
    request_id: &Arc<str>,
    client: &Client,
) -> hyper::Response<Body> {
    match resolved {
        Resolved::Redirect(location) => response::permanent_redirect(&location),
        Resolved::CustomRedirect(Ok((status, location))) => response::redirect(status, &location),
        Resolved::CustomRedirect(Err(why)) => {
            tracing::error!(request_id = %request_id, "{why}");
            response::text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        Resolved::PageData(rest) => page_data(app, &rest, &request, request_id).await,
        Resolved::Public(file) => file.respond(request.method(), request.headers()).await,
        Resolved::Handler(route, params) => {
            run_handler(app, route, params, request, request_id, client).await
        }
        Resolved::Page(page, path) => {
            page.respond(
                &path,
                Representation::Html,
                request.method(),
                request.headers(),
                app.factors.preview.keys(),
                request_id,
            )
            .await
        }
        Resolved::BadRequest => response::text(StatusCode::BAD_REQUEST, "Bad Request"),
        Resolved::NotFound => response::not_found(),
    }
}

/// `/_routelet/data/<build-id>/<path>.json`: a page's props.
async fn page_data(
    app: &App,
    rest: &str,
    request: &hyper::Request<Incoming>,
    request_id: &Arc<str>,
) -> hyper::Response<Body> {
    let not_found = response::not_found;
    let Some((build_id, file)) = rest.split_once('/') else {
        return not_found();
    };
    if app.build_id.as_deref() != Some(build_id) {
        return not_found();
    }
    let Some(stem) = file.strip_suffix(".json") else {
        return not_found();
    };
    let path = static_pages::paths::path_of_stem(stem);
    match app.routes.lookup(&path) {
        Lookup::Found(found) => match found.value {
            Target::Page(page) => {
                page.respond(
                    &path,
                    Representation::Json,
                    request.method(),
                    request.headers(),
                    app.factors.preview.keys(),
                    request_id,
                )
                .await
            }
            Target::Handler(_) => not_found(),
        },
        _ => not_found(),
    }
}

/// Runs an API route; a failure becomes its status with a plain-text reason.
async fn run_handler(
    app: &App,
    route: &HandlerRoute,
    params: routelet_router::Params,
    request: hyper::Request<Incoming>,
    request_id: &Arc<str>,
    client: &Client,
) -> hyper::Response<Body> {
    let outcome = crate::request::run(
        &app.engine.wasm,
        &app.factors,
        &route.handler,
        params,
        request_id.clone(),
        client,
        request,
    )
    .await;
    match outcome {
        Ok(response) => response,
        Err(failure) => {
            let status = failure.status();
            let mut response = response::text(status, status.canonical_reason().unwrap_or("Error"));
            if matches!(
                status,
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
            ) {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            if matches!(
                status,
                StatusCode::PAYLOAD_TOO_LARGE
                    | StatusCode::REQUEST_TIMEOUT
                    | StatusCode::BAD_REQUEST
            ) {
                // The rest of the body is never read, so the connection cannot carry another
                // request; saying so keeps a pooling client from sending one into the close.
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }
}
