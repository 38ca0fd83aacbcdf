//! The admin API, on its own listener and never on the public one: deploys, versions,
//! rollback, metrics and health. Every call needs the bearer token.
//!
//! | Method and path            | Does                                                    |
//! |----------------------------|---------------------------------------------------------|
//! | `POST /deployments`        | deploy a bundle (gzip-compressed tar of a dist folder)  |
//! | `GET /deployments`         | list kept deployments, newest first                     |
//! | `PUT /routes?pattern=P`    | replace or add one route's component (the body)         |
//! | `DELETE /routes?pattern=P` | remove one route                                        |
//! | `POST /rollback[?id=ID]`   | serve an older deployment again                         |
//! | `GET /metrics`             | Prometheus text format                                  |
//! | `GET /healthz`, `/readyz`  | alive; serving a deployment                             |

pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode, header};
use hyper::body::Incoming;
use serde::Serialize;

use crate::app::Live;
use crate::deploy::upload::{Upload, UploadError};
use crate::deploy::{DeployError, Deployer};
use crate::response::{self as responses, Body};
use token::AdminToken;

/// The largest upload the admin API reads: a bundle or one component.
pub const MAX_UPLOAD: u64 = 512 << 20;

/// The admin API's state.
pub struct Admin {
    token: AdminToken,
    deployer: Arc<Deployer>,
    live: Arc<Live>,
}

impl Admin {
    /// An admin API over a deployer and the app it swaps.
    pub fn new(token: AdminToken, deployer: Arc<Deployer>, live: Arc<Live>) -> Arc<Self> {
        Arc::new(Self {
            token,
            deployer,
            live,
        })
    }

    /// Where the token lives, for the start-up message.
    pub fn token_path(&self) -> &std::path::Path {
        &self.token.path
    }

    /// Whether this start generated the token.
    pub fn token_generated(&self) -> bool {
        self.token.generated
    }

    /// Answers one admin request; a missing or wrong token gets 401 whatever the path.
    pub async fn handle(
        self: Arc<Self>,
        request: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> hyper::Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let authorization = request.headers().get(header::AUTHORIZATION);
        if !self.token.accepts(authorization.map(HeaderValue::as_bytes)) {
            tracing::warn!(%peer, "admin: {method} {path} refused: missing or wrong token");
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "a valid admin token is required: Authorization: Bearer TOKEN",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        let response = self.route(request, &method, &path).await;
        tracing::info!(%peer, "admin: {method} {path} {}", response.status().as_u16());
        response
    }

    async fn route(
        &self,
        request: hyper::Request<Incoming>,
        method: &Method,
        path: &str,
    ) -> hyper::Response<Body> {
        let query = request.uri().query().unwrap_or("").to_owned();
        match (method, path) {
            (&Method::GET, "/healthz") => responses::text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/readyz") => {
                let app = self.live.current();
                let id = app.deployment().unwrap_or("(dist folder)");
                let fleet = match self.deployer.control() {
                    None => String::new(),
                    Some(control) => match control.down_reason() {
                        None => format!(
                            "; control plane {} up, generation {}",
                            control.shown_url,
                            crate::metrics::get().active_generation.get()
                        ),
                        Some(why) => format!(
                            "; control plane {} unreachable {why}: serving the local active \
                             deployment, deploys are refused",
                            control.shown_url
                        ),
                    },
                };
                responses::text(StatusCode::OK, &format!("ready: {id}{fleet}\n"))
            }
            (&Method::GET, "/metrics") => {
                let mut response =
                    hyper::Response::new(responses::full(crate::metrics::get().encode()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                response
            }
            (&Method::GET, "/deployments") => match self.deployer.list().await {
                Ok(list) => json(StatusCode::OK, &list),
                Err(e) => error(e.status(), &e.to_string()),
            },
            (&Method::POST, "/deployments") => match self.receive(request).await {
                Ok(bundle) => outcome(self.deployer.deploy_bundle(bundle).await),
                Err(response) => response,
            },
            (&Method::PUT, "/routes") => {
                let Some(pattern) = query_value(&query, "pattern") else {
                    return error(StatusCode::BAD_REQUEST, "missing ?pattern=/api/...");
                };
                match self.receive(request).await {
                    Ok(wasm) => outcome(self.deployer.deploy_route(&pattern, wasm).await),
                    Err(response) => response,
                }
            }
            (&Method::DELETE, "/routes") => {
                let Some(pattern) = query_value(&query, "pattern") else {
                    return error(StatusCode::BAD_REQUEST, "missing ?pattern=/api/...");
                };
                outcome(self.deployer.undeploy_route(&pattern).await)
            }
            (&Method::POST, "/rollback") => {
                let id = query_value(&query, "id");
                outcome(self.deployer.rollback(id.as_deref()).await)
            }
            (_, "/healthz" | "/readyz" | "/metrics" | "/deployments" | "/routes" | "/rollback") => {
                error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            }
            _ => error(StatusCode::NOT_FOUND, "no such admin endpoint"),
        }
    }

    /// Writes an upload to disk as it arrives; a body cut off or too large changes nothing and
    /// says why.
    async fn receive(
        &self,
        request: hyper::Request<Incoming>,
    ) -> Result<Upload, hyper::Response<Body>> {
        Upload::receive(request.into_body(), self.deployer.upload_dir(), MAX_UPLOAD)
            .await
            .map_err(|refused| {
                tracing::warn!("admin: {refused}");
                let status = match refused {
                    UploadError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                    UploadError::CutOff(_) => StatusCode::BAD_REQUEST,
                    UploadError::Disk(..) => StatusCode::INSUFFICIENT_STORAGE,
                };
                error(status, &refused.to_string())
            })
    }
}

fn outcome(result: Result<crate::deploy::Deployed, DeployError>) -> hyper::Response<Body> {
    match result {
        Ok(deployed) => json(StatusCode::OK, &deployed),
        Err(refused) => {
            tracing::warn!("admin: refused: {refused}");
            error(refused.status(), &refused.to_string())
        }
    }
}

fn json(status: StatusCode, value: &impl Serialize) -> hyper::Response<Body> {
    let body = serde_json::to_vec(value).expect("admin responses serialize");
    let mut response = hyper::Response::new(responses::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, message: &str) -> hyper::Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

/// One decoded query parameter.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        (decode(key)? == name).then(|| decode(value)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_values() {
        assert_eq!(
            query_value("pattern=%2Fapi%2Fusers%2F%5Bid%5D", "pattern").as_deref(),
            Some("/api/users/[id]")
        );
        assert_eq!(query_value("a=1&id=x", "id").as_deref(), Some("x"));
        assert_eq!(query_value("a=1", "id"), None);
    }
}
