//! The request path, top-down: headers and redirects of the config → normalise → rewrites,
//! page data, public files, routes ([`super::resolve`]) → run the guest, and every failure
//! becomes a response and a log line. [`AccessLog`] makes that line, and
//! brings the in-flight gauge back down, even when the client goes away mid-request.

use std::sync::Arc;

use http::{HeaderValue, StatusCode};
use hyper::body::Incoming;

use super::access_log::{AccessLog, AnsweredBy, Fixed};
use super::resolve::{ERROR_PAGES, Resolved, custom_headers, resolve};
use super::{etag, request_id, request_shape};
use crate::app::{App, HandlerRoute, Live, Target};
use crate::request::shares::Client;
use crate::response::{self, Body, HostErrorBody};
use crate::static_pages::{self, route::Representation};
use routelet_router::Lookup;

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
            let (resolved, answered_by, rewritten) = resolve(app, &request);
            log.answered_by(answered_by);
            if let Some(target) = rewritten {
                // The route sees the path and query it was rewritten to, as in Next.js.
                let mut parts = request.uri().clone().into_parts();
                parts.path_and_query = Some(target);
                if let Ok(uri) = http::Uri::from_parts(parts) {
                    *request.uri_mut() = uri;
                }
            }
            let (method, takes_error_pages) =
                (request.method().clone(), resolved.takes_error_pages());
            let mut response = respond(app, resolved, request, &request_id, client).await;
            if takes_error_pages
                && response.extensions().get::<HostErrorBody>().is_some()
                && let Some(mut page) =
                    error_page(app, response.status(), &method, &request_id).await
            {
                // What the answer set stays set: the cookies that end a broken preview, say.
                for cookie in response.headers().get_all(http::header::SET_COOKIE) {
                    page.headers_mut()
                        .append(http::header::SET_COOKIE, cookie.clone());
                }
                response = page;
            }
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
        Resolved::CustomRedirect(Err(why)) | Resolved::Failed(why) => {
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
        Resolved::ServerErrorPage => response::page_failed(),
    }
}

/// The app's `pages/404` or `pages/500` as the answer with `status`, when it has that page and
/// the page renders; otherwise the host's own body stays.
async fn error_page(
    app: &App,
    status: StatusCode,
    method: &http::Method,
    request_id: &Arc<str>,
) -> Option<hyper::Response<Body>> {
    let (_, path) = ERROR_PAGES.iter().find(|(code, _)| *code == status)?;
    let Lookup::Found(found) = app.routes.lookup(path) else {
        return None;
    };
    let Target::Page(page) = found.value else {
        return None;
    };
    if &*page.component.pattern != *path {
        return None;
    }
    // No request headers: neither a validator (a 404 is never a 304) nor preview cookies.
    let mut response = page
        .respond(
            path,
            Representation::Html,
            if method == http::Method::HEAD {
                method
            } else {
                &http::Method::GET
            },
            &http::HeaderMap::new(),
            app.factors.preview.keys(),
            request_id,
        )
        .await;
    if response.status() != StatusCode::OK {
        return None;
    }
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.remove(http::header::ETAG);
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, max-age=0, must-revalidate"),
    );
    Some(response)
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
    let conditions = etag::Conditions::of(request.method(), request.headers());
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
        Ok(response) => etag::tag(&conditions, response).await,
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
