//! Write Next.js-style API routes in Rust; each route file compiles to a `wasi:http` component.
//!
//! A route file under `pages/api/` is its URL, as in Next.js: `pages/api/users/[id].rs` answers
//! `/api/users/42`. The file declares one function, `handler`, that takes the [`Request`] and
//! returns anything that is [`IntoResponse`], usually [`Result`]`<`[`Response`]`>`:
//!
//! ```
//! // pages/api/users/[id].rs
//! use routelet_sdk::{Error, Request, Response, Result};
//!
//! pub fn handler(req: Request) -> Result {
//!     if req.method() != "GET" {
//!         return Err(Error::method_not_allowed(&["GET"]));
//!     }
//!     let id = req.param("id").unwrap_or_default();
//!     Ok(Response::json(&serde_json::json!({ "id": id, "query": req.query() })))
//! }
//!
//! // What `routelet build` generates around the file; you never write this part.
//! routelet_sdk::export_route!(handler);
//!
//! // A handler is a plain function, so it can be tested natively with `cargo test`:
//! # fn main() {
//! let req = Request::builder()
//!     .url("/api/users/42?tab=posts")
//!     .param("id", "42")
//!     .build()
//!     .unwrap();
//! let res = handler(req).unwrap();
//! assert_eq!(res.status_code(), 200);
//! assert_eq!(
//!     res.into_body_bytes().unwrap(),
//!     br#"{"id":"42","query":{"id":"42","tab":"posts"}}"#
//! );
//! # }
//! ```
//!
//! # What Next.js does, and so does this
//!
//! - [`Request::query`] is the query string parsed like Node's `querystring` with the route
//!   params laid over it; [`Request::query_as`] reads it into your own type.
//! - The body is read and parsed by content type before the handler runs
//!   ([`Request::body`], [`Request::json`], [`Request::form`]): over the limit (default `1mb`)
//!   is `413 Body exceeded 1mb limit`, invalid JSON is `400 Invalid JSON`, and the handler never
//!   sees either. A route changes that with `pub const CONFIG: Config = ...` ([`Config`]).
//! - [`Response::json`] sets the JSON content type, [`Response::redirect`] is a 307, an
//!   [`Error`] is its status and message, and there is no automatic 405: the handler decides.
//! - A handler that panics traps the component; the host answers 500 and keeps serving.
//!
//! # The pieces
//!
//! - Reading the request: [`Request`] (method, headers, [`Query`], params, cookies).
//! - Consuming the body: [`Body`], or [`BodyReader`] to stream it when [`Config::body_parser`]
//!   is off.
//! - Answering: [`Response`], [`Cookie`], and [`IntoResponse`] for whatever a handler returns.
//! - Data: [`kv`] (key-value stores, `wasi:keyvalue`) and [`sql`] (SQL databases), each
//!   granted per route in `routelet.toml`.
//! - Calling other services: [`fetch`], allowed per route by `allowed_outbound_hosts` in
//!   `routelet.toml`.
//! - Wiring: [`export_route!`] turns the handler into the component's `wasi:http` export and
//!   fetches the route context (matched pattern, params) from the host through the
//!   `routelet:route/context` import, so no client can forge it with headers.

#![deny(missing_docs)]

mod bindings;
mod body;
mod config;
mod cookie;
mod de;
mod error;
mod fetch;
mod headers;
pub mod kv;
pub mod page;
mod preview;
mod query;
mod request;
mod response;
mod runtime;
mod shape;
pub mod sql;

pub use body::{Body, BodyReader};
pub use config::Config;
pub use cookie::{Cookie, SameSite};
pub use error::{Error, Result};
pub use fetch::{FetchError, FetchErrorKind, FetchRequest, FetchResponse, fetch};
pub use headers::Headers;
pub use preview::{clear_preview_data, revalidate, set_preview_data};
pub use query::{Query, QueryValue};
pub use request::{Request, RequestBuilder};
pub use response::{IntoResponse, Response};

/// Makes this crate a route component: exports `wasi:http/incoming-handler` and calls
/// `handler` for every request, with the route's [`Config`] if one is given.
///
/// `routelet build` writes this line for you, one crate per route file:
///
/// ```ignore
/// #[path = "/path/to/app/pages/api/upload.rs"]
/// mod route;
/// routelet_sdk::export_route!(route::handler);               // no CONFIG in the file
/// routelet_sdk::export_route!(route::handler, route::CONFIG); // with `pub const CONFIG`
/// ```
///
/// `handler` is any `fn(Request) -> impl IntoResponse`. Use the macro once per crate.
#[macro_export]
macro_rules! export_route {
    ($handler:path $(,)?) => {
        $crate::export_route!($handler, $crate::Config::DEFAULT);
    };
    ($handler:path, $config:path $(,)?) => {
        #[doc(hidden)]
        struct __RouteletRoute;

        impl $crate::__private::Guest for __RouteletRoute {
            fn handle(
                request: $crate::__private::IncomingRequest,
                response_out: $crate::__private::ResponseOutparam,
            ) {
                $crate::__private::serve(request, response_out, &$config, $handler)
            }
        }

        $crate::__private::export_proxy!(__RouteletRoute);
    };
}

/// Makes this crate a static page component: exports `routelet:route/page` with the file's
/// `render`, `get_static_props` and `get_static_paths`.
///
/// `routelet build` writes this line for you for every file under `pages/` (outside
/// `pages/api/`) that declares `pub fn render`; see [`page`] for what the functions look like.
///
/// ```ignore
/// routelet_sdk::export_page!(render: route::render);
/// routelet_sdk::export_page!(render: route::render, props: route::get_static_props);
/// routelet_sdk::export_page!(
///     render: route::render,
///     props: route::get_static_props,
///     paths: route::get_static_paths,
/// );
/// ```
#[macro_export]
macro_rules! export_page {
    (render: $render:path $(,)?) => {
        $crate::export_page!(@impl
            paths: { $crate::page::glue::no_paths() },
            props: |_context: $crate::page::StaticContext| $crate::page::glue::no_props(),
            render: |_props: &str| $crate::page::glue::html($render()),
        );
    };
    (render: $render:path, props: $props:path $(,)?) => {
        $crate::export_page!(@impl
            paths: { $crate::page::glue::no_paths() },
            props: |context: $crate::page::StaticContext| $crate::page::glue::props($props(context)),
            render: |props: &str| $crate::page::glue::render(props, $render),
        );
    };
    (render: $render:path, props: $props:path, paths: $paths:path $(,)?) => {
        $crate::export_page!(@impl
            paths: { $crate::page::glue::paths($paths()) },
            props: |context: $crate::page::StaticContext| $crate::page::glue::props($props(context)),
            render: |props: &str| $crate::page::glue::render(props, $render),
        );
    };
    (@impl paths: $paths:block, props: $props:expr, render: $render:expr $(,)?) => {
        #[doc(hidden)]
        struct __RouteletPage;

        impl $crate::page::glue::Guest for __RouteletPage {
            fn get_static_paths() -> ::std::result::Result<$crate::page::glue::StaticPaths, String> {
                $paths
            }

            fn get_static_props(
                context: $crate::page::glue::PropsContext,
            ) -> ::std::result::Result<$crate::page::glue::PropsResult, String> {
                let context = $crate::page::glue::context(context);
                #[allow(clippy::redundant_closure_call)]
                ($props)(context)
            }

            fn render(props: String) -> ::std::result::Result<String, String> {
                #[allow(clippy::redundant_closure_call)]
                ($render)(&props)
            }
        }

        $crate::__private::page_raw::__export_static_page!(
            __RouteletPage with_types_in $crate::__private::page_raw
        );
    };
}

/// What [`export_route!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::page_raw;
    pub use crate::runtime::serve;

    /// What a route of per-method functions answers a method it has none for: `OPTIONS` is a
    /// 204 and any other a 405, both naming the methods it has in `Allow`.
    pub fn other_method(method: &str, allowed: &str) -> crate::Response {
        let response = if method == "OPTIONS" {
            crate::Response::new().status(204)
        } else {
            crate::Response::text("Method Not Allowed").status(405)
        };
        response.header("allow", allowed)
    }
    pub use wasi::exports::http::incoming_handler::Guest;
    pub use wasi::http::proxy::export as export_proxy;
    pub use wasi::http::types::{IncomingRequest, ResponseOutparam};
}
