//! The one place `wit-bindgen` runs for the SDK: our own `routelet:route` imports.
//!
//! The raw bindings stay in this private module; the rest of the crate sees only
//! [`route_context`], which hands back types we own. `wasi:http` comes pre-generated from the
//! `wasi` crate.

mod raw {
    wit_bindgen::generate!({
        path: "../wit",
        world: "routelet:route/route-imports",
        generate_all,
    });
}

use raw::routelet::route::context::{self, ParamValue};

use crate::{Query, QueryValue};

/// The matched pattern and the route params, as the host decoded them.
///
/// Only callable inside a component: on other targets the generated imports are stubs.
pub(crate) fn route_context() -> (String, Query) {
    let params = context::params()
        .into_iter()
        .map(|param| {
            let value = match param.value {
                ParamValue::Single(s) => QueryValue::Single(s),
                ParamValue::Multiple(list) => QueryValue::Multiple(list),
            };
            (param.name, value)
        })
        .collect();
    (context::matched_pattern(), params)
}

/// The raw `wasi:keyvalue` imports, wrapped by [`crate::kv`].
pub(crate) mod kv {
    pub(crate) use super::raw::wasi::keyvalue::{atomics, batch, store};
}

/// The raw `routelet:route/sql` import, wrapped by [`crate::sql`].
pub(crate) use raw::routelet::route::sql as sql_raw;
