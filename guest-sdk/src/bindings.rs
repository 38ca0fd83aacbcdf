//! The one place `wit-bindgen` runs for the SDK: our own `routelet:route` imports, and the
//! `static-page` world a page exports.
//!
//! The raw bindings stay in private modules; the rest of the crate sees only functions and types
//! we own. `wasi:http` comes pre-generated from the `wasi` crate.

pub(crate) mod raw {
    wit_bindgen::generate!({
        path: "../wit",
        world: "routelet:route/route-imports",
        generate_all,
    });
}

/// The page world. Its export macro is public so that the section describing the exports is
/// only emitted in a crate that exports a page, never in an API route.
#[doc(hidden)]
pub mod page_raw {
    wit_bindgen::generate!({
        path: "../wit",
        world: "routelet:route/static-page",
        pub_export_macro: true,
        export_macro_name: "__export_static_page",
        default_bindings_module: "routelet_sdk::__private::page_raw",
        with: {
            "routelet:route/context@0.1.0": crate::bindings::raw::routelet::route::context,
            "routelet:route/sql@0.1.0": crate::bindings::raw::routelet::route::sql,
            "wasi:keyvalue/store@0.2.0-draft": crate::bindings::raw::wasi::keyvalue::store,
            "wasi:keyvalue/atomics@0.2.0-draft": crate::bindings::raw::wasi::keyvalue::atomics,
            "wasi:keyvalue/batch@0.2.0-draft": crate::bindings::raw::wasi::keyvalue::batch,
        },
    });
}

use raw::routelet::route::context::{self, ParamValue};
use raw::routelet::route::preview;

use crate::{Query, QueryValue};

/// The matched pattern and the route params, as the host decoded them.
///
/// Only callable inside a component: on other targets the generated imports are stubs.
pub(crate) fn route_context() -> (String, Query) {
    (
        context::matched_pattern(),
        params_to_query(context::params()),
    )
}

/// Route params as the SDK's [`Query`].
pub(crate) fn params_to_query(params: Vec<context::Param>) -> Query {
    params
        .into_iter()
        .map(|param| {
            let value = match param.value {
                ParamValue::Single(s) => QueryValue::Single(s),
                ParamValue::Multiple(list) => QueryValue::Multiple(list),
            };
            (param.name, value)
        })
        .collect()
}

/// The SDK's params as the WIT's.
pub(crate) fn query_to_params(params: Vec<(String, QueryValue)>) -> Vec<context::Param> {
    params
        .into_iter()
        .map(|(name, value)| context::Param {
            name,
            value: match value {
                QueryValue::Single(s) => ParamValue::Single(s),
                QueryValue::Multiple(list) => ParamValue::Multiple(list),
            },
        })
        .collect()
}

pub(crate) fn set_preview_data(data: &str, max_age: Option<u32>) -> Result<(), String> {
    preview::set_preview_data(data, max_age)
}

pub(crate) fn clear_preview_data() {
    preview::clear_preview_data()
}

pub(crate) fn revalidate(path: &str) -> Result<(), String> {
    preview::revalidate(path)
}

/// The raw `wasi:keyvalue` imports, wrapped by [`crate::kv`].
pub(crate) mod kv {
    pub(crate) use super::raw::wasi::keyvalue::{atomics, batch, store};
}

/// The raw `routelet:route/sql` import, wrapped by [`crate::sql`].
pub(crate) use raw::routelet::route::sql as sql_raw;
